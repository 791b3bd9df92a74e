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
# What is the harness's and not pyroute2's (the entry model, checking requests, filters, the request
# loop) is adapters/common/harness_model.py, shared with the nfct-ctypes adapter.
# What pyroute2 has no API for is UNSUPPORTED: directional zones (origZone/replyZone; its tuple
# has no CTA_TUPLE_ZONE), helpers.
#
# Options:
#   --api conntrack   use pyroute2's high-level helpers where it has them instead: list through
#                     Conntrack.dump_entries() (ConntrackEntry objects: no zone, TCP state through
#                     NFCTATcpProtoInfo.state_name(), status through ConntrackEntry.status_name())
#                     and delete through Conntrack.delete(NFCTAttrTuple) (no zone)
import errno
import os
import socket
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

# harness_model.py is in adapters/common, beside this adapter's directory and on no path Python
# searches: found from this file's real location (any working directory, a symlinked adapter).
sys.path.insert(0, os.path.join(os.path.dirname(os.path.realpath(__file__)), '..', 'common'))
sys.dont_write_bytecode = True  # no __pycache__ left in adapters/common (the package ships that directory)
from harness_model import (  # noqa: E402
    ICMP_PROTOCOLS, PORT_PROTOCOLS, PROTOCOL_NAMES, Adapter, AdapterError, deb_version, errno_error, family_of,
    option, protocol_number, serve, set_log_name, state_name, status_bits, status_names,
)

NAME = 'pyroute2'
set_log_name(NAME)

# CTA_PROTOINFO_* nest and state attribute, as pyroute2's nfct_msg.cta_protoinfo names them
PROTOINFO = {6: ('CTA_PROTOINFO_TCP', 'CTA_PROTOINFO_TCP_STATE'),
             132: ('CTA_PROTOINFO_SCTP', 'CTA_PROTOINFO_SCTP_STATE'),
             33: ('CTA_PROTOINFO_DCCP', 'CTA_PROTOINFO_DCCP_STATE')}
NO_ZONE_API = ("pyroute2 0.7.2 has no API for directional zones: NFCTAttrTuple has no zone and "
               "nfct_msg.cta_tuple does not decode CTA_TUPLE_ZONE")
NO_API = {
    'origZone': NO_ZONE_API,
    'replyZone': NO_ZONE_API,
    'helper': "pyroute2 0.7.2 maps CTA_HELP to a plain string, not the nested CTA_HELP_NAME the kernel expects",
}
ALL_LABELS = (1 << 128) - 1


def from_exception(call, e):
    """A pyroute2 failure as an error: NetlinkError carries the kernel's errno."""
    if isinstance(e, NetlinkError):
        return errno_error(call, e.code)
    return AdapterError('EPYROUTE2', '%s: %s: %s' % (call, type(e).__name__, e))


def versions():
    try:
        from importlib.metadata import version
        v = version('pyroute2')
    except Exception:
        v = None
    deb = deb_version('python3-pyroute2')
    if v and deb:
        return 'pyroute2 %s (Debian python3-pyroute2 %s)' % (v, deb)
    return 'pyroute2 ' + (v or deb or 'unknown')


def nfct_tuple(af, l4, t):
    """pyroute2's NFCTAttrTuple of a parsed tuple."""
    return NFCTAttrTuple(family=af, saddr=t['src'], daddr=t['dst'], proto=l4,
                         sport=t.get('sport'), dport=t.get('dport'),
                         icmp_id=t.get('icmpId'), icmp_type=t.get('icmpType'), icmp_code=t.get('icmpCode'))


def key_tuple(key):
    return nfct_tuple(family_of(key), protocol_number(key['protocol']), key)


# --- reading what pyroute2 decoded --------------------------------------------------------------
def decoded(nla, names):
    """{key: value} of the attributes among names ((key, attribute name) pairs) that nla carries."""
    out = {}
    for k, a in names:
        v = nla.get_attr(a)
        if v is not None:
            out[k] = v
    return out


def read_tuple(af, t):
    ip = t.get_attr('CTA_TUPLE_IP')
    proto = t.get_attr('CTA_TUPLE_PROTO')
    v = 'V4' if af == socket.AF_INET else 'V6'
    out = {'src': ip.get_attr('CTA_IP_%s_SRC' % v), 'dst': ip.get_attr('CTA_IP_%s_DST' % v)}
    l4 = proto.get_attr('CTA_PROTO_NUM')
    if l4 in PORT_PROTOCOLS:
        out.update(decoded(proto, (('sport', 'CTA_PROTO_SRC_PORT'), ('dport', 'CTA_PROTO_DST_PORT'))))
    elif l4 in ICMP_PROTOCOLS:
        p = 'CTA_PROTO_ICMP_' if l4 == 1 else 'CTA_PROTO_ICMPV6_'
        out.update(decoded(proto, (('icmpType', p + 'TYPE'), ('icmpCode', p + 'CODE'), ('icmpId', p + 'ID'))))
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
    e.update(decoded(msg, (('timeout', 'CTA_TIMEOUT'), ('mark', 'CTA_MARK'))))
    e.setdefault('mark', 0)
    status = msg.get_attr('CTA_STATUS')
    if status is not None:
        e['status'] = status_names(status)
    protoinfo = msg.get_attr('CTA_PROTOINFO')
    if protoinfo is not None and l4 in PROTOINFO:
        nest = protoinfo.get_attr(PROTOINFO[l4][0])
        n = nest.get_attr(PROTOINFO[l4][1]) if nest is not None else None
        if n is not None:
            e['state'] = state_name(l4, n)
    e.update(decoded(msg, (('id', 'CTA_ID'), ('use', 'CTA_USE'))))
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


# --- writing through pyroute2 -------------------------------------------------------------------
def label_mask(bits):
    """A set of label bits as the integer pyroute2 sends as CTA_LABELS."""
    mask = 0
    for b in bits:
        mask |= 1 << b
    return mask


def nat_binding(address, port):
    """A parsed snat/dnat as pyroute2's CTA_NAT_SRC/CTA_NAT_DST nest."""
    ip = 'V4' if address.version == 4 else 'V6'
    attrs = [['CTA_NAT_%s_MINIP' % ip, str(address)], ['CTA_NAT_%s_MAXIP' % ip, str(address)]]
    if port is not None:
        attrs.append(['CTA_NAT_PROTO', {'attrs': [['CTA_PROTONAT_PORT_MIN', port], ['CTA_PROTONAT_PORT_MAX', port]]}])
    return {'attrs': attrs}


def create_arguments(spec):
    """Conntrack.entry('add') keyword arguments of a parsed entry to create."""
    key = spec['key']
    af, l4 = family_of(key), protocol_number(key['protocol'])
    orig = nfct_tuple(af, l4, key)
    kw = {'tuple_orig': orig, 'zone': key['zone']}
    if 'reply' in spec:
        kw['tuple_reply'] = nfct_tuple(af, l4, spec['reply'])
    else:
        kw['tuple_reply'] = orig.reverse()  # pyroute2's own inversion of the original tuple
    kw['timeout'] = spec['timeout']
    for k in ('mark', 'status'):
        if k in spec:
            kw[k] = spec[k]
    if 'state' in spec:
        nest, attr = PROTOINFO[l4]
        attrs = [[attr, spec['state']]]
        if l4 == 132:  # verification tags, as conntrack -I sends them
            attrs += [['CTA_PROTOINFO_SCTP_VTAG_ORIGINAL', 1], ['CTA_PROTOINFO_SCTP_VTAG_REPLY', 2]]
        if l4 == 33:  # CT_DCCP_ROLE_CLIENT
            attrs.append(['CTA_PROTOINFO_DCCP_ROLE', 0])
        kw['protoinfo'] = {'attrs': [[nest, {'attrs': attrs}]]}
    if 'labels' in spec:
        kw['labels'] = {'value': label_mask(spec['labels'])}
    for k, name in (('snat', 'nat_src'), ('dnat', 'nat_dst')):
        if k in spec:
            kw[name] = nat_binding(*spec[k])
    return kw


def update_arguments(changes):
    """Conntrack.entry('set') keyword arguments of parsed changes (status apart: it needs the entry)."""
    kw = {}
    if 'mark' in changes:
        if 'markMask' in changes:
            # CTA_MARK_MASK: the kernel makes (old & ~mask) ^ mark.
            kw['mark'] = changes['mark'] & changes['markMask']
            kw['mark_mask'] = changes['markMask']
        else:
            kw['mark'] = changes['mark']
    if 'timeout' in changes:
        kw['timeout'] = changes['timeout']
    if 'labels' in changes:
        labels = changes['labels']
        if isinstance(labels, dict):
            kw['labels'] = {'value': label_mask(labels['add'] - labels['remove'])}
            kw['labels_mask'] = {'value': label_mask(labels['add'] | labels['remove'])}
        else:
            kw['labels'] = {'value': label_mask(labels)}
            kw['labels_mask'] = {'value': ALL_LABELS}
    return kw


# --- operations ---------------------------------------------------------------------------------
class Pyroute2Adapter(Adapter):
    """The protocol's ops (harness_model.Adapter) through one Conntrack socket per family."""

    UNSUPPORTED = NO_API
    REPLY_CHECKED_FIRST = True  # the reply tuple was built right after the original one
    REPLY_NEEDS_PORTS = False  # pyroute2 sends what it is given
    NAT_PORT_ONE_MESSAGE = True
    MARK_MASK_ONE_MESSAGE = False
    NULL_LABELS_UNCHANGED = False
    LOG_UNANSWERED_ERROR = False

    def __init__(self, high_level=False):
        self.high_level = high_level
        self.sockets = {}

    def ct(self, af):
        if af not in self.sockets:
            self.sockets[af] = Conntrack(nfgen_family=af)
        return self.sockets[af]

    def identity(self):
        return NAME + (' (Conntrack.dump_entries/delete)' if self.high_level else ''), versions()

    def dump(self, family):
        out = []
        families = {'ipv4': [socket.AF_INET], 'ipv6': [socket.AF_INET6]}.get(family, [socket.AF_INET, socket.AF_INET6])
        for af in families:
            try:
                if self.high_level:
                    out += [read_conntrack_entry(af, ce) for ce in self.ct(af).dump_entries()]
                else:
                    out += [read_msg(m) for m in self.ct(af).dump()]
            except AdapterError:
                raise
            except Exception as e:
                raise from_exception('Conntrack.dump', e)
        return out

    def parse_create(self, e, i):
        spec = super().parse_create(e, i)
        spec['kw'] = create_arguments(spec)  # pyroute2's objects, made as each entry is checked
        return spec

    def create_one(self, _session, i, spec):
        try:
            self.ct(family_of(spec['key'])).entry('add', **spec['kw'])
        except Exception as e:
            return from_exception("Conntrack.entry('add') of entries[%d]" % i, e)
        return None

    def delete_one(self, _session, key):
        try:
            ct = self.ct(family_of(key))
            if self.high_level:
                ct.delete(key_tuple(key))
            else:
                ct.entry('del', tuple_orig=key_tuple(key), zone=key['zone'])
        except Exception as e:
            raise from_exception('Conntrack.delete' if self.high_level else "Conntrack.entry('del')", e)

    def get_one(self, _session, key):
        try:
            msg = self.ct(family_of(key)).entry('get', tuple_orig=key_tuple(key), zone=key['zone'])
        except Exception as e:
            err = from_exception("Conntrack.entry('get')", e)
            if err.code == 'ENOENT':
                return None
            raise err
        return read_msg(msg) if msg is not None else None

    def update_one(self, session, key, changes):
        try:
            args = update_arguments(changes)
            if 'status' in changes:
                # The kernel refuses to clear status flags: send the current ones plus the new.
                current = self.get_one(session, key)
                if current is None:
                    return False
                args['status'] = status_bits(current.get('status', [])) | changes['status']
            self.ct(family_of(key)).entry('set', tuple_orig=key_tuple(key), zone=key['zone'], **args)
        except AdapterError:
            raise
        except Exception as e:
            raise from_exception("Conntrack.entry('set')", e)
        return True


def main(argv):
    high = option(argv, '--api', ('conntrack', 'nfct'), 'usage: adapter.py [--api nfct|conntrack]') == 'conntrack'
    return serve(Pyroute2Adapter(high))


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
