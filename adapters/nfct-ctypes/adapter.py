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
# What is the harness's and not the library's (the entry model, checking requests, filters, the
# request loop) is adapters/common/harness_model.py, shared with the pyroute2 adapter.
#
# Options:
#   --break drop-zone-on-delete   deletes do not set ATTR_ZONE (a deliberately broken variant)
# Stdlib only.
import ctypes
import errno
import os
import socket
import sys

# harness_model.py is in adapters/common, beside this adapter's directory and on no path Python
# searches: found from this file's real location (any working directory, a symlinked adapter).
sys.path.insert(0, os.path.join(os.path.dirname(os.path.realpath(__file__)), '..', 'common'))
sys.dont_write_bytecode = True  # no __pycache__ left in adapters/common (the package ships that directory)
from harness_model import (  # noqa: E402
    ICMP_PROTOCOLS, PORT_PROTOCOLS, PROTOCOL_NAMES, Adapter, AdapterError, deb_version, errno_error, family_of, log,
    option, protocol_number, serve, set_log_name, state_name, status_bits, status_names,
)

NAME = 'nfct-ctypes'
LIBRARY = 'libnetfilter_conntrack.so.3'
set_log_name(NAME)

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
# the state attribute of each protocol the model has states of
STATE_ATTR = {6: ATTR_TCP_STATE, 132: ATTR_SCTP_STATE, 33: ATTR_DCCP_STATE}


# --- the library --------------------------------------------------------------------------------
CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p)


class Closing:
    """What the library allocated, given back by close(), also on leaving a with block."""

    def __enter__(self):
        return self

    def __exit__(self, *_):
        self.close()


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
    package = deb_version('libnetfilter-conntrack3')
    if package and so:
        return 'libnetfilter_conntrack %s (%s)' % (package, so)
    return package or so or 'unknown'


class Handle(Closing):
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
        """One nfct_query; `entries` holds what this query's answer carried, and only that."""
        self.entries, self.error = [], None
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


# --- reading an entry ---------------------------------------------------------------------------
# One direction's tuple attributes: (L3PROTO, L4PROTO, {family: (SRC, DST)}, (PORT_SRC, PORT_DST)).
ORIG = (ATTR_ORIG_L3PROTO, ATTR_ORIG_L4PROTO,
        {socket.AF_INET: (ATTR_ORIG_IPV4_SRC, ATTR_ORIG_IPV4_DST), socket.AF_INET6: (ATTR_ORIG_IPV6_SRC, ATTR_ORIG_IPV6_DST)},
        (ATTR_ORIG_PORT_SRC, ATTR_ORIG_PORT_DST))
REPL = (ATTR_REPL_L3PROTO, ATTR_REPL_L4PROTO,
        {socket.AF_INET: (ATTR_REPL_IPV4_SRC, ATTR_REPL_IPV4_DST), socket.AF_INET6: (ATTR_REPL_IPV6_SRC, ATTR_REPL_IPV6_DST)},
        (ATTR_REPL_PORT_SRC, ATTR_REPL_PORT_DST))
FAMILY_SIZES = {socket.AF_INET: ('ipv4', 4), socket.AF_INET6: ('ipv6', 16)}


def read_entry(lib, ct):
    def is_set(attr):
        return lib.nfct_attr_is_set(ct, attr) > 0

    def read_tuple(direction):
        """Addresses and ports of one direction, or None when its addresses are not there."""
        _, _, addresses, ports = direction
        if not all(is_set(attr) for attr in addresses[af]):
            return None
        t = {field: socket.inet_ntop(af, ctypes.string_at(lib.nfct_get_attr(ct, attr), size))
             for attr, field in zip(addresses[af], ('src', 'dst'))}
        if l4 in PORT_PROTOCOLS:
            for attr, field in zip(ports, ('sport', 'dport')):
                if is_set(attr):
                    t[field] = socket.ntohs(lib.nfct_get_attr_u16(ct, attr))
        return t

    af = lib.nfct_get_attr_u8(ct, ATTR_ORIG_L3PROTO)
    l4 = lib.nfct_get_attr_u8(ct, ATTR_ORIG_L4PROTO)
    if af not in FAMILY_SIZES:
        raise AdapterError('EAFNOSUPPORT', 'entry of address family %d' % af)
    family, size = FAMILY_SIZES[af]
    e = {'family': family, 'protocol': PROTOCOL_NAMES.get(l4, l4), **(read_tuple(ORIG) or {})}
    if l4 in ICMP_PROTOCOLS:
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
    # The library keeps no ICMP fields of the reply tuple (ATTR_ICMP_* are the original's).
    reply = read_tuple(REPL)
    if reply is not None:
        e['reply'] = reply
    if is_set(ATTR_TIMEOUT):
        e['timeout'] = lib.nfct_get_attr_u32(ct, ATTR_TIMEOUT)
    e['mark'] = lib.nfct_get_attr_u32(ct, ATTR_MARK) if is_set(ATTR_MARK) else 0
    if is_set(ATTR_STATUS):
        e['status'] = status_names(lib.nfct_get_attr_u32(ct, ATTR_STATUS))
    if l4 in STATE_ATTR and is_set(STATE_ATTR[l4]):
        e['state'] = state_name(l4, lib.nfct_get_attr_u8(ct, STATE_ATTR[l4]))
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


# --- building an object -------------------------------------------------------------------------
class Ct(Closing):
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

    def close(self):
        if self.p:
            self.lib.nfct_destroy(self.p)
            self.p = None


def set_tuple(ct, direction, af, l4, t):
    """Addresses (bytes in network order) and ports of tuple `t` in `direction` (ORIG or REPL)."""
    l3_attr, l4_attr, addresses, ports = direction
    ct.u8(l3_attr, af)
    ct.u8(l4_attr, l4)
    for attr, field in zip(addresses[af], ('src', 'dst')):
        ct.buf(attr, socket.inet_pton(af, t[field]))
    if l4 in PORT_PROTOCOLS:
        for attr, field in zip(ports, ('sport', 'dport')):
            ct.u16(attr, socket.htons(t[field]))


def set_key(ct, key, with_zone=True):
    """The original tuple (and zones) of `key`, as parse_key made it."""
    af = family_of(key)
    l4 = protocol_number(key['protocol'])
    set_tuple(ct, ORIG, af, l4, key)
    # The library has ICMP attributes for the original tuple only.
    if l4 in ICMP_PROTOCOLS:
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


def build_create(lib, spec):
    ct = Ct(lib)
    key = spec['key']
    af, l4 = set_key(ct, key, with_zone=key['zone'] != 0)
    if 'reply' in spec:
        set_tuple(ct, REPL, af, l4, spec['reply'])
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
            address, port = spec[k]
            ct.buf(addr_attr4 if af == socket.AF_INET else addr_attr6, address.packed)
            if port is not None:
                ct.u16(port_attr, socket.htons(port))
    return ct


# --- operations ---------------------------------------------------------------------------------
class NfctAdapter(Adapter):
    """The protocol's ops (harness_model.Adapter) through one nfct handle per request."""

    def __init__(self, lib, drop_zone_on_delete=False):
        self.lib = lib
        self.drop_zone_on_delete = drop_zone_on_delete

    def identity(self):
        return NAME + ('-broken-drop-zone-on-delete' if self.drop_zone_on_delete else ''), library_version()

    def session(self):
        return Handle(self.lib)

    def dump(self, family):
        fam = ctypes.c_uint32({'ipv4': socket.AF_INET, 'ipv6': socket.AF_INET6}.get(family, socket.AF_UNSPEC))
        with Handle(self.lib) as h:
            h.query(NFCT_Q_DUMP, ctypes.byref(fam), 'nfct_query(NFCT_Q_DUMP)')
            return h.entries

    def create_one(self, h, i, spec):
        with build_create(self.lib, spec) as ct:
            try:
                h.query(NFCT_Q_CREATE, ct.p, 'nfct_query(NFCT_Q_CREATE) of entries[%d]' % i)
            except AdapterError as err:
                return err
        return None

    def delete_one(self, h, key):
        with Ct(self.lib) as ct:
            set_key(ct, key, with_zone=not self.drop_zone_on_delete)
            h.query(NFCT_Q_DESTROY, ct.p, 'nfct_query(NFCT_Q_DESTROY)')

    def get_one(self, h, key):
        with Ct(self.lib) as ct:
            set_key(ct, key)
            try:
                h.query(NFCT_Q_GET, ct.p, 'nfct_query(NFCT_Q_GET)')
            except AdapterError as err:
                if err.code == 'ENOENT':
                    return None
                raise
        return h.entries[0] if h.entries else None

    def update_one(self, h, key, changes):
        # Read the entry first: status flags can only be added to the current ones (the kernel
        # refuses to clear them), a masked mark and label edits start from it.
        current = self.get_one(h, key)
        if current is None:
            return False
        with Ct(self.lib) as ct:
            set_key(ct, key)
            if 'mark' in changes:
                mask = changes.get('markMask', 0xFFFFFFFF)
                ct.u32(ATTR_MARK, (current.get('mark', 0) & ~mask & 0xFFFFFFFF) | (changes['mark'] & mask))
            if 'timeout' in changes:
                ct.u32(ATTR_TIMEOUT, changes['timeout'])
            if 'status' in changes:
                ct.u32(ATTR_STATUS, status_bits(current.get('status', [])) | changes['status'])
            if 'labels' in changes:
                labels = changes['labels']
                if isinstance(labels, dict):
                    bits = (set(current.get('labels', [])) | labels['add']) - labels['remove']
                else:
                    bits = labels
                ct.labels(ATTR_CONNLABELS, bits)
                ct.labels(ATTR_CONNLABELS_MASK, range(128))
            h.query(NFCT_Q_UPDATE, ct.p, 'nfct_query(NFCT_Q_UPDATE)')
        return True


def main(argv):
    drop_zone = option(argv, '--break', ('drop-zone-on-delete',),
                       'usage: adapter.py [--break drop-zone-on-delete]') is not None
    try:
        lib = load_library()
    except OSError as e:
        log('cannot load %s: %s' % (LIBRARY, e))
        return 1
    adapter = NfctAdapter(lib, drop_zone)
    if drop_zone:
        log('deliberately broken: deletes do not set ATTR_ZONE')
    return serve(adapter)


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
