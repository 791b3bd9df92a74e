#!/usr/bin/env python3
# conntrack-harness adapter (docs/adapters.md): pyroute2's conntrack API, as Debian 12 ships it
# (python3-pyroute2 0.7.2).
#
# Reads one JSON request a line on stdin, answers one JSON line on stdout, logs to stderr.
# Started inside the test's network namespace, it works on that namespace's conntrack table.
# The point is to measure pyroute2, so the adapter uses pyroute2 as its documentation shows and
# does not repair what pyroute2 gets wrong:
#   - one pyroute2.conntrack.Conntrack socket per address family (an NFCTSocket speaks one
#     nfgen_family, AF_INET unless told otherwise);
#   - list: Conntrack.dump(), reading the attributes pyroute2 decoded (CTA_* names);
#   - create, get, update, delete: Conntrack.entry('add'|'get'|'set'|'del', tuple_orig=NFCTAttrTuple,
#     zone=..., mark=..., ...), the reply tuple of a create from NFCTAttrTuple.reverse();
#   - filters are applied here, in Python, on what the dump returned.
# What pyroute2 has no API for is UNSUPPORTED: directional zones (origZone/replyZone; its tuple
# has no CTA_TUPLE_ZONE), helpers.
#
# Options:
#   --api conntrack   use pyroute2's high-level helpers where it has them instead: list through
#                     Conntrack.dump_entries() (ConntrackEntry objects: no zone, TCP state through
#                     NFCTATcpProtoInfo.state_name(), status through ConntrackEntry.status_name())
#                     and delete through Conntrack.delete(NFCTAttrTuple) (no zone)
import errno
import ipaddress
import json
import os
import socket
import subprocess
import sys

try:
    from pyroute2 import Conntrack
    from pyroute2.netlink.exceptions import NetlinkError
    from pyroute2.netlink.nfnetlink.nfctsocket import NFCTAttrTuple
except ImportError:
    # Debian's python3-pyroute2 is installed for /usr/bin/python3; `python3` on PATH may be another.
    system = '/usr/bin/python3'
    if os.path.exists(system) and os.path.realpath(sys.executable) != os.path.realpath(system) \
            and not os.environ.get('CTH_PYROUTE2_REEXEC'):
        os.environ['CTH_PYROUTE2_REEXEC'] = '1'
        os.execv(system, [system] + sys.argv)
    print('pyroute2: cannot import pyroute2 (apt-get install python3-pyroute2)', file=sys.stderr)
    sys.exit(1)

NAME = 'pyroute2'

# --- the harness's entry model (docs/client.md, harness/conntrack/entry.ts) -----------------------
PROTOCOLS = {
    'icmp': 1, 'igmp': 2, 'tcp': 6, 'udp': 17, 'dccp': 33, 'gre': 47, 'esp': 50, 'ah': 51,
    'icmpv6': 58, 'ospf': 89, 'pim': 103, 'vrrp': 112, 'sctp': 132, 'udplite': 136,
}
PROTOCOL_NAMES = {n: name for name, n in PROTOCOLS.items()}
PORT_PROTOCOLS = {6, 17, 33, 47, 132, 136}
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
# CTA_PROTOINFO_* nest and state attribute, as pyroute2's nfct_msg.cta_protoinfo names them
PROTOINFO = {6: ('CTA_PROTOINFO_TCP', 'CTA_PROTOINFO_TCP_STATE'),
             132: ('CTA_PROTOINFO_SCTP', 'CTA_PROTOINFO_SCTP_STATE'),
             33: ('CTA_PROTOINFO_DCCP', 'CTA_PROTOINFO_DCCP_STATE')}
DEFAULT_TIMEOUT = 120
FILTER_KEYS = {
    'zone', 'family', 'protocol', 'src', 'dst', 'replySrc', 'replyDst', 'sport', 'dport', 'mark',
    'status', 'state', 'nat',
}
NO_API = {
    'origZone': "pyroute2 0.7.2 has no API for directional zones: NFCTAttrTuple has no zone and "
                "nfct_msg.cta_tuple does not decode CTA_TUPLE_ZONE",
    'replyZone': "pyroute2 0.7.2 has no API for directional zones: NFCTAttrTuple has no zone and "
                 "nfct_msg.cta_tuple does not decode CTA_TUPLE_ZONE",
    'helper': "pyroute2 0.7.2 maps CTA_HELP to a plain string, not the nested CTA_HELP_NAME the kernel expects",
}
CREATE_KEYS = {
    'family', 'protocol', 'src', 'dst', 'sport', 'dport', 'icmpType', 'icmpCode', 'icmpId', 'zone',
    'reply', 'timeout', 'mark', 'status', 'state', 'labels', 'snat', 'dnat',
}
READ_ONLY_KEYS = {'id', 'use', 'counters', 'timestamp'}
CHANGE_KEYS = {'mark', 'markMask', 'timeout', 'status', 'labels'}
OPERATIONS = ['list', 'count', 'create', 'delete', 'deleteMatching', 'get', 'update']
ALL_LABELS = (1 << 128) - 1


class AdapterError(Exception):
    def __init__(self, code, message):
        super().__init__(message)
        self.code = code
        self.message = message


def invalid(message):
    return AdapterError('EINVAL', message)


def from_exception(call, e):
    """A pyroute2 failure as an error: NetlinkError carries the kernel's errno."""
    if isinstance(e, NetlinkError):
        return AdapterError(errno.errorcode.get(e.code, 'E%d' % e.code), '%s: %s' % (call, os.strerror(e.code)))
    return AdapterError('EPYROUTE2', '%s: %s: %s' % (call, type(e).__name__, e))


def log(*parts):
    print(NAME + ':', *parts, file=sys.stderr, flush=True)


def versions():
    try:
        from importlib.metadata import version
        v = version('pyroute2')
    except Exception:
        v = None
    try:
        out = subprocess.run(['dpkg-query', '-W', '-f=${Version}', 'python3-pyroute2'],
                             capture_output=True, text=True, timeout=10)
        deb = out.stdout.strip() if out.returncode == 0 else None
    except (OSError, subprocess.SubprocessError):
        deb = None
    if v and deb:
        return 'pyroute2 %s (Debian python3-pyroute2 %s)' % (v, deb)
    return 'pyroute2 ' + (v or deb or 'unknown')


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
    bits = 0
    for b in v:
        bits |= 1 << b
    return bits


def no_api(e, field):
    for k in e:
        if k in NO_API:
            raise AdapterError('UNSUPPORTED', '%s.%s: %s' % (field, k, NO_API[k]))


def parse_tuple(t, l4, field, af=None):
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
    if not isinstance(e, dict):
        raise invalid('%s: an object expected' % field)
    no_api({k: v for k, v in e.items() if k in ('origZone', 'replyZone')}, field)
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
    return key


def family_of(key):
    return socket.AF_INET if key['family'] == 'ipv4' else socket.AF_INET6


def nfct_tuple(af, l4, t):
    """pyroute2's NFCTAttrTuple of a parsed tuple."""
    return NFCTAttrTuple(family=af, saddr=t['src'], daddr=t['dst'], proto=l4,
                         sport=t.get('sport'), dport=t.get('dport'),
                         icmp_id=t.get('icmpId'), icmp_type=t.get('icmpType'), icmp_code=t.get('icmpCode'))


def key_tuple(key):
    return nfct_tuple(family_of(key), protocol_number(key['protocol']), key)


# --- reading what pyroute2 decoded --------------------------------------------------------------
def read_tuple(af, t):
    ip = t.get_attr('CTA_TUPLE_IP')
    proto = t.get_attr('CTA_TUPLE_PROTO')
    v = 'V4' if af == socket.AF_INET else 'V6'
    out = {'src': ip.get_attr('CTA_IP_%s_SRC' % v), 'dst': ip.get_attr('CTA_IP_%s_DST' % v)}
    l4 = proto.get_attr('CTA_PROTO_NUM')
    if l4 in PORT_PROTOCOLS:
        for k, a in (('sport', 'CTA_PROTO_SRC_PORT'), ('dport', 'CTA_PROTO_DST_PORT')):
            if proto.get_attr(a) is not None:
                out[k] = proto.get_attr(a)
    elif l4 in ICMP_PROTOCOLS:
        p = 'CTA_PROTO_ICMP_' if l4 == 1 else 'CTA_PROTO_ICMPV6_'
        for k, a in (('icmpType', 'TYPE'), ('icmpCode', 'CODE'), ('icmpId', 'ID')):
            if proto.get_attr(p + a) is not None:
                out[k] = proto.get_attr(p + a)
    return l4, out


def read_msg(msg):
    af = msg['nfgen_family']
    if af not in (socket.AF_INET, socket.AF_INET6):
        raise AdapterError('EAFNOSUPPORT', 'entry of address family %d' % af)
    l4, orig = read_tuple(af, msg.get_attr('CTA_TUPLE_ORIG'))
    e = {'family': 'ipv4' if af == socket.AF_INET else 'ipv6', 'protocol': PROTOCOL_NAMES.get(l4, l4)}
    e.update(orig)
    zone = msg.get_attr('CTA_ZONE')
    e['zone'] = zone if zone is not None else 0
    reply = msg.get_attr('CTA_TUPLE_REPLY')
    if reply is not None:
        e['reply'] = read_tuple(af, reply)[1]
    for k, a in (('timeout', 'CTA_TIMEOUT'), ('mark', 'CTA_MARK')):
        if msg.get_attr(a) is not None:
            e[k] = msg.get_attr(a)
    e.setdefault('mark', 0)
    status = msg.get_attr('CTA_STATUS')
    if status is not None:
        e['status'] = [n for i, n in enumerate(STATUS_BITS) if status & (1 << i)]
    protoinfo = msg.get_attr('CTA_PROTOINFO')
    if protoinfo is not None and l4 in PROTOINFO:
        nest = protoinfo.get_attr(PROTOINFO[l4][0])
        n = nest.get_attr(PROTOINFO[l4][1]) if nest is not None else None
        if n is not None:
            e['state'] = STATE_NAMES[l4][n] if n < len(STATE_NAMES[l4]) else str(n)
    for k, a in (('id', 'CTA_ID'), ('use', 'CTA_USE')):
        if msg.get_attr(a) is not None:
            e[k] = msg.get_attr(a)
    labels = msg.get_attr('CTA_LABELS')
    if labels is not None:
        value = labels['value'] if hasattr(labels, '__getitem__') else labels
        if isinstance(value, int):
            e['labels'] = [b for b in range(128) if value & (1 << b)]
    return e


def read_conntrack_entry(af, ce):
    """A pyroute2 ConntrackEntry (Conntrack.dump_entries) in the model: only what it carries."""
    def tup(t):
        out = {'src': t.saddr, 'dst': t.daddr}
        for k, a in (('sport', 'sport'), ('dport', 'dport'), ('icmpType', 'icmp_type'),
                     ('icmpCode', 'icmp_code'), ('icmpId', 'icmp_id')):
            if getattr(t, a, None) is not None:
                out[k] = getattr(t, a)
        return out
    l4 = ce.tuple_orig.proto
    e = {'family': 'ipv4' if af == socket.AF_INET else 'ipv6', 'protocol': PROTOCOL_NAMES.get(l4, l4)}
    e.update(tup(ce.tuple_orig))
    e['zone'] = 0  # a ConntrackEntry has no zone
    e['reply'] = tup(ce.tuple_reply)
    if ce.timeout is not None:
        e['timeout'] = ce.timeout
    e['mark'] = ce.mark or 0
    if ce.status is not None:
        e['status'] = [n for n in ce.status_name().split(',') if n]
    if ce.protoinfo is not None:
        e['state'] = ce.protoinfo.state_name()
    if ce.id is not None:
        e['id'] = ce.id
    if ce.use is not None:
        e['use'] = ce.use
    return e


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
        if k in NO_API:
            raise AdapterError('UNSUPPORTED', 'filter.%s: %s' % (k, NO_API[k]))
        if k not in FILTER_KEYS:
            raise AdapterError('UNSUPPORTED', 'filter key %r is not supported by this adapter' % k)
    tests = []
    if 'zone' in f:
        if not is_int(f['zone'], 0, 65535):
            raise invalid('filter.zone: an integer 0..65535 expected')
        tests.append(lambda e, v=f['zone']: e.get('zone', 0) == v)
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
        tests.append(lambda e, bits=bits: all(STATUS_BITS[i] in e.get('status', [])
                                              for i in range(len(STATUS_BITS)) if bits & (1 << i)))
    if 'state' in f:
        if not isinstance(f['state'], str):
            raise invalid('filter.state: a state name expected')
        tests.append(lambda e, v=f['state']: e.get('state') == v)
    if 'nat' in f:
        wanted = {'src': {'SRC_NAT'}, 'dst': {'DST_NAT'}, 'any': {'SRC_NAT', 'DST_NAT'}}.get(f['nat'])
        if wanted is None:
            raise invalid("filter.nat: 'src', 'dst' or 'any' expected")
        tests.append(lambda e, w=wanted: bool(w & set(e.get('status', []))))
    families = {'ipv4': [socket.AF_INET], 'ipv6': [socket.AF_INET6]}.get(f.get('family'),
                                                                         [socket.AF_INET, socket.AF_INET6])
    return families, (lambda e: all(t(e) for t in tests))


# --- operations ---------------------------------------------------------------------------------
def nat_binding(v, field, af, l4):
    if not isinstance(v, dict) or 'address' not in v:
        raise invalid('%s: { address, port? } expected' % field)
    a = parse_address(v['address'], field + '.address')
    if (a.version == 4) != (af == socket.AF_INET):
        raise invalid('%s.address: family does not match the entry' % field)
    ip = 'V4' if a.version == 4 else 'V6'
    attrs = [['CTA_NAT_%s_MINIP' % ip, str(a)], ['CTA_NAT_%s_MAXIP' % ip, str(a)]]
    port = v.get('port')
    if port is not None:
        if not is_int(port, 0, 65535) or l4 not in PORT_PROTOCOLS:
            raise invalid('%s.port: an integer 0..65535, for a protocol with ports, expected' % field)
        attrs.append(['CTA_NAT_PROTO', {'attrs': [['CTA_PROTONAT_PORT_MIN', port], ['CTA_PROTONAT_PORT_MAX', port]]}])
    return {'attrs': attrs}


def parse_create(e, i):
    field = 'entries[%d]' % i
    if isinstance(e, dict):
        no_api(e, field)
    key = parse_key(e, field)
    for k in e:
        if k not in CREATE_KEYS and k not in READ_ONLY_KEYS:
            raise AdapterError('UNSUPPORTED', '%s.%s: this adapter cannot create an entry with %s' % (field, k, k))
    af, l4 = family_of(key), protocol_number(key['protocol'])
    orig = key_tuple(key)
    kw = {'tuple_orig': orig, 'zone': key['zone']}
    if 'reply' in e:
        if 'snat' in e or 'dnat' in e:
            raise invalid(field + ': reply together with snat/dnat')
        _, r = parse_tuple(e['reply'], l4, field + '.reply', af)
        kw['tuple_reply'] = nfct_tuple(af, l4, r)
    else:
        kw['tuple_reply'] = orig.reverse()  # pyroute2's own inversion of the original tuple
    timeout = e.get('timeout', DEFAULT_TIMEOUT)
    if not is_int(timeout, 0, 0xFFFFFFFF):
        raise invalid(field + '.timeout: an integer expected')
    kw['timeout'] = timeout
    if 'mark' in e:
        if not is_int(e['mark'], 0, 0xFFFFFFFF):
            raise invalid(field + '.mark: a u32 expected')
        kw['mark'] = e['mark']
    if 'status' in e:
        kw['status'] = status_bits(e['status'], field + '.status')
    state = e.get('state')
    if state is None and l4 in (6, 132):
        state = 'ESTABLISHED'
    if state is not None:
        if l4 not in STATE_NAMES or state not in STATE_NAMES[l4]:
            raise invalid('%s.state: %r is not a state of %s' % (field, state, key['protocol']))
        nest, attr = PROTOINFO[l4]
        attrs = [[attr, STATE_NAMES[l4].index(state)]]
        if l4 == 132:  # verification tags, as conntrack -I sends them
            attrs += [['CTA_PROTOINFO_SCTP_VTAG_ORIGINAL', 1], ['CTA_PROTOINFO_SCTP_VTAG_REPLY', 2]]
        if l4 == 33:  # CT_DCCP_ROLE_CLIENT
            attrs.append(['CTA_PROTOINFO_DCCP_ROLE', 0])
        kw['protoinfo'] = {'attrs': [[nest, {'attrs': attrs}]]}
    if 'labels' in e:
        kw['labels'] = {'value': labels_of(e['labels'], field + '.labels')}
    for k, name in (('snat', 'nat_src'), ('dnat', 'nat_dst')):
        if k in e:
            kw[name] = nat_binding(e[k], field + '.' + k, af, l4)
    return key, kw


class Adapter:
    def __init__(self, high_level=False):
        self.high_level = high_level
        self.sockets = {}

    def ct(self, af):
        if af not in self.sockets:
            self.sockets[af] = Conntrack(nfgen_family=af)
        return self.sockets[af]

    def hello(self, req):
        if req.get('protocol') != 1:
            raise AdapterError('EPROTONOSUPPORT', 'this adapter speaks protocol 1, not %r' % req.get('protocol'))
        name = NAME + (' (Conntrack.dump_entries/delete)' if self.high_level else '')
        return {'name': name, 'version': versions(), 'operations': OPERATIONS}

    def _list(self, flt):
        families, match = compile_filter(flt)
        out = []
        for af in families:
            try:
                if self.high_level:
                    entries = [read_conntrack_entry(af, ce) for ce in self.ct(af).dump_entries()]
                else:
                    entries = [read_msg(m) for m in self.ct(af).dump()]
            except AdapterError:
                raise
            except Exception as e:
                raise from_exception('Conntrack.dump', e)
            out += [e for e in entries if match(e)]
        return out

    def list(self, req):
        return {'entries': self._list(req.get('filter'))}

    def count(self, req):
        return {'count': len(self._list(req.get('filter')))}

    def create(self, req):
        entries = req.get('entries')
        if not isinstance(entries, list):
            raise invalid('entries: a list expected')
        specs = [parse_create(e, i) for i, e in enumerate(entries)]
        first = None
        for i, (key, kw) in enumerate(specs):
            try:
                self.ct(family_of(key)).entry('add', **kw)
            except Exception as e:
                err = from_exception("Conntrack.entry('add') of entries[%d]" % i, e)
                log('create', json.dumps(key), err.code)
                first = first or err
        if first:
            raise first
        return {}

    def _delete_one(self, key):
        ct = self.ct(family_of(key))
        if self.high_level:
            ct.delete(key_tuple(key))
        else:
            ct.entry('del', tuple_orig=key_tuple(key), zone=key['zone'])

    def _delete_keys(self, keys):
        result = {'deleted': [], 'notFound': [], 'failed': []}
        for key in keys:
            try:
                self._delete_one(key)
                result['deleted'].append(key)
            except Exception as e:
                err = from_exception('Conntrack.delete' if self.high_level else "Conntrack.entry('del')", e)
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

    def _get(self, key):
        try:
            msg = self.ct(family_of(key)).entry('get', tuple_orig=key_tuple(key), zone=key['zone'])
        except Exception as e:
            err = from_exception("Conntrack.entry('get')", e)
            if err.code == 'ENOENT':
                return None
            raise err
        return read_msg(msg) if msg is not None else None

    def get(self, req):
        return {'entry': self._get(parse_key(req.get('entry'), 'entry'))}

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
        kw = {}
        if 'mark' in changes:
            if not is_int(changes['mark'], 0, 0xFFFFFFFF):
                raise invalid('changes.mark: a u32 expected')
            if 'markMask' in changes:
                if not is_int(changes['markMask'], 0, 0xFFFFFFFF):
                    raise invalid('changes.markMask: a u32 expected')
                # CTA_MARK_MASK: the kernel makes (old & ~mask) ^ mark.
                kw['mark'] = changes['mark'] & changes['markMask']
                kw['mark_mask'] = changes['markMask']
            else:
                kw['mark'] = changes['mark']
        elif 'markMask' in changes:
            raise invalid('changes.markMask: only with mark')
        if 'timeout' in changes:
            if not is_int(changes['timeout'], 0, 0xFFFFFFFF):
                raise invalid('changes.timeout: a u32 expected')
            kw['timeout'] = changes['timeout']
        new_status = status_bits(changes['status'], 'changes.status') if 'status' in changes else None
        if 'labels' in changes:
            labels = changes['labels']
            if isinstance(labels, dict):
                if not set(labels) <= {'add', 'remove'}:
                    raise invalid('changes.labels: a list or { add, remove } expected')
                add = labels_of(labels.get('add', []), 'changes.labels.add')
                remove = labels_of(labels.get('remove', []), 'changes.labels.remove')
                kw['labels'] = {'value': add & ~remove}
                kw['labels_mask'] = {'value': add | remove}
            else:
                kw['labels'] = {'value': labels_of(labels, 'changes.labels')}
                kw['labels_mask'] = {'value': ALL_LABELS}
        keys = [parse_key(e, 'entries[%d]' % i) for i, e in enumerate(entries)]
        result = {'updated': [], 'notFound': [], 'failed': []}
        for key in keys:
            try:
                args = dict(kw)
                if new_status is not None:
                    # The kernel refuses to clear status flags: send the current ones plus the new.
                    current = self._get(key)
                    if current is None:
                        result['notFound'].append(key)
                        continue
                    args['status'] = status_bits(current.get('status', [])) | new_status
                self.ct(family_of(key)).entry('set', tuple_orig=key_tuple(key), zone=key['zone'], **args)
                result['updated'].append(key)
            except AdapterError as err:
                result['failed'].append({'entry': key, 'error': {'code': err.code, 'message': err.message}})
            except Exception as e:
                err = from_exception("Conntrack.entry('set')", e)
                if err.code == 'ENOENT':
                    result['notFound'].append(key)
                else:
                    result['failed'].append({'entry': key, 'error': {'code': err.code, 'message': err.message}})
        return result


def main(argv):
    high = False
    args = list(argv)
    while args:
        a = args.pop(0)
        if a == '--api' and args and args[0] in ('conntrack', 'nfct'):
            high = args.pop(0) == 'conntrack'
        elif a in ('--api=conntrack', '--api=nfct'):
            high = a.endswith('conntrack')
        else:
            print('usage: adapter.py [--api nfct|conntrack]', file=sys.stderr)
            return 2
    adapter = Adapter(high)
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
        except Exception as e:
            log('internal error:', repr(e))
            resp = {'id': rid, 'ok': False, 'error': {'code': 'EADAPTER', 'message': '%s: %s' % (type(e).__name__, e)}}
        if not is_int(rid, 1, 2 ** 53):
            log('cannot answer a request without an id:', line.strip()[:200])
            continue
        out.write(json.dumps(resp, separators=(',', ':')) + '\n')
        out.flush()
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
