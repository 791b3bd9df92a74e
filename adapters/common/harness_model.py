# conntrack-harness: what the reference adapters share (docs/adapters.md). Stdlib only, Python 3.9+.
#
# Everything here is about the harness, none of it about a conntrack library: the entry model's
# tables (docs/client.md, harness/conntrack/entry.ts), checking the input of a request (keys, entries
# to create, changes, filters) and normalizing it, applying a filter to listed entries, each op's
# protocol side, the request loop (one JSON request a line on stdin, one JSON line on stdout, logs
# on stderr) and an adapter's one command-line option. An adapter subclasses Adapter and supplies
# only its library's part: identity, dump, create_one, delete_one, get_one, update_one (and
# session, when one handle serves a request).
#
# The reference adapters do not all answer alike, and what each answers is what the tests and the
# conformance reports measure: where they differ, a class attribute of Adapter says which way
# (UNSUPPORTED, REPLY_CHECKED_FIRST, ...), the defaults being nfct-ctypes's.
import contextlib
import errno
import ipaddress
import json
import os
import socket
import subprocess
import sys
import time

# --- the harness's entry model ------------------------------------------------------------------
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
DEFAULT_TIMEOUT = 120
DIRECTIONAL_ZONES = ('origZone', 'replyZone')
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
    """A failure answered as `{ok: false, error: {code, message}}`."""

    def __init__(self, code, message):
        super().__init__(message)
        self.code = code
        self.message = message


def errno_error(call, err):
    """A failed library call as an error named by its errno (ENOENT, EEXIST, ...)."""
    return AdapterError(errno.errorcode.get(err, 'E%d' % err), '%s: %s' % (call, os.strerror(err)))


def deb_version(package):
    """The version dpkg knows for `package`, or None."""
    try:
        out = subprocess.run(['dpkg-query', '-W', '-f=${Version}', package], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def invalid(message):
    return AdapterError('EINVAL', message)


LOG_NAME = 'adapter'


def set_log_name(name):
    """The adapter's name, which starts every line log() writes."""
    global LOG_NAME
    LOG_NAME = name


def log(*parts):
    print(LOG_NAME + ':', *parts, file=sys.stderr, flush=True)


# --- reading entries into the model -------------------------------------------------------------
def status_names(bits):
    return [name for i, name in enumerate(STATUS_BITS) if bits & (1 << i)]


def state_name(l4, n):
    names = STATE_NAMES[l4]
    return names[n] if n < len(names) else str(n)


def family_of(key):
    """The address family of a parsed key."""
    return socket.AF_INET if key['family'] == 'ipv4' else socket.AF_INET6


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
    """A list of label bits, checked: the set of them."""
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


def in_prefix(text, net):
    if text is None:
        return False
    a = ipaddress.ip_address(text)
    return a.version == net.version and a in net


# --- the protocol -------------------------------------------------------------------------------
class Adapter:
    """The ops of the protocol over a library that a subclass supplies:

    identity()                       -> (name, version) for hello
    dump(family)                     -> every entry of 'ipv4', 'ipv6' or (None) both, in the model
    create_one(session, i, spec)     -> None, or the AdapterError of entries[i] (spec: parse_create)
    delete_one(session, key)         deletes; raises AdapterError (ENOENT: not found)
    get_one(session, key)            -> the entry, or None when there is none
    update_one(session, key, changes) -> False when there is no such entry (changes: parse_changes);
                                     raises AdapterError (ENOENT: not found)
    session()                        a context manager for what one request's calls share
    """

    # Keys the library has no API for, each with the reason: UNSUPPORTED in a filter or an entry to
    # create, and for the key fields among them (directional zones) in get/delete/update keys too.
    UNSUPPORTED = {}
    # create: the reply tuple is checked before the entry's other fields, not after its labels.
    REPLY_CHECKED_FIRST = False
    # create: a given reply tuple of a protocol with ports must have both ports.
    REPLY_NEEDS_PORTS = True
    # create: one message for any bad snat/dnat port (not an integer, or a protocol without ports).
    NAT_PORT_ONE_MESSAGE = False
    # update: one message for any bad markMask (not a u32, or without mark).
    MARK_MASK_ONE_MESSAGE = True
    # update: `labels: null` changes nothing (rather than being an invalid list).
    NULL_LABELS_UNCHANGED = True
    # the request loop: a request it cannot answer (no id) is logged with its error message.
    LOG_UNANSWERED_ERROR = True

    def session(self):
        return contextlib.nullcontext()

    # --- requests in the model ---
    def refuse(self, keys, field):
        for k in keys:
            if k in self.UNSUPPORTED:
                raise AdapterError('UNSUPPORTED', '%s.%s: %s' % (field, k, self.UNSUPPORTED[k]))

    def parse_key(self, e, field='entry'):
        """The lookup key of an input entry: family, protocol, tuple, zone(s); echoed in verdicts."""
        if not isinstance(e, dict):
            raise invalid('%s: an object expected' % field)
        self.refuse([k for k in e if k in DIRECTIONAL_ZONES], field)
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
        for k in DIRECTIONAL_ZONES:
            if k in e:
                if not is_int(e[k], 0, 65535):
                    raise invalid('%s.%s: an integer 0..65535 expected' % (field, k))
                key[k] = e[k]
        return key

    def parse_nat(self, v, field, af, l4):
        """snat/dnat: (address, port or None)."""
        if not isinstance(v, dict) or 'address' not in v:
            raise invalid('%s: { address, port? } expected' % field)
        a = parse_address(v['address'], field + '.address')
        if (a.version == 4) != (af == socket.AF_INET):
            raise invalid('%s.address: family does not match the entry' % field)
        port = v.get('port')
        if port is not None:
            if self.NAT_PORT_ONE_MESSAGE and (not is_int(port, 0, 65535) or l4 not in PORT_PROTOCOLS):
                raise invalid('%s.port: an integer 0..65535, for a protocol with ports, expected' % field)
            if not is_int(port, 0, 65535):
                raise invalid('%s.port: an integer 0..65535 expected' % field)
            if l4 not in PORT_PROTOCOLS:
                raise invalid('%s.port: protocol has no ports' % field)
        return a, port

    def parse_create(self, e, i):
        """entries[i] of a create, checked: {key, timeout, mark?, status? (bits), state? (number),
        labels? (set), reply? (tuple), snat?, dnat? (parse_nat)}."""
        field = 'entries[%d]' % i
        if isinstance(e, dict):
            self.refuse(e, field)
        key = self.parse_key(e, field)
        for k in e:
            if k not in CREATE_KEYS and k not in READ_ONLY_KEYS:
                raise AdapterError('UNSUPPORTED', '%s.%s: this adapter cannot create an entry with %s' % (field, k, k))
        l4 = protocol_number(key['protocol'])
        af = family_of(key)
        spec = {'key': key}

        def reply():
            if 'reply' in e:
                if 'snat' in e or 'dnat' in e:
                    raise invalid(field + ': reply together with snat/dnat')
                _, spec['reply'] = parse_tuple(e['reply'], l4, field + '.reply', af)
                if self.REPLY_NEEDS_PORTS and l4 in PORT_PROTOCOLS \
                        and not ('sport' in spec['reply'] and 'dport' in spec['reply']):
                    raise invalid(field + '.reply: sport and dport are needed')

        if self.REPLY_CHECKED_FIRST:
            reply()
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
        if not self.REPLY_CHECKED_FIRST:
            reply()
        for k in ('snat', 'dnat'):
            if k in e:
                spec[k] = self.parse_nat(e[k], field + '.' + k, af, l4)
        return spec

    def parse_changes(self, changes):
        """The changes of an update, checked (a non-empty object): {mark?, markMask?, timeout?,
        status? (bits), labels? (a set, or {add, remove} of sets)}."""
        for k in changes:
            if k not in CHANGE_KEYS:
                raise AdapterError('UNSUPPORTED', 'this adapter cannot change %r' % k)
        out = {}
        if 'mark' in changes:
            if not is_int(changes['mark'], 0, 0xFFFFFFFF):
                raise invalid('changes.mark: a u32 expected')
            out['mark'] = changes['mark']
        if 'markMask' in changes:
            if self.MARK_MASK_ONE_MESSAGE:
                if not is_int(changes['markMask'], 0, 0xFFFFFFFF) or 'mark' not in changes:
                    raise invalid('changes.markMask: a u32, with mark, expected')
            elif 'mark' not in changes:
                raise invalid('changes.markMask: only with mark')
            elif not is_int(changes['markMask'], 0, 0xFFFFFFFF):
                raise invalid('changes.markMask: a u32 expected')
            out['markMask'] = changes['markMask']
        if 'timeout' in changes:
            if not is_int(changes['timeout'], 0, 0xFFFFFFFF):
                raise invalid('changes.timeout: a u32 expected')
            out['timeout'] = changes['timeout']
        if 'status' in changes:
            out['status'] = status_bits(changes['status'], 'changes.status')
        if 'labels' in changes and not (changes['labels'] is None and self.NULL_LABELS_UNCHANGED):
            labels = changes['labels']
            if isinstance(labels, dict):
                if not set(labels) <= {'add', 'remove'}:
                    raise invalid('changes.labels: a list or { add, remove } expected')
                out['labels'] = {k: labels_of(labels.get(k, []), 'changes.labels.' + k) for k in ('add', 'remove')}
            else:
                out['labels'] = labels_of(labels, 'changes.labels')
        return out

    def compile_filter(self, f):
        """A filter, checked: (its family, 'ipv4'/'ipv6'/None, and a predicate on listed entries)."""
        if f is None:
            f = {}
        if not isinstance(f, dict):
            raise invalid('filter: an object expected')
        for k in f:
            self.refuse([k], 'filter')
            if k not in FILTER_KEYS:
                raise AdapterError('UNSUPPORTED', 'filter key %r is not supported by this adapter' % k)
        tests = []
        for k in ('zone',) + DIRECTIONAL_ZONES:
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
            # By name: a library's own status names (pyroute2's ConntrackEntry) must not fail it.
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
        return f.get('family'), (lambda e: all(t(e) for t in tests))

    # --- the ops ---
    def hello(self, req):
        if req.get('protocol') != 1:
            raise AdapterError('EPROTONOSUPPORT', 'this adapter speaks protocol 1, not %r' % req.get('protocol'))
        name, version = self.identity()
        return {'name': name, 'version': version, 'operations': OPERATIONS}

    def _list(self, flt):
        family, match = self.compile_filter(flt)
        return [e for e in self.dump(family) if match(e)]

    def list(self, req):
        return {'entries': self._list(req.get('filter'))}

    def count(self, req):
        return {'count': len(self._list(req.get('filter')))}

    def create(self, req):
        entries = req.get('entries')
        if not isinstance(entries, list):
            raise invalid('entries: a list expected')
        specs = [self.parse_create(e, i) for i, e in enumerate(entries)]  # every entry checked first
        first = None
        with self.session() as s:
            for i, spec in enumerate(specs):
                err = self.create_one(s, i, spec)
                if err is not None:
                    log('create', json.dumps(spec['key']), err.code)
                    first = first or err
        if first:
            raise first
        return {}

    def _verdicts(self, keys, done, apply):
        """The verdict of apply(session, key) on each key, in one session: `done` unless apply
        returns False or raises ENOENT (notFound), or raises another AdapterError (failed)."""
        result = {done: [], 'notFound': [], 'failed': []}
        with self.session() as s:
            for key in keys:
                try:
                    result['notFound' if apply(s, key) is False else done].append(key)
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
        keys = [self.parse_key(e, 'entries[%d]' % i) for i, e in enumerate(entries)]
        return self._verdicts(keys, 'deleted', self.delete_one)

    def deleteMatching(self, req):
        flt = req.get('filter')
        if not isinstance(flt, dict) or not flt:
            raise invalid('deleteMatching needs a filter with at least one criterion')
        keys = [self.parse_key(e) for e in self._list(flt)]
        return {'deleted': len(self._verdicts(keys, 'deleted', self.delete_one)['deleted'])}

    def get(self, req):
        key = self.parse_key(req.get('entry'), 'entry')
        with self.session() as s:
            return {'entry': self.get_one(s, key)}

    def update(self, req):
        entries = req.get('entries')
        changes = req.get('changes')
        if not isinstance(entries, list):
            raise invalid('entries: a list expected')
        if not isinstance(changes, dict) or not changes:
            raise invalid('changes: an object with at least one change expected')
        changes = self.parse_changes(changes)
        keys = [self.parse_key(e, 'entries[%d]' % i) for i, e in enumerate(entries)]
        return self._verdicts(keys, 'updated', lambda s, key: self.update_one(s, key, changes))


def serve(adapter):
    """The request loop: each line of stdin a request, each answered with one line on stdout."""
    out = sys.stdout
    for line in sys.stdin:
        if not line.strip():
            continue
        started = time.perf_counter()
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
        if not is_int(rid, 1, 2 ** 53):  # then resp is the failure that said so
            detail = [resp['error']['message']] if adapter.LOG_UNANSWERED_ERROR else []
            log('cannot answer a request without an id:', line.strip()[:200], *detail)
            continue
        # The adapter's own time (the bench reports it beside the round trip): not the JSON out.
        resp['elapsedMs'] = round((time.perf_counter() - started) * 1000, 3)
        out.write(json.dumps(resp, separators=(',', ':')) + '\n')
        out.flush()
    return 0


def option(argv, name, values, usage):
    """An adapter's one option, `NAME VALUE` or `NAME=VALUE` with VALUE among values: the last
    value given, None when there is none; anything else prints usage and exits with 2."""
    value = None
    args = list(argv)
    while args:
        a = args.pop(0)
        if a == name and args and args[0] in values:
            value = args.pop(0)
        elif a.startswith(name + '=') and a[len(name) + 1:] in values:
            value = a[len(name) + 1:]
        else:
            print(usage, file=sys.stderr)
            sys.exit(2)
    return value
