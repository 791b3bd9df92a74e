#!/usr/bin/env python3
# The bench's peer for "delete N known tuples": the seed system's approach (Neutron's netlink_lib),
# libnetfilter_conntrack through ctypes, one handle and one nfct_query(NFCT_Q_DESTROY) per entry.
# Written from the library's documented API (libnetfilter_conntrack.h); run inside the namespace
# (`ip netns exec NS python3 bench-peer-nfct.py FILE`). FILE has one entry a line:
#   family protocol src dst sport dport zone      (ipv4|ipv6, udp|tcp, ports and zone in decimal)
# Prints one JSON line: deleted, failed (with the first errno), and the loop's time in ms.
import ctypes
import json
import os
import socket
import sys
import time

CONNTRACK = 1  # NFNL_SUBSYS_CTNETLINK
NFCT_Q_DESTROY = 2
# enum nf_conntrack_attr
ATTR_IPV4_SRC, ATTR_IPV4_DST, ATTR_IPV6_SRC, ATTR_IPV6_DST = 0, 1, 4, 5
ATTR_PORT_SRC, ATTR_PORT_DST = 8, 9
ATTR_L3PROTO, ATTR_L4PROTO = 15, 17
ATTR_ZONE = 61
PROTOCOLS = {'udp': socket.IPPROTO_UDP, 'tcp': socket.IPPROTO_TCP}


def load():
    lib = ctypes.CDLL('libnetfilter_conntrack.so.3', use_errno=True)
    lib.nfct_open.restype = ctypes.c_void_p
    lib.nfct_open.argtypes = [ctypes.c_uint8, ctypes.c_uint]
    lib.nfct_close.argtypes = [ctypes.c_void_p]
    lib.nfct_new.restype = ctypes.c_void_p
    lib.nfct_destroy.argtypes = [ctypes.c_void_p]
    lib.nfct_set_attr.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p]
    lib.nfct_set_attr_u8.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_uint8]
    lib.nfct_set_attr_u16.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_uint16]
    lib.nfct_query.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p]
    return lib


def main():
    lib = load()
    if len(sys.argv) == 2 and sys.argv[1] == '--probe':
        print(json.dumps({'ok': True}))
        return
    with open(sys.argv[1]) as f:
        entries = [line.split() for line in f if line.strip()]
    handle = lib.nfct_open(CONNTRACK, 0)
    if not handle:
        raise OSError(ctypes.get_errno(), 'nfct_open failed')
    deleted, failed, first_errno = 0, 0, None
    started = time.perf_counter()
    for family, protocol, src, dst, sport, dport, zone in entries:
        ct = lib.nfct_new()
        af = socket.AF_INET if family == 'ipv4' else socket.AF_INET6
        # Addresses stay in network byte order: their bytes are what the library copies.
        src_bytes = ctypes.create_string_buffer(socket.inet_pton(af, src), 16)
        dst_bytes = ctypes.create_string_buffer(socket.inet_pton(af, dst), 16)
        lib.nfct_set_attr_u8(ct, ATTR_L3PROTO, af)
        lib.nfct_set_attr(ct, ATTR_IPV4_SRC if af == socket.AF_INET else ATTR_IPV6_SRC, src_bytes)
        lib.nfct_set_attr(ct, ATTR_IPV4_DST if af == socket.AF_INET else ATTR_IPV6_DST, dst_bytes)
        lib.nfct_set_attr_u8(ct, ATTR_L4PROTO, PROTOCOLS[protocol])
        lib.nfct_set_attr_u16(ct, ATTR_PORT_SRC, socket.htons(int(sport)))
        lib.nfct_set_attr_u16(ct, ATTR_PORT_DST, socket.htons(int(dport)))
        lib.nfct_set_attr_u16(ct, ATTR_ZONE, int(zone))
        if lib.nfct_query(handle, NFCT_Q_DESTROY, ct) == 0:
            deleted += 1
        else:
            failed += 1
            first_errno = first_errno or os.strerror(ctypes.get_errno())
        lib.nfct_destroy(ct)
    ms = (time.perf_counter() - started) * 1000
    lib.nfct_close(handle)
    print(json.dumps({'deleted': deleted, 'failed': failed, 'firstError': first_errno, 'ms': ms}))


main()
