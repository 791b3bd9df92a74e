// ctnetlink numbers from <linux/netfilter/nfnetlink_conntrack.h> and friends, the ones the client
// speaks. Names follow the kernel header so they can be grepped against it.

export const NFNL_SUBSYS_CTNETLINK = 1;
export const NFNL_SUBSYS_CTNETLINK_EXP = 2;

export const IPCTNL_MSG_CT_NEW = 0;
export const IPCTNL_MSG_CT_GET = 1;
export const IPCTNL_MSG_CT_DELETE = 2;
export const IPCTNL_MSG_CT_GET_CTRZERO = 3;
export const IPCTNL_MSG_CT_GET_STATS_CPU = 4;
export const IPCTNL_MSG_CT_GET_STATS = 5;

export const IPCTNL_MSG_EXP_NEW = 0;
export const IPCTNL_MSG_EXP_GET = 1;
export const IPCTNL_MSG_EXP_DELETE = 2;
export const IPCTNL_MSG_EXP_GET_STATS_CPU = 3;

// enum ctattr_type
export const CTA_TUPLE_ORIG = 1;
export const CTA_TUPLE_REPLY = 2;
export const CTA_STATUS = 3;
export const CTA_PROTOINFO = 4;
export const CTA_HELP = 5;
export const CTA_NAT_SRC = 6;
export const CTA_TIMEOUT = 7;
export const CTA_MARK = 8;
export const CTA_COUNTERS_ORIG = 9;
export const CTA_COUNTERS_REPLY = 10;
export const CTA_USE = 11;
export const CTA_ID = 12;
export const CTA_NAT_DST = 13;
export const CTA_ZONE = 18;
export const CTA_TIMESTAMP = 20;
export const CTA_MARK_MASK = 21;
export const CTA_LABELS = 22;
export const CTA_LABELS_MASK = 23;
export const CTA_FILTER = 25;
export const CTA_STATUS_MASK = 26;

// enum ctattr_help, ctattr_counters, ctattr_tstamp
export const CTA_HELP_NAME = 1;
export const CTA_COUNTERS_PACKETS = 1;
export const CTA_COUNTERS_BYTES = 2;
export const CTA_TIMESTAMP_START = 1;
export const CTA_TIMESTAMP_STOP = 2;

// enum ctattr_nat, ctattr_protonat
export const CTA_NAT_V4_MINIP = 1;
export const CTA_NAT_V4_MAXIP = 2;
export const CTA_NAT_PROTO = 3;
export const CTA_NAT_V6_MINIP = 4;
export const CTA_NAT_V6_MAXIP = 5;
export const CTA_PROTONAT_PORT_MIN = 1;
export const CTA_PROTONAT_PORT_MAX = 2;

// enum ctattr_filter, and the CTA_FILTER_F_* bits of nf_conntrack_netlink.c
export const CTA_FILTER_ORIG_FLAGS = 1;
export const CTA_FILTER_REPLY_FLAGS = 2;
export const CTA_FILTER_F_CTA_IP_SRC = 1 << 0;
export const CTA_FILTER_F_CTA_IP_DST = 1 << 1;
export const CTA_FILTER_F_CTA_TUPLE_ZONE = 1 << 2;
export const CTA_FILTER_F_CTA_PROTO_NUM = 1 << 3;
export const CTA_FILTER_F_CTA_PROTO_SRC_PORT = 1 << 4;
export const CTA_FILTER_F_CTA_PROTO_DST_PORT = 1 << 5;

// enum ctattr_expect (NFNL_SUBSYS_CTNETLINK_EXP)
export const CTA_EXPECT_MASTER = 1;
export const CTA_EXPECT_TUPLE = 2;
export const CTA_EXPECT_MASK = 3;
export const CTA_EXPECT_TIMEOUT = 4;
export const CTA_EXPECT_ID = 5;
export const CTA_EXPECT_HELP_NAME = 6;
export const CTA_EXPECT_ZONE = 7;
export const CTA_EXPECT_FLAGS = 8;
export const CTA_EXPECT_CLASS = 9;
/** NF_CT_EXPECT_* flags, by bit number. */
export const EXPECT_FLAG_BITS = ['PERMANENT', 'INACTIVE', 'USERSPACE'] as const;

// enum ctattr_stats_cpu, ctattr_stats_global
export const CTA_STATS_FOUND = 2;
export const CTA_STATS_INVALID = 4;
export const CTA_STATS_INSERT = 8;
export const CTA_STATS_INSERT_FAILED = 9;
export const CTA_STATS_DROP = 10;
export const CTA_STATS_EARLY_DROP = 11;
export const CTA_STATS_ERROR = 12;
export const CTA_STATS_SEARCH_RESTART = 13;
export const CTA_STATS_CLASH_RESOLVE = 14;
export const CTA_STATS_CHAIN_TOOLONG = 15;
export const CTA_STATS_GLOBAL_ENTRIES = 1;
export const CTA_STATS_GLOBAL_MAX_ENTRIES = 2;

export const CTA_TUPLE_IP = 1;
export const CTA_TUPLE_PROTO = 2;
export const CTA_TUPLE_ZONE = 3;

export const CTA_IP_V4_SRC = 1;
export const CTA_IP_V4_DST = 2;
export const CTA_IP_V6_SRC = 3;
export const CTA_IP_V6_DST = 4;

export const CTA_PROTO_NUM = 1;
export const CTA_PROTO_SRC_PORT = 2;
export const CTA_PROTO_DST_PORT = 3;
export const CTA_PROTO_ICMP_ID = 4;
export const CTA_PROTO_ICMP_TYPE = 5;
export const CTA_PROTO_ICMP_CODE = 6;
export const CTA_PROTO_ICMPV6_ID = 7;
export const CTA_PROTO_ICMPV6_TYPE = 8;
export const CTA_PROTO_ICMPV6_CODE = 9;

export const CTA_PROTOINFO_TCP = 1;
export const CTA_PROTOINFO_DCCP = 2;
export const CTA_PROTOINFO_SCTP = 3;
export const CTA_PROTOINFO_TCP_STATE = 1;
export const CTA_PROTOINFO_DCCP_STATE = 1;
/** The entry's DCCP role (u8): a DCCP tracker (Linux < 6.17) refuses a state without it (EINVAL). */
export const CTA_PROTOINFO_DCCP_ROLE = 2;
/** CT_DCCP_ROLE_CLIENT: the original direction's sender is the client. */
export const DCCP_ROLE_CLIENT = 0;
export const CTA_PROTOINFO_SCTP_STATE = 1;
export const CTA_PROTOINFO_SCTP_VTAG_ORIGINAL = 2;
export const CTA_PROTOINFO_SCTP_VTAG_REPLY = 3;

export const AF_INET = 2;
export const AF_INET6 = 10;

/** IPS_* status bits (nf_conntrack_common.h), by bit number. */
export const STATUS_BITS = [
  'EXPECTED', 'SEEN_REPLY', 'ASSURED', 'CONFIRMED', 'SRC_NAT', 'DST_NAT', 'SEQ_ADJUST', 'SRC_NAT_DONE',
  'DST_NAT_DONE', 'DYING', 'FIXED_TIMEOUT', 'TEMPLATE', 'UNTRACKED', 'HELPER', 'OFFLOAD', 'HW_OFFLOAD',
] as const;

export type StatusFlag = (typeof STATUS_BITS)[number];

/** Bits a client may set on create (the rest are IPS_UNCHANGEABLE_MASK or kernel-owned). */
export const SETTABLE_STATUS = new Set<string>(['SEEN_REPLY', 'ASSURED', 'FIXED_TIMEOUT']);

export const TCP_STATES = [
  'NONE', 'SYN_SENT', 'SYN_RECV', 'ESTABLISHED', 'FIN_WAIT', 'CLOSE_WAIT', 'LAST_ACK', 'TIME_WAIT', 'CLOSE', 'SYN_SENT2',
] as const;

export const SCTP_STATES = [
  'NONE', 'CLOSED', 'COOKIE_WAIT', 'COOKIE_ECHOED', 'ESTABLISHED', 'SHUTDOWN_SENT', 'SHUTDOWN_RECD',
  'SHUTDOWN_ACK_SENT', 'HEARTBEAT_SENT', 'HEARTBEAT_ACKED',
] as const;

export const DCCP_STATES = [
  'NONE', 'REQUEST', 'RESPOND', 'PARTOPEN', 'OPEN', 'CLOSEREQ', 'CLOSING', 'TIMEWAIT', 'IGNORE', 'INVALID',
] as const;

/** State names by protocol, indexed by the kernel's state number. */
export const STATE_NAMES = { tcp: TCP_STATES, sctp: SCTP_STATES, dccp: DCCP_STATES } as const;
