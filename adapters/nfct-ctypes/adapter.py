#!/usr/bin/env python3
# conntrack-harness adapter (docs/adapters.md): libnetfilter_conntrack through ctypes.
#
# Reads one JSON request a line on stdin, answers one JSON line on stdout, logs to stderr.
# Started inside the test's network namespace, it works on that namespace's conntrack table.
# Written from the library's documented API (libnetfilter_conntrack.h, 1.0.9): one nfct handle per
# request, NFCT_Q_DUMP with a callback for list, one nfct_query per entry for create, get, update
# and delete (NFCT_Q_DESTROY per entry, as Neutron's netlink_lib does). Filters are applied here,
# in Python, on what the dump returned.
#
# Options:
#   --break drop-zone-on-delete   deletes do not set ATTR_ZONE (a deliberately broken variant)
# Stdlib only.
import ctypes
import errno
import ipaddress
import json
import os
import socket
import subprocess
import sys

NAME = 'nfct-ctypes'
LIBRARY = 'libnetfilter_conntrack.so.3'

# --- libnetfilter_conntrack.h (1.0.9) ------------------------------------------------------------
CONNTRACK = 1  # NFNL_SUBSYS_CTNETLINK

# enum nf_conntrack_attr
ATTR_ORIG_IPV4_SRC = 0
ATTR_ORIG_IPV4_DST = 1
ATTR_REPL_IPV4_SRC = 2
ATTR_REPL_IPV4_DST = 3
ATTR_ORIG_IPV6_SRC = 4
ATTR_ORIG_IPV6_DST = 5
ATTR_REPL_IPV6_SRC = 6
ATTR_REPL_IPV6_DST = 7
ATTR_ORIG_PORT_SRC = 8
ATTR_ORIG_PORT_DST = 9
ATTR_REPL_PORT_SRC = 10
ATTR_REPL_PORT_DST = 11
ATTR_ICMP_TYPE = 12
ATTR_ICMP_CODE = 13
ATTR_ICMP_ID = 14
ATTR_ORIG_L3PROTO = 15
ATTR_REPL_L3PROTO = 16
ATTR_ORIG_L4PROTO = 17
ATTR_REPL_L4PROTO = 18
ATTR_TCP_STATE = 19
ATTR_SNAT_IPV4 = 20
ATTR_DNAT_IPV4 = 21
ATTR_SNAT_PORT = 22
ATTR_DNAT_PORT = 23
ATTR_TIMEOUT = 24
ATTR_MARK = 25
ATTR_USE = 30
ATTR_ID = 31
ATTR_STATUS = 32
ATTR_SCTP_STATE = 52
ATTR_SCTP_VTAG_ORIG = 53
ATTR_SCTP_VTAG_REPL = 54
ATTR_HELPER_NAME = 55
ATTR_DCCP_STATE = 56
ATTR_DCCP_ROLE = 57
ATTR_ZONE = 61
ATTR_CONNLABELS = 66
ATTR_CONNLABELS_MASK = 67
ATTR_ORIG_ZONE = 68
ATTR_REPL_ZONE = 69
ATTR_SNAT_IPV6 = 70
ATTR_DNAT_IPV6 = 71

# enum nf_conntrack_msg_type
NFCT_T_ALL = 1 | 2 | 4
# callback verdicts
NFCT_CB_CONTINUE = 1
# enum nf_conntrack_query
NFCT_Q_CREATE = 0
NFCT_Q_UPDATE = 1
NFCT_Q_DESTROY = 2
NFCT_Q_GET = 3
NFCT_Q_DUMP = 5
# nfct_setobjopt options
NFCT_SOPT_SETUP_REPLY = 5

# --- the harness's entry model (docs/client.md, harness/conntrack/entry.ts) -----------------------
PROTOCOLS = {
    'icmp': 1, 'igmp': 2, 'tcp': 6, 'udp': 17, 'dccp': 33, 'gre': 47, 'esp': 50, 'ah': 51,
    'icmpv6': 58, 'ospf': 89, 'pim': 103, 'vrrp': 112, 'sctp': 132, 'udplite': 136,
}
PROTOCOL_NAMES = {n: name for name, n in PROTOCOLS.items()}
PORT_PROTOCOLS = {6, 17, 33, 47, 132, 136}  # tcp udp dccp gre(keys) sctp udplite
ICMP_PROTOCOLS = {1, 58}
STATUS_BITS = [
    'EXPECTED', 'SEEN_REPLY', 'ASSURED', 'CONFIRMED', 'SRC_NAT', 'DST_NAT', 'SEQ_ADJUST',
    'SRC_NAT_DONE', 'DST_NAT_DONE', 'DYING', 'FIXED_TIMEOUT', 'TEMPLATE', 'UNTRACKED', 'HELPER',
    'OFFLOAD', 'HW_OFFLOAD',
]
STATE_NAMES = {
    6: ['NONE', 'SYN_SENT', 'SYN_RECV', 'ESTABLISHED', 'FIN_WAIT', 'CLOSE_WAIT', 'LAST_ACK',
        'TIME_WAIT', 'CLOSE', 'SYN_SENT2'],
    132: ['NONE', 'CLOSED', 'COOKIE_WAIT', 'COOKIE_ECHOED', 'ESTABLISHED', 'SHUTDOWN_SENT',
          'SHUTDOWN_RECD', 'SHUTDOWN_ACK_SENT', 'HEARTBEAT_SENT', 'HEARTBEAT_ACKED'],
    33: ['NONE', 'REQUEST', 'RESPOND', 'PARTOPEN', 'OPEN', 'CLOSEREQ', 'CLOSING', 'TIMEWAIT',
         'IGNORE', 'INVALID'],
}
STATE_ATTR = {6: ATTR_TCP_STATE, 132: ATTR_SCTP_STATE, 33: ATTR_DCCP_STATE}
DEFAULT_TIMEOUT = 120
FILTER_KEYS = {
    'zone', 'origZone', 'replyZone', 'family', 'protocol', 'src', 'dst', 'replySrc', 'replyDst',
    'sport', 'dport', 'mark', 'status', 'state', 'nat',
}
# Keys a create entry may carry; the read-only fields of a listed entry are accepted and not sent.
CREATE_KEYS = {
    'family', 'protocol', 'src', 'dst', 'sport', 'dport', 'icmpType', 'icmpCode', 'icmpId', 'zone',
    'origZone', 'replyZone', 'reply', 'timeout', 'mark', 'status', 'state', 'labels', 'snat', 'dnat',
}
READ_ONLY_KEYS = {'id', 'use', 'counters', 'timestamp'}
CHANGE_KEYS = {'mark', 'markMask', 'timeout', 'status', 'labels'}
OPERATIONS = ['list', 'count', 'create', 'delete', 'deleteMatching', 'get', 'update']


class AdapterError(Exception):
    def __init__(self, code, message):
        super().__init__(message)
        self.code = code
        self.message = message


def invalid(message):
    return AdapterError('EINVAL', message)


def errno_error(call, err):
    return AdapterError(errno.errorcode.get(err, 'E%d' % err), '%s: %s' % (call, os.strerror(err)))


def log(*parts):
    print(NAME + ':', *parts, file=sys.stderr, flush=True)


# --- the library --------------------------------------------------------------------------------
CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p)


def load_library():
    lib = ctypes.CDLL(LIBRARY, use_errno=True)
    vp, u8, u16, u32, i = ctypes.c_void_p, ctypes.c_uint8, ctypes.c_uint16, ctypes.c_uint32, ctypes.c_int
    signatures = {
        'nfct_open': (vp, [u8, ctypes.c_uint]),
        'nfct_close': (i, [vp]),
        'nfct_new': (vp, []),
        'nfct_destroy': (None, [vp]),
        'nfct_set_attr': (None, [vp, i, vp]),
        'nfct_set_attr_u8': (None, [vp, i, u8]),
        'nfct_set_attr_u16': (None, [vp, i, u16]),
        'nfct_set_attr_u32': (None, [vp, i, u32]),
        'nfct_get_attr': (vp, [vp, i]),
        'nfct_get_attr_u8': (u8, [vp, i]),
        'nfct_get_attr_u16': (u16, [vp, i]),
        'nfct_get_attr_u32': (u32, [vp, i]),
        'nfct_attr_is_set': (i, [vp, i]),
        'nfct_setobjopt': (i, [vp, ctypes.c_uint]),
        'nfct_callback_register': (i, [vp, i, CALLBACK, vp]),
        'nfct_callback_unregister': (None, [vp]),
        'nfct_query': (i, [vp, i, vp]),
        'nfct_bitmask_new': (vp, [ctypes.c_uint]),
        'nfct_bitmask_set_bit': (None, [vp, ctypes.c_uint]),
        'nfct_bitmask_test_bit': (i, [vp, ctypes.c_uint]),
        'nfct_bitmask_maxbit': (ctypes.c_uint, [vp]),
    }
    for name, (restype, argtypes) in signatures.items():
        fn = getattr(lib, name)
        fn.restype = restype
        fn.argtypes = argtypes
    return lib


def library_version():
    """The Debian package version if dpkg knows it, with the .so file actually loaded."""
    so = None
    try:
        with open('/proc/self/maps') as maps:
            for line in maps:
                if 'libnetfilter_conntrack' in line:
                    so = os.path.basename(line.split()[-1])
                    break
    except OSError:
        pass
    package = None
    try:
        out = subprocess.run(['dpkg-query', '-W', '-f=${Version}', 'libnetfilter-conntrack3'],
                             capture_output=True, text=True, timeout=10)
        if out.returncode == 0 and out.stdout.strip():
            package = out.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        pass
    if package and so:
        return 'libnetfilter_conntrack %s (%s)' % (package, so)
    return package or so or 'unknown'


class Handle:
    """One nfct handle for one request; the callback collects the entries the kernel answers with."""

    def __init__(self, lib):
        self.lib = lib
        self.entries = []
        self.error = None
        self.h = lib.nfct_open(CONNTRACK, 0)
        if not self.h:
            raise errno_error('nfct_open', ctypes.get_errno())
        self._cb = CALLBACK(self._collect)  # kept referenced while the handle lives
        lib.nfct_callback_register(self.h, NFCT_T_ALL, self._cb, None)

    def _collect(self, _type, ct, _data):
        try:
            self.entries.append(read_entry(self.lib, ct))
        except Exception as e:  # never let an exception cross the C frame
            self.error = e
        return NFCT_CB_CONTINUE

    def query(self, kind, data, call):
        ctypes.set_errno(0)
        if self.lib.nfct_query(self.h, kind, data) == -1:
            raise errno_error(call, ctypes.get_errno() or errno.EIO)
        if self.error is not None:
            raise self.error

    def close(self):
        if self.h:
            self.lib.nfct_callback_unregister(self.h)
            self.lib.nfct_close(self.h)
            self.h = None

    def __enter__(self):
        return self

    def __exit__(self, *_):
        self.close()


# --- reading an entry ---------------------------------------------------------------------------
def read_entry(lib, ct):
    def is_set(attr):
        return lib.nfct_attr_is_set(ct, attr) > 0

    def addr(attr, size):
        return socket.inet_ntop(af, ctypes.string_at(lib.nfct_get_attr(ct, attr), size))

    af = lib.nfct_get_attr_u8(ct, ATTR_ORIG_L3PROTO)
    l4 = lib.nfct_get_attr_u8(ct, ATTR_ORIG_L4PROTO)
    if af == socket.AF_INET:
        family, size, a = 'ipv4', 4, (ATTR_ORIG_IPV4_SRC, ATTR_ORIG_IPV4_DST, ATTR_REPL_IPV4_SRC, ATTR_REPL_IPV4_DST)
    elif af == socket.AF_INET6:
        family, size, a = 'ipv6', 16, (ATTR_ORIG_IPV6_SRC, ATTR_ORIG_IPV6_DST, ATTR_REPL_IPV6_SRC, ATTR_REPL_IPV6_DST)
    else:
        raise AdapterError('EAFNOSUPPORT', 'entry of address family %d' % af)
    e = {'family': family, 'protocol': PROTOCOL_NAMES.get(l4, l4), 'src': addr(a[0], size), 'dst': addr(a[1], size)}
    if l4 in PORT_PROTOCOLS:
        if is_set(ATTR_ORIG_PORT_SRC):
            e['sport'] = socket.ntohs(lib.nfct_get_attr_u16(ct, ATTR_ORIG_PORT_SRC))
        if is_set(ATTR_ORIG_PORT_DST):
            e['dport'] = socket.ntohs(lib.nfct_get_attr_u16(ct, ATTR_ORIG_PORT_DST))
    elif l4 in ICMP_PROTOCOLS:
        if is_set(ATTR_ICMP_TYPE):
            e['icmpType'] = lib.nfct_get_attr_u8(ct, ATTR_ICMP_TYPE)
        if is_set(ATTR_ICMP_CODE):
            e['icmpCode'] = lib.nfct_get_attr_u8(ct, ATTR_ICMP_CODE)
        if is_set(ATTR_ICMP_ID):
            e['icmpId'] = socket.ntohs(lib.nfct_get_attr_u16(ct, ATTR_ICMP_ID))
    e['zone'] = lib.nfct_get_attr_u16(ct, ATTR_ZONE) if is_set(ATTR_ZONE) else 0
    if is_set(ATTR_ORIG_ZONE):
        e['origZone'] = lib.nfct_get_attr_u16(ct, ATTR_ORIG_ZONE)
    if is_set(ATTR_REPL_ZONE):
        e['replyZone'] = lib.nfct_get_attr_u16(ct, ATTR_REPL_ZONE)
    if is_set(a[2]) and is_set(a[3]):
        reply = {'src': addr(a[2], size), 'dst': addr(a[3], size)}
        # The library keeps no ICMP fields of the reply tuple (ATTR_ICMP_* are the original's).
        if l4 in PORT_PROTOCOLS:
            if is_set(ATTR_REPL_PORT_SRC):
                reply['sport'] = socket.ntohs(lib.nfct_get_attr_u16(ct, ATTR_REPL_PORT_SRC))
            if is_set(ATTR_REPL_PORT_DST):
                reply['dport'] = socket.ntohs(lib.nfct_get_attr_u16(ct, ATTR_REPL_PORT_DST))
        e['reply'] = reply
    if is_set(ATTR_TIMEOUT):
        e['timeout'] = lib.nfct_get_attr_u32(ct, ATTR_TIMEOUT)
    e['mark'] = lib.nfct_get_attr_u32(ct, ATTR_MARK) if is_set(ATTR_MARK) else 0
    if is_set(ATTR_STATUS):
        bits = lib.nfct_get_attr_u32(ct, ATTR_STATUS)
        e['status'] = [name for i, name in enumerate(STATUS_BITS) if bits & (1 << i)]
    if l4 in STATE_ATTR and is_set(STATE_ATTR[l4]):
        n = lib.nfct_get_attr_u8(ct, STATE_ATTR[l4])
        names = STATE_NAMES[l4]
        e['state'] = names[n] if n < len(names) else str(n)
    if is_set(ATTR_ID):
        e['id'] = lib.nfct_get_attr_u32(ct, ATTR_ID)
    if is_set(ATTR_USE):
        e['use'] = lib.nfct_get_attr_u32(ct, ATTR_USE)
    if is_set(ATTR_CONNLABELS):
        bm = lib.nfct_get_attr(ct, ATTR_CONNLABELS)
        if bm:
            top = min(lib.nfct_bitmask_maxbit(bm), 127)
            e['labels'] = [b for b in range(top + 1) if lib.nfct_bitmask_test_bit(bm, b)]
    if is_set(ATTR_HELPER_NAME):
        p = lib.nfct_get_attr(ct, ATTR_HELPER_NAME)
        if p:
            e['helper'] = ctypes.string_at(p).decode('ascii', 'replace')
    return e


# --- input validation ---------------------------------------------------------------------------
def is_int(v, lo, hi):
    return isinstance(v, int) and not isinstance(v, bool) and lo <= v <= hi


def protocol_number(p, field='protocol'):
    if is_int(p, 0, 255):
        return p
    if isinstance(p, str) and p in PROTOCOLS:
        return PROTOCOLS[p]
    raise invalid('%s: unknown protocol %r' % (field, p))


def parse_address(v, field):
    try:
        return ipaddress.ip_address(v)
    except (ValueError, TypeError):
        raise invalid('%s: not an IP address: %r' % (field, v))


def status_bits(names, field='status'):
    if not isinstance(names, list):
        raise invalid('%s: a list of flag names expected' % field)
    bits = 0
    for n in names:
        if n not in STATUS_BITS:
            raise invalid('%s: unknown status flag %r' % (field, n))
        bits |= 1 << STATUS_BITS.index(n)
    return bits


def labels_of(v, field):
    if not isinstance(v, list) or not all(is_int(b, 0, 127) for b in v):
        raise invalid('%s: a list of label bits 0..127 expected' % field)
    return set(v)


def parse_tuple(t, l4, field, af=None):
    """src/dst (and ports or ICMP fields) of a tuple, checked; returns (af, dict)."""
    if not isinstance(t, dict):
        raise invalid('%s: an object expected' % field)
    src = parse_address(t.get('src'), field + '.src')
    dst = parse_address(t.get('dst'), field + '.dst')
    if src.version != dst.version:
        raise invalid('%s: src and dst are of different families' % field)
    taf = socket.AF_INET if src.version == 4 else socket.AF_INET6
    if af is not None and taf != af:
        raise invalid('%s: family does not match' % field)
    out = {'src': str(src), 'dst': str(dst)}
    if l4 in PORT_PROTOCOLS:
        for k in ('sport', 'dport'):
            if k in t:
                if not is_int(t[k], 0, 65535):
                    raise invalid('%s.%s: an integer 0..65535 expected' % (field, k))
                out[k] = t[k]
    elif l4 in ICMP_PROTOCOLS:
        for k, hi in (('icmpType', 255), ('icmpCode', 255), ('icmpId', 65535)):
            if k in t:
                if not is_int(t[k], 0, hi):
                    raise invalid('%s.%s: an integer 0..%d expected' % (field, k, hi))
                out[k] = t[k]
    return taf, out


def parse_key(e, field='entry'):
    """The lookup key of an input entry: family, protocol, tuple, zone(s); echoed in verdicts."""
    if not isinstance(e, dict):
        raise invalid('%s: an object expected' % field)
    if 'protocol' not in e:
        raise invalid('%s.protocol: missing' % field)
    l4 = protocol_number(e['protocol'], field + '.protocol')
    af, tup = parse_tuple(e, l4, field)
    family = 'ipv4' if af == socket.AF_INET else 'ipv6'
    if e.get('family', family) != family:
        raise invalid('%s.family: %r does not match the addresses' % (field, e.get('family')))
    if l4 in PORT_PROTOCOLS and not ('sport' in tup and 'dport' in tup):
        raise invalid('%s: sport and dport are needed for protocol %s' % (field, e['protocol']))
    if l4 in ICMP_PROTOCOLS and not all(k in tup for k in ('icmpType', 'icmpCode', 'icmpId')):
        raise invalid('%s: icmpType, icmpCode and icmpId are needed for protocol %s' % (field, e['protocol']))
    key = {'family': family, 'protocol': PROTOCOL_NAMES.get(l4, l4)}
    key.update(tup)
    zone = e.get('zone', 0)
    if not is_int(zone, 0, 65535):
        raise invalid('%s.zone: an integer 0..65535 expected' % field)
    key['zone'] = zone
    for k in ('origZone', 'replyZone'):
        if k in e:
            if not is_int(e[k], 0, 65535):
                raise invalid('%s.%s: an integer 0..65535 expected' % (field, k))
            key[k] = e[k]
    return key


# --- building an object -------------------------------------------------------------------------
class Ct:
    """An nf_conntrack object; the buffers handed to nfct_set_attr stay referenced until it is freed."""

    def __init__(self, lib):
        self.lib = lib
        self.p = lib.nfct_new()
        if not self.p:
            raise errno_error('nfct_new', ctypes.get_errno() or errno.ENOMEM)
        self.keep = []

    def buf(self, attr, data):
        b = ctypes.create_string_buffer(data, max(len(data), 16))
        self.keep.append(b)
        self.lib.nfct_set_attr(self.p, attr, b)

    def u8(self, attr, v):
        self.lib.nfct_set_attr_u8(self.p, attr, v)

    def u16(self, attr, v):
        self.lib.nfct_set_attr_u16(self.p, attr, v)

    def u32(self, attr, v):
        self.lib.nfct_set_attr_u32(self.p, attr, v)

    def labels(self, attr, bits):
        bm = self.lib.nfct_bitmask_new(127)
        if not bm:
            raise errno_error('nfct_bitmask_new', errno.ENOMEM)
        for b in bits:
            self.lib.nfct_bitmask_set_bit(bm, b)
        self.lib.nfct_set_attr(self.p, attr, bm)  # the object owns the bitmask from here on

    def free(self):
        if self.p:
            self.lib.nfct_destroy(self.p)
            self.p = None

    def __enter__(self):
        return self

    def __exit__(self, *_):
        self.free()


def set_key(ct, key, with_zone=True):
    """The original tuple (and zones) of `key`, as parse_key made it."""
    af = socket.AF_INET if key['family'] == 'ipv4' else socket.AF_INET6
    l4 = protocol_number(key['protocol'])
    ct.u8(ATTR_ORIG_L3PROTO, af)
    ct.u8(ATTR_ORIG_L4PROTO, l4)
    # Addresses are copied as bytes in network order.
    ct.buf(ATTR_ORIG_IPV4_SRC if af == socket.AF_INET else ATTR_ORIG_IPV6_SRC, socket.inet_pton(af, key['src']))
    ct.buf(ATTR_ORIG_IPV4_DST if af == socket.AF_INET else ATTR_ORIG_IPV6_DST, socket.inet_pton(af, key['dst']))
    if l4 in PORT_PROTOCOLS:
        ct.u16(ATTR_ORIG_PORT_SRC, socket.htons(key['sport']))
        ct.u16(ATTR_ORIG_PORT_DST, socket.htons(key['dport']))
    elif l4 in ICMP_PROTOCOLS:
        ct.u8(ATTR_ICMP_TYPE, key['icmpType'])
        ct.u8(ATTR_ICMP_CODE, key['icmpCode'])
        ct.u16(ATTR_ICMP_ID, socket.htons(key['icmpId']))
    if with_zone:
        ct.u16(ATTR_ZONE, key['zone'])
    if 'origZone' in key:
        ct.u16(ATTR_ORIG_ZONE, key['origZone'])
    if 'replyZone' in key:
        ct.u16(ATTR_REPL_ZONE, key['replyZone'])
    return af, l4


def parse_nat(v, field, af, l4):
    if not isinstance(v, dict) or 'address' not in v:
        raise invalid('%s: { address, port? } expected' % field)
    a = parse_address(v['address'], field + '.address')
    if (a.version == 4) != (af == socket.AF_INET):
        raise invalid('%s.address: family does not match the entry' % field)
    port = v.get('port')
    if port is not None:
        if not is_int(port, 0, 65535):
            raise invalid('%s.port: an integer 0..65535 expected' % field)
        if l4 not in PORT_PROTOCOLS:
            raise invalid('%s.port: protocol has no ports' % field)
    return a.packed, port


def parse_create(e, i):
    field = 'entries[%d]' % i
    key = parse_key(e, field)
    for k in e:
        if k not in CREATE_KEYS and k not in READ_ONLY_KEYS:
            raise AdapterError('UNSUPPORTED', '%s.%s: this adapter cannot create an entry with %s' % (field, k, k))
    l4 = protocol_number(key['protocol'])
    af = socket.AF_INET if key['family'] == 'ipv4' else socket.AF_INET6
    spec = {'key': key}
    timeout = e.get('timeout', DEFAULT_TIMEOUT)
    if not is_int(timeout, 0, 0xFFFFFFFF):
        raise invalid(field + '.timeout: an integer expected')
    spec['timeout'] = timeout
    if 'mark' in e:
        if not is_int(e['mark'], 0, 0xFFFFFFFF):
            raise invalid(field + '.mark: a u32 expected')
        spec['mark'] = e['mark']
    if 'status' in e:
        spec['status'] = status_bits(e['status'], field + '.status')
    state = e.get('state')
    if state is None and l4 in (6, 132):
        state = 'ESTABLISHED'
    if state is not None:
        if l4 not in STATE_NAMES or state not in STATE_NAMES[l4]:
            raise invalid('%s.state: %r is not a state of %s' % (field, state, key['protocol']))
        spec['state'] = STATE_NAMES[l4].index(state)
    if 'labels' in e:
        spec['labels'] = labels_of(e['labels'], field + '.labels')
    if 'reply' in e:
        if 'snat' in e or 'dnat' in e:
            raise invalid(field + ': reply together with snat/dnat')
        _, spec['reply'] = parse_tuple(e['reply'], l4, field + '.reply', af)
        if l4 in PORT_PROTOCOLS and not ('sport' in spec['reply'] and 'dport' in spec['reply']):
            raise invalid(field + '.reply: sport and dport are needed')
    for k in ('snat', 'dnat'):
        if k in e:
            spec[k] = parse_nat(e[k], field + '.' + k, af, l4)
    return spec


def build_create(lib, spec):
    ct = Ct(lib)
    key = spec['key']
    af, l4 = set_key(ct, key, with_zone=key['zone'] != 0)
    if 'reply' in spec:
        r = spec['reply']
        ct.u8(ATTR_REPL_L3PROTO, af)
        ct.u8(ATTR_REPL_L4PROTO, l4)
        ct.buf(ATTR_REPL_IPV4_SRC if af == socket.AF_INET else ATTR_REPL_IPV6_SRC, socket.inet_pton(af, r['src']))
        ct.buf(ATTR_REPL_IPV4_DST if af == socket.AF_INET else ATTR_REPL_IPV6_DST, socket.inet_pton(af, r['dst']))
        if l4 in PORT_PROTOCOLS:
            ct.u16(ATTR_REPL_PORT_SRC, socket.htons(r['sport']))
            ct.u16(ATTR_REPL_PORT_DST, socket.htons(r['dport']))
    else:
        # The reply tuple is the original one inverted (what conntrack -I does).
        lib.nfct_setobjopt(ct.p, NFCT_SOPT_SETUP_REPLY)
    ct.u32(ATTR_TIMEOUT, spec['timeout'])
    if 'mark' in spec:
        ct.u32(ATTR_MARK, spec['mark'])
    if 'status' in spec:
        ct.u32(ATTR_STATUS, spec['status'])
    if 'state' in spec:
        ct.u8(STATE_ATTR[l4], spec['state'])
        if l4 == 132:  # the SCTP tracker wants verification tags, as conntrack -I sends them
            ct.u32(ATTR_SCTP_VTAG_ORIG, 1)
            ct.u32(ATTR_SCTP_VTAG_REPL, 2)
        if l4 == 33:  # CT_DCCP_ROLE_CLIENT: older DCCP trackers refuse a state without a role
            ct.u8(ATTR_DCCP_ROLE, 0)
    if 'labels' in spec:
        ct.labels(ATTR_CONNLABELS, spec['labels'])
    for k, (addr_attr4, addr_attr6, port_attr) in (('snat', (ATTR_SNAT_IPV4, ATTR_SNAT_IPV6, ATTR_SNAT_PORT)),
                                                   ('dnat', (ATTR_DNAT_IPV4, ATTR_DNAT_IPV6, ATTR_DNAT_PORT))):
        if k in spec:
            packed, port = spec[k]
            ct.buf(addr_attr4 if af == socket.AF_INET else addr_attr6, packed)
            if port is not None:
                ct.u16(port_attr, socket.htons(port))
    return ct


# --- filters ------------------------------------------------------------------------------------
def in_prefix(text, net):
    if text is None:
        return False
    a = ipaddress.ip_address(text)
    return a.version == net.version and a in net


def compile_filter(f):
    if f is None:
        f = {}
    if not isinstance(f, dict):
        raise invalid('filter: an object expected')
    for k in f:
        if k not in FILTER_KEYS:
            raise AdapterError('UNSUPPORTED', 'filter key %r is not supported by this adapter' % k)
    tests = []
    for k in ('zone', 'origZone', 'replyZone'):
        if k in f:
            if not is_int(f[k], 0, 65535):
                raise invalid('filter.%s: an integer 0..65535 expected' % k)
            tests.append(lambda e, k=k, v=f[k]: e.get(k, 0) == v)
    if 'family' in f:
        if f['family'] not in ('ipv4', 'ipv6'):
            raise invalid("filter.family: 'ipv4' or 'ipv6' expected")
        tests.append(lambda e, v=f['family']: e['family'] == v)
    if 'protocol' in f:
        n = protocol_number(f['protocol'], 'filter.protocol')
        tests.append(lambda e, n=n: protocol_number(e['protocol']) == n)
    for k, get in (('src', lambda e: e.get('src')), ('dst', lambda e: e.get('dst')),
                   ('replySrc', lambda e: e.get('reply', {}).get('src')),
                   ('replyDst', lambda e: e.get('reply', {}).get('dst'))):
        if k in f:
            try:
                net = ipaddress.ip_network(f[k], strict=False)
            except (ValueError, TypeError):
                raise invalid('filter.%s: not an address or prefix: %r' % (k, f[k]))
            tests.append(lambda e, net=net, get=get: in_prefix(get(e), net))
    for k in ('sport', 'dport'):
        if k in f:
            if not is_int(f[k], 0, 65535):
                raise invalid('filter.%s: an integer 0..65535 expected' % k)
            tests.append(lambda e, k=k, v=f[k]: e.get(k) == v)
    if 'mark' in f:
        m = f['mark']
        if is_int(m, 0, 0xFFFFFFFF):
            value, mask = m, 0xFFFFFFFF
        elif isinstance(m, dict) and set(m) <= {'value', 'mask'} and is_int(m.get('value'), 0, 0xFFFFFFFF) \
                and is_int(m.get('mask', 0xFFFFFFFF), 0, 0xFFFFFFFF):
            value, mask = m['value'], m.get('mask', 0xFFFFFFFF)
        else:
            raise invalid('filter.mark: a u32 or { value, mask } expected')
        if value & ~mask:
            raise invalid('filter.mark: value has bits outside the mask')
        tests.append(lambda e, value=value, mask=mask: (e.get('mark', 0) & mask) == value)
    if 'status' in f:
        bits = status_bits(f['status'], 'filter.status')
        tests.append(lambda e, bits=bits: (status_bits(e.get('status', [])) & bits) == bits)
    if 'state' in f:
        if not isinstance(f['state'], str):
            raise invalid('filter.state: a state name expected')
        tests.append(lambda e, v=f['state']: e.get('state') == v)
    if 'nat' in f:
        wanted = {'src': {'SRC_NAT'}, 'dst': {'DST_NAT'}, 'any': {'SRC_NAT', 'DST_NAT'}}.get(f['nat'])
        if wanted is None:
            raise invalid("filter.nat: 'src', 'dst' or 'any' expected")
        tests.append(lambda e, w=wanted: bool(w & set(e.get('status', []))))
    family = {'ipv4': socket.AF_INET, 'ipv6': socket.AF_INET6}.get(f.get('family'), socket.AF_UNSPEC)
    return family, (lambda e: all(t(e) for t in tests))


# --- operations ---------------------------------------------------------------------------------
class Adapter:
    def __init__(self, lib, drop_zone_on_delete=False):
        self.lib = lib
        self.drop_zone_on_delete = drop_zone_on_delete

    def hello(self, req):
        if req.get('protocol') != 1:
            raise AdapterError('EPROTONOSUPPORT', 'this adapter speaks protocol 1, not %r' % req.get('protocol'))
        name = NAME + ('-broken-drop-zone-on-delete' if self.drop_zone_on_delete else '')
        return {'name': name, 'version': library_version(), 'operations': OPERATIONS}

    def _list(self, flt):
        family, match = compile_filter(flt)
        fam = ctypes.c_uint32(family)
        with Handle(self.lib) as h:
            h.query(NFCT_Q_DUMP, ctypes.byref(fam), 'nfct_query(NFCT_Q_DUMP)')
            return [e for e in h.entries if match(e)]

    def list(self, req):
        return {'entries': self._list(req.get('filter'))}

    def count(self, req):
        return {'count': len(self._list(req.get('filter')))}

    def create(self, req):
        entries = req.get('entries')
        if not isinstance(entries, list):
            raise invalid('entries: a list expected')
        specs = [parse_create(e, i) for i, e in enumerate(entries)]  # every entry checked first
        first = None
        with Handle(self.lib) as h:
            for i, spec in enumerate(specs):
                with build_create(self.lib, spec) as ct:
                    try:
                        h.query(NFCT_Q_CREATE, ct.p, 'nfct_query(NFCT_Q_CREATE) of entries[%d]' % i)
                    except AdapterError as err:
                        log('create', json.dumps(spec['key']), err.code)
                        first = first or err
        if first:
            raise first
        return {}

    def _delete_one(self, h, key):
        with Ct(self.lib) as ct:
            set_key(ct, key, with_zone=not self.drop_zone_on_delete)
            h.query(NFCT_Q_DESTROY, ct.p, 'nfct_query(NFCT_Q_DESTROY)')

    def _delete_keys(self, keys):
        result = {'deleted': [], 'notFound': [], 'failed': []}
        with Handle(self.lib) as h:
            for key in keys:
                try:
                    self._delete_one(h, key)
                    result['deleted'].append(key)
                except AdapterError as err:
                    if err.code == 'ENOENT':
                        result['notFound'].append(key)
                    else:
                        result['failed'].append({'entry': key, 'error': {'code': err.code, 'message': err.message}})
        return result

    def delete(self, req):
        entries = req.get('entries')
        if not isinstance(entries, list):
            raise invalid('entries: a list expected')
        return self._delete_keys([parse_key(e, 'entries[%d]' % i) for i, e in enumerate(entries)])

    def deleteMatching(self, req):
        flt = req.get('filter')
        if not isinstance(flt, dict) or not flt:
            raise invalid('deleteMatching needs a filter with at least one criterion')
        keys = [parse_key(e) for e in self._list(flt)]
        return {'deleted': len(self._delete_keys(keys)['deleted'])}

    def _get(self, h, key):
        h.entries = []
        with Ct(self.lib) as ct:
            set_key(ct, key)
            try:
                h.query(NFCT_Q_GET, ct.p, 'nfct_query(NFCT_Q_GET)')
            except AdapterError as err:
                if err.code == 'ENOENT':
                    return None
                raise
        return h.entries[0] if h.entries else None

    def get(self, req):
        key = parse_key(req.get('entry'), 'entry')
        with Handle(self.lib) as h:
            return {'entry': self._get(h, key)}

    def update(self, req):
        entries = req.get('entries')
        changes = req.get('changes')
        if not isinstance(entries, list):
            raise invalid('entries: a list expected')
        if not isinstance(changes, dict) or not changes:
            raise invalid('changes: an object with at least one change expected')
        for k in changes:
            if k not in CHANGE_KEYS:
                raise AdapterError('UNSUPPORTED', 'this adapter cannot change %r' % k)
        if 'mark' in changes and not is_int(changes['mark'], 0, 0xFFFFFFFF):
            raise invalid('changes.mark: a u32 expected')
        if 'markMask' in changes and (not is_int(changes['markMask'], 0, 0xFFFFFFFF) or 'mark' not in changes):
            raise invalid('changes.markMask: a u32, with mark, expected')
        if 'timeout' in changes and not is_int(changes['timeout'], 0, 0xFFFFFFFF):
            raise invalid('changes.timeout: a u32 expected')
        new_status = status_bits(changes['status'], 'changes.status') if 'status' in changes else None
        labels = changes.get('labels')
        if labels is not None:
            if isinstance(labels, dict):
                if not set(labels) <= {'add', 'remove'}:
                    raise invalid('changes.labels: a list or { add, remove } expected')
                labels = {k: labels_of(labels.get(k, []), 'changes.labels.' + k) for k in ('add', 'remove')}
            else:
                labels = labels_of(labels, 'changes.labels')
        keys = [parse_key(e, 'entries[%d]' % i) for i, e in enumerate(entries)]
        result = {'updated': [], 'notFound': [], 'failed': []}
        with Handle(self.lib) as h:
            for key in keys:
                try:
                    # Read the entry first: status flags can only be added to the current ones (the
                    # kernel refuses to clear them), a masked mark and label edits start from it.
                    current = self._get(h, key)
                    if current is None:
                        result['notFound'].append(key)
                        continue
                    with Ct(self.lib) as ct:
                        set_key(ct, key)
                        if 'mark' in changes:
                            mask = changes.get('markMask', 0xFFFFFFFF)
                            ct.u32(ATTR_MARK, (current.get('mark', 0) & ~mask & 0xFFFFFFFF) | (changes['mark'] & mask))
                        if 'timeout' in changes:
                            ct.u32(ATTR_TIMEOUT, changes['timeout'])
                        if new_status is not None:
                            ct.u32(ATTR_STATUS, status_bits(current.get('status', [])) | new_status)
                        if labels is not None:
                            if isinstance(labels, dict):
                                bits = (set(current.get('labels', [])) | labels['add']) - labels['remove']
                            else:
                                bits = labels
                            ct.labels(ATTR_CONNLABELS, bits)
                            ct.labels(ATTR_CONNLABELS_MASK, range(128))
                        h.query(NFCT_Q_UPDATE, ct.p, 'nfct_query(NFCT_Q_UPDATE)')
                    result['updated'].append(key)
                except AdapterError as err:
                    if err.code == 'ENOENT':
                        result['notFound'].append(key)
                    else:
                        result['failed'].append({'entry': key, 'error': {'code': err.code, 'message': err.message}})
        return result


def main(argv):
    drop_zone = False
    args = list(argv)
    while args:
        a = args.pop(0)
        if a == '--break' and args and args[0] == 'drop-zone-on-delete':
            args.pop(0)
            drop_zone = True
        elif a == '--break=drop-zone-on-delete':
            drop_zone = True
        else:
            print('usage: adapter.py [--break drop-zone-on-delete]', file=sys.stderr)
            return 2
    try:
        lib = load_library()
    except OSError as e:
        log('cannot load %s: %s' % (LIBRARY, e))
        return 1
    adapter = Adapter(lib, drop_zone)
    if drop_zone:
        log('deliberately broken: deletes do not set ATTR_ZONE')
    out = sys.stdout
    for line in sys.stdin:
        if not line.strip():
            continue
        rid = None
        try:
            req = json.loads(line)
            rid = req.get('id') if isinstance(req, dict) else None
            if not is_int(rid, 1, 2 ** 53):
                raise invalid('request without an integer id')
            op = req.get('op')
            if op != 'hello' and op not in OPERATIONS:
                raise AdapterError('UNSUPPORTED', 'unknown op %r' % op)
            resp = {'id': rid, 'ok': True, 'result': getattr(adapter, op)(req)}
        except AdapterError as err:
            resp = {'id': rid, 'ok': False, 'error': {'code': err.code, 'message': err.message}}
        except Exception as e:  # a bug here, reported rather than crashing the session
            log('internal error:', repr(e))
            resp = {'id': rid, 'ok': False, 'error': {'code': 'EADAPTER', 'message': '%s: %s' % (type(e).__name__, e)}}
        if rid is None or not is_int(rid, 1, 2 ** 53):
            log('cannot answer a request without an id:', line.strip()[:200], resp['error']['message'] if not resp['ok'] else '')
            continue
        out.write(json.dumps(resp, separators=(',', ':')) + '\n')
        out.flush()
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
