// The ctnetlink attribute tables: one per nest, each attribute with its number (constants.ts, named
// as in the kernel header), the kind and byte order of its payload, and its inner table. The
// decoders read through these; attributes not declared here are skipped knowingly.
import { NestTable } from '../netlink/attributes.ts';
import * as C from './constants.ts';

export const IP = new NestTable('CTA_TUPLE_IP', {
  [C.CTA_IP_V4_SRC]: ['source address', 'binary', 4],
  [C.CTA_IP_V4_DST]: ['destination address', 'binary', 4],
  [C.CTA_IP_V6_SRC]: ['source address', 'binary', 16],
  [C.CTA_IP_V6_DST]: ['destination address', 'binary', 16],
});

export const PROTO = new NestTable('CTA_TUPLE_PROTO', {
  [C.CTA_PROTO_NUM]: ['protocol number', 'u8'],
  [C.CTA_PROTO_SRC_PORT]: ['source port', 'be16'],
  [C.CTA_PROTO_DST_PORT]: ['destination port', 'be16'],
  [C.CTA_PROTO_ICMP_ID]: ['ICMP id', 'be16'],
  [C.CTA_PROTO_ICMP_TYPE]: ['ICMP type', 'u8'],
  [C.CTA_PROTO_ICMP_CODE]: ['ICMP code', 'u8'],
  [C.CTA_PROTO_ICMPV6_ID]: ['ICMPv6 id', 'be16'],
  [C.CTA_PROTO_ICMPV6_TYPE]: ['ICMPv6 type', 'u8'],
  [C.CTA_PROTO_ICMPV6_CODE]: ['ICMPv6 code', 'u8'],
});

export const TUPLE = new NestTable('tuple', {
  [C.CTA_TUPLE_IP]: ['CTA_TUPLE_IP', IP],
  [C.CTA_TUPLE_PROTO]: ['CTA_TUPLE_PROTO', PROTO],
  [C.CTA_TUPLE_ZONE]: ['CTA_TUPLE_ZONE', 'be16'],
});

/** The per-protocol state nests: only the state byte is read (attribute 1 in each). */
export const STATE = new NestTable('protocol info', { [C.CTA_PROTOINFO_TCP_STATE]: ['state', 'u8'] });

export const PROTOINFO = new NestTable('CTA_PROTOINFO', {
  [C.CTA_PROTOINFO_TCP]: ['CTA_PROTOINFO_TCP', STATE],
  [C.CTA_PROTOINFO_DCCP]: ['CTA_PROTOINFO_DCCP', STATE],
  [C.CTA_PROTOINFO_SCTP]: ['CTA_PROTOINFO_SCTP', STATE],
});

export const COUNTERS = new NestTable('counters', {
  [C.CTA_COUNTERS_PACKETS]: ['packets', 'be64'],
  [C.CTA_COUNTERS_BYTES]: ['bytes', 'be64'],
});

export const TIMESTAMP = new NestTable('CTA_TIMESTAMP', {
  [C.CTA_TIMESTAMP_START]: ['start', 'be64'],
  [C.CTA_TIMESTAMP_STOP]: ['stop', 'be64'],
});

export const HELP = new NestTable('CTA_HELP', { [C.CTA_HELP_NAME]: ['name', 'string'] });

/** A conntrack entry (IPCTNL_MSG_CT_NEW of a dump, a get or an event). */
export const CTA = new NestTable('conntrack entry', {
  [C.CTA_TUPLE_ORIG]: ['CTA_TUPLE_ORIG', TUPLE],
  [C.CTA_TUPLE_REPLY]: ['CTA_TUPLE_REPLY', TUPLE],
  [C.CTA_STATUS]: ['CTA_STATUS', 'be32'],
  [C.CTA_PROTOINFO]: ['CTA_PROTOINFO', PROTOINFO],
  [C.CTA_HELP]: ['CTA_HELP', HELP],
  [C.CTA_TIMEOUT]: ['CTA_TIMEOUT', 'be32'],
  [C.CTA_MARK]: ['CTA_MARK', 'be32'],
  [C.CTA_COUNTERS_ORIG]: ['CTA_COUNTERS_ORIG', COUNTERS],
  [C.CTA_COUNTERS_REPLY]: ['CTA_COUNTERS_REPLY', COUNTERS],
  [C.CTA_USE]: ['CTA_USE', 'be32'],
  [C.CTA_ID]: ['CTA_ID', 'be32'],
  [C.CTA_ZONE]: ['CTA_ZONE', 'be16'],
  [C.CTA_TIMESTAMP]: ['CTA_TIMESTAMP', TIMESTAMP],
  [C.CTA_LABELS]: ['CTA_LABELS', 'binary'],
});

/** One CPU's statistics (IPCTNL_MSG_CT_GET_STATS_CPU); the counters the kernel no longer keeps are not read. */
export const STATS_CPU = new NestTable('CTA_STATS', {
  [C.CTA_STATS_FOUND]: ['found', 'be32'],
  [C.CTA_STATS_INVALID]: ['invalid', 'be32'],
  [C.CTA_STATS_INSERT]: ['insert', 'be32'],
  [C.CTA_STATS_INSERT_FAILED]: ['insertFailed', 'be32'],
  [C.CTA_STATS_DROP]: ['drop', 'be32'],
  [C.CTA_STATS_EARLY_DROP]: ['earlyDrop', 'be32'],
  [C.CTA_STATS_ERROR]: ['error', 'be32'],
  [C.CTA_STATS_SEARCH_RESTART]: ['searchRestart', 'be32'],
  [C.CTA_STATS_CLASH_RESOLVE]: ['clashResolve', 'be32'],
  [C.CTA_STATS_CHAIN_TOOLONG]: ['chainTooLong', 'be32'],
});

/** The table's size (IPCTNL_MSG_CT_GET_STATS). */
export const STATS_GLOBAL = new NestTable('CTA_STATS_GLOBAL', {
  [C.CTA_STATS_GLOBAL_ENTRIES]: ['entries', 'be32'],
  [C.CTA_STATS_GLOBAL_MAX_ENTRIES]: ['max entries', 'be32'],
});

/** An expectation (IPCTNL_MSG_EXP_NEW of a dump). */
export const EXPECT = new NestTable('expectation', {
  [C.CTA_EXPECT_MASTER]: ['CTA_EXPECT_MASTER', TUPLE],
  [C.CTA_EXPECT_TUPLE]: ['CTA_EXPECT_TUPLE', TUPLE],
  [C.CTA_EXPECT_MASK]: ['CTA_EXPECT_MASK', TUPLE],
  [C.CTA_EXPECT_TIMEOUT]: ['CTA_EXPECT_TIMEOUT', 'be32'],
  [C.CTA_EXPECT_ID]: ['CTA_EXPECT_ID', 'be32'],
  [C.CTA_EXPECT_HELP_NAME]: ['CTA_EXPECT_HELP_NAME', 'string'],
  [C.CTA_EXPECT_ZONE]: ['CTA_EXPECT_ZONE', 'be16'],
  [C.CTA_EXPECT_FLAGS]: ['CTA_EXPECT_FLAGS', 'be32'],
  [C.CTA_EXPECT_CLASS]: ['CTA_EXPECT_CLASS', 'be32'],
});
