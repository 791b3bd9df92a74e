// The entry model shared by the client, the CLI oracle and the suites: a plain object per
// conntrack entry, and the validation every entry passes before anything reaches the kernel.
import { ValidationError } from '../errors.ts';
import { canonicalAddress, familyOf, type Family } from './address.ts';

export type { Family } from './address.ts';

/**
 * IP protocols the model knows by name, and the shape of their tuple: `ports` (sport/dport),
 * `icmp` (type/code/id) or `generic` (addresses only: the kernel's generic tracker). Any other
 * protocol number is generic too and is reported by number.
 */
export const PROTOCOLS = {
  icmp: { number: 1, families: ['ipv4'], kind: 'icmp' },
  igmp: { number: 2, families: ['ipv4', 'ipv6'], kind: 'generic' },
  tcp: { number: 6, families: ['ipv4', 'ipv6'], kind: 'ports' },
  udp: { number: 17, families: ['ipv4', 'ipv6'], kind: 'ports' },
  dccp: { number: 33, families: ['ipv4', 'ipv6'], kind: 'ports' },
  gre: { number: 47, families: ['ipv4', 'ipv6'], kind: 'ports' },
  icmpv6: { number: 58, families: ['ipv6'], kind: 'icmp' },
  sctp: { number: 132, families: ['ipv4', 'ipv6'], kind: 'ports' },
  esp: { number: 50, families: ['ipv4', 'ipv6'], kind: 'generic' },
  ah: { number: 51, families: ['ipv4', 'ipv6'], kind: 'generic' },
  ospf: { number: 89, families: ['ipv4', 'ipv6'], kind: 'generic' },
  pim: { number: 103, families: ['ipv4', 'ipv6'], kind: 'generic' },
  vrrp: { number: 112, families: ['ipv4', 'ipv6'], kind: 'generic' },
  udplite: { number: 136, families: ['ipv4', 'ipv6'], kind: 'ports' },
} as const satisfies Record<string, { number: number; families: readonly Family[]; kind: TupleShape }>;

export type TupleShape = 'icmp' | 'ports' | 'generic';

export type ProtocolName = keyof typeof PROTOCOLS;

/** A protocol: its name where the model knows one, else its IP protocol number (0..255). */
export type Protocol = ProtocolName | number;

const BY_NUMBER = new Map<number, ProtocolName>(
  Object.entries(PROTOCOLS).map(([name, p]) => [p.number, name as ProtocolName]),
);

/** The model's name for IP protocol `n`, or `n` itself when it has none. */
export function protocolOf(n: number): Protocol {
  return BY_NUMBER.get(n) ?? n;
}

export function protocolNumber(protocol: Protocol): number {
  return typeof protocol === 'number' ? protocol : PROTOCOLS[protocol].number;
}

/** How a protocol's tuple looks; unnamed protocols are generic. */
export function tupleShape(protocol: Protocol): TupleShape {
  return typeof protocol === 'number' ? 'generic' : PROTOCOLS[protocol].kind;
}

/** The families a protocol exists in (both for unnamed, generic protocols). */
function familiesOf(protocol: Protocol): readonly Family[] {
  return typeof protocol === 'number' ? ['ipv4', 'ipv6'] : PROTOCOLS[protocol].families;
}

/** ICMP types the kernel can invert into a reply type (others are refused with EINVAL). */
export const ICMP_REPLY_TYPE: Readonly<Record<number, number>> = { 8: 0, 0: 8, 13: 14, 14: 13, 15: 16, 16: 15, 17: 18, 18: 17 };
export const ICMPV6_REPLY_TYPE: Readonly<Record<number, number>> = { 128: 129, 129: 128, 139: 140, 140: 139 };

export interface ConntrackTuple {
  src: string;
  dst: string;
  sport?: number;
  dport?: number;
  icmpType?: number;
  icmpCode?: number;
  icmpId?: number;
}

/** The key fields: enough to create, find or delete an entry. */
export interface ConntrackKey extends ConntrackTuple {
  family: Family;
  /** A name (`'udp'`, `'igmp'`) where the model knows one, else the IP protocol number (`200`). */
  protocol: Protocol;
  /** ConntrackClient zone, 0 (the default zone) when the kernel omits it. */
  zone: number;
  /** A zone of the original direction only (`--orig-zone`; `zone` is then 0). Part of the lookup key. */
  origZone?: number;
  /** A zone of the reply direction only (`--reply-zone`). */
  replyZone?: number;
}

/** Packet and byte counters of one direction (when accounting is on: nf_conntrack_acct). */
export interface DirectionCounters {
  packets: number;
  bytes: number;
}

/** A NAT binding on create: the address (and port) the original direction is rewritten to. */
export interface NatBinding {
  address: string;
  port?: number;
}

export interface ConntrackEntry extends ConntrackKey {
  /**
   * Reply tuple as the kernel reports it: with NAT it shows the translated addresses and ports.
   * On create: an explicit reply tuple (default: the original one inverted, or what snat/dnat make).
   */
  reply?: ConntrackTuple;

  /** Seconds left. On create: the timeout to set. */
  timeout?: number;
  mark?: number;
  /** Status flag names, e.g. `SEEN_REPLY`, `ASSURED`, `CONFIRMED`. */
  status?: readonly string[];
  /** TCP (and SCTP/DCCP) state name, e.g. `ESTABLISHED`. */
  state?: string;
  /** Kernel id of the entry (conntrack -o id). */
  id?: number;
  /** Connection label bits that are set (0..127), as `ct label` and `conntrack -l` use them. */
  labels?: number[];
  /** Per-direction counters, present when accounting is on in the namespace. */
  counters?: { orig: DirectionCounters; reply: DirectionCounters };
  /** Start (and, for a dying entry, stop) in ns since the epoch, when nf_conntrack_timestamp is on. */
  timestamp?: { start: bigint; stop?: bigint };
  /** Name of the helper attached to the entry (e.g. `ftp`). */
  helper?: string;
  /** The kernel's reference count (conntrack's `use=`). */
  use?: number;
}

/**
 * Input accepted by create/delete/get: key fields; zone defaults to 0; family is inferred from src.
 * Create also takes `snat`/`dnat` (like `conntrack -I --src-nat/--dst-nat`), `reply`, directional
 * zones, labels, mark, timeout, status and state.
 */
export type EntryInput = Omit<ConntrackKey, 'family' | 'zone'> & Partial<Pick<ConntrackKey, 'family' | 'zone'>> &
  Partial<Omit<ConntrackEntry, keyof ConntrackKey>> & { snat?: NatBinding; dnat?: NatBinding };

/** What update() may change on an existing entry (like `conntrack -U`). */
export interface EntryChanges {
  /** New mark; with `markMask`, only the masked bits change: mark = (old & ~mask) | (value & mask). */
  mark?: number;
  markMask?: number;
  /** New timeout in seconds. */
  timeout?: number;
  /** Status flags to set (the kernel lets SEEN_REPLY, ASSURED and a few more be set, never cleared). */
  status?: string[];
  /** Label bits: a list replaces every label; `{ add, remove }` changes only those bits. */
  labels?: number[] | { add?: number[]; remove?: number[] };
}

function fail(code: ConstructorParameters<typeof ValidationError>[0], field: string, value: unknown, msg: string): never {
  throw new ValidationError(code, field, value, msg);
}

export function assertZone(zone: unknown, field = 'zone'): number {
  if (typeof zone !== 'number' || !Number.isInteger(zone) || zone < 0 || zone > 65535) {
    fail('ERR_INVALID_ZONE', field, zone, `${field} must be an integer 0..65535, got ${String(zone)}`);
  }
  return zone;
}

/** An integer min..65535 (ports, ICMP ids), else ERR_INVALID_PORT naming the field. */
export function assertU16(value: unknown, field: string, min = 0): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > 65535) {
    fail('ERR_INVALID_PORT', field, value, `${field} must be an integer ${min}..65535, got ${String(value)}`);
  }
  return value;
}

function assertByte(value: unknown, field: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 255) {
    fail('ERR_INVALID_ICMP', field, value, `${field} must be an integer 0..255, got ${String(value)}`);
  }
  return value;
}

/** A protocol name the model knows, or a number 0..255 (normalized to its name when it has one). */
export function assertProtocol(protocol: unknown): Protocol {
  if (typeof protocol === 'number' && Number.isInteger(protocol) && protocol >= 0 && protocol <= 255) {
    return protocolOf(protocol);
  }
  if (typeof protocol !== 'string' || !Object.hasOwn(PROTOCOLS, protocol)) {
    fail('ERR_UNKNOWN_PROTOCOL', 'protocol', protocol,
      `unknown protocol ${JSON.stringify(protocol)}; give a number 0..255 or one of: ${Object.keys(PROTOCOLS).join(', ')}`);
  }
  return protocol as ProtocolName;
}

export function assertFamily(family: unknown): Family {
  if (family !== 'ipv4' && family !== 'ipv6') {
    fail('ERR_FAMILY_MISMATCH', 'family', family, `family must be 'ipv4' or 'ipv6', got ${JSON.stringify(family)}`);
  }
  return family;
}

/**
 * Validates an entry's key fields and returns a normalized key (canonical addresses, zone set,
 * family inferred). Throws ValidationError with a stable code; never touches the kernel.
 */
export function normalizeKey(input: EntryInput): ConntrackKey {
  if (input === null || typeof input !== 'object') {
    fail('ERR_INVALID_ENTRY', 'entry', input, 'an entry must be an object');
  }
  const protocol = assertProtocol(input.protocol);
  const shape = tupleShape(protocol);
  const srcFamily = typeof input.src === 'string' ? familyOf(input.src) : undefined;
  const dstFamily = typeof input.dst === 'string' ? familyOf(input.dst) : undefined;
  if (!srcFamily) fail('ERR_INVALID_ADDRESS', 'src', input.src, `invalid source address ${JSON.stringify(input.src)}`);
  if (!dstFamily) fail('ERR_INVALID_ADDRESS', 'dst', input.dst, `invalid destination address ${JSON.stringify(input.dst)}`);
  if (srcFamily !== dstFamily) {
    fail('ERR_FAMILY_MISMATCH', 'dst', input.dst, `src ${input.src} is ${srcFamily} but dst ${input.dst} is ${dstFamily}`);
  }
  const family = input.family === undefined ? srcFamily : assertFamily(input.family);
  if (family !== srcFamily) {
    fail('ERR_FAMILY_MISMATCH', 'family', input.family, `family ${family} does not match address ${input.src}`);
  }
  if (!familiesOf(protocol).includes(family)) {
    fail('ERR_FAMILY_MISMATCH', 'protocol', protocol, `${protocol} is not an ${family} protocol`);
  }
  const zone = assertZone(input.zone ?? 0);
  const key: ConntrackKey = { family, protocol, src: canonicalAddress(input.src), dst: canonicalAddress(input.dst), zone };
  if (input.origZone !== undefined) key.origZone = assertZone(input.origZone, 'origZone');
  if (input.replyZone !== undefined) key.replyZone = assertZone(input.replyZone, 'replyZone');
  // The kernel keeps one zone per entry: both directions, or one direction only.
  const zones = [zone !== 0, key.origZone !== undefined, key.replyZone !== undefined].filter(Boolean).length;
  if (zones > 1) {
    fail('ERR_INVALID_ZONE', key.origZone !== undefined ? 'origZone' : 'replyZone', key.origZone ?? key.replyZone,
      'an entry has one zone: a non-zero zone, or an origZone, or a replyZone, not two of them');
  }
  if (shape === 'ports') {
    // GRE keys may be 0; a port of 0 is not a real flow for the others.
    const min = protocol === 'gre' ? 0 : 1;
    key.sport = assertU16(input.sport, 'sport', min);
    key.dport = assertU16(input.dport, 'dport', min);
  } else if (shape === 'icmp') {
    const type = assertByte(input.icmpType, 'icmpType');
    const replies = protocol === 'icmp' ? ICMP_REPLY_TYPE : ICMPV6_REPLY_TYPE;
    if (replies[type] === undefined) {
      fail('ERR_INVALID_ICMP', 'icmpType', type,
        `${protocol} type ${type} has no reply type, conntrack cannot track it (allowed: ${Object.keys(replies).join(', ')})`);
    }
    key.icmpType = type;
    key.icmpCode = assertByte(input.icmpCode ?? 0, 'icmpCode');
    key.icmpId = assertU16(input.icmpId ?? 0, 'icmpId', 0);
    if (input.sport !== undefined || input.dport !== undefined) {
      fail('ERR_INVALID_ENTRY', 'sport', input.sport ?? input.dport, `${protocol} has no ports; its tuple has icmpType/icmpCode/icmpId`);
    }
  } else {
    for (const field of ['sport', 'dport', 'icmpType', 'icmpCode', 'icmpId'] as const) {
      if (input[field] !== undefined) {
        fail('ERR_INVALID_ENTRY', field, input[field], `protocol ${protocol} is tracked generically: its tuple is the addresses only, it has no ${field}`);
      }
    }
  }
  return key;
}

/** The state an entry created without one gets (what `conntrack -I` users usually mean). */
const DEFAULT_STATE: Partial<Record<ProtocolName, string>> = { tcp: 'ESTABLISHED', sctp: 'ESTABLISHED', dccp: 'OPEN' };

export function defaultState(protocol: Protocol): string | undefined {
  return typeof protocol === 'number' ? undefined : DEFAULT_STATE[protocol];
}

/** The timeout (s) an entry created without one gets. */
export const DEFAULT_CREATE_TIMEOUT = 120;

/** A stable string for the key fields: used to compare entries as sets. */
export function keyString(entry: ConntrackKey): string {
  const ports = entry.icmpType !== undefined
    ? ` type=${entry.icmpType} code=${entry.icmpCode} id=${entry.icmpId}`
    : entry.sport !== undefined ? ` sport=${entry.sport} dport=${entry.dport}` : '';
  const zones = `${entry.origZone !== undefined ? ` orig-zone=${entry.origZone}` : ''}${entry.replyZone !== undefined ? ` reply-zone=${entry.replyZone}` : ''}`;
  return `${entry.family} ${entry.protocol} zone=${entry.zone}${zones} src=${entry.src} dst=${entry.dst}${ports}`;
}

/** Only the key fields of an entry (drops kernel-reported state). */
export function keyOf(entry: ConntrackKey): ConntrackKey {
  const key: ConntrackKey = { family: entry.family, protocol: entry.protocol, src: entry.src, dst: entry.dst, zone: entry.zone };
  if (entry.sport !== undefined) key.sport = entry.sport;
  if (entry.dport !== undefined) key.dport = entry.dport;
  if (entry.icmpType !== undefined) key.icmpType = entry.icmpType;
  if (entry.icmpCode !== undefined) key.icmpCode = entry.icmpCode;
  if (entry.icmpId !== undefined) key.icmpId = entry.icmpId;
  if (entry.origZone !== undefined) key.origZone = entry.origZone;
  if (entry.replyZone !== undefined) key.replyZone = entry.replyZone;
  return key;
}
