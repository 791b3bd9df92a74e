// The entry model shared by the client, the CLI oracle and the suites: a plain object per
// conntrack entry, and the validation every entry passes before anything reaches the kernel.
import { ValidationError } from '../errors.ts';
import { canonicalAddress, familyOf, type Family } from './address.ts';

export type { Family } from './address.ts';

/** IP protocols the client knows by name; `ports` says the tuple carries sport/dport. */
export const PROTOCOLS = {
  icmp: { number: 1, families: ['ipv4'], kind: 'icmp' },
  tcp: { number: 6, families: ['ipv4', 'ipv6'], kind: 'ports' },
  udp: { number: 17, families: ['ipv4', 'ipv6'], kind: 'ports' },
  dccp: { number: 33, families: ['ipv4', 'ipv6'], kind: 'ports' },
  gre: { number: 47, families: ['ipv4', 'ipv6'], kind: 'ports' },
  icmpv6: { number: 58, families: ['ipv6'], kind: 'icmp' },
  sctp: { number: 132, families: ['ipv4', 'ipv6'], kind: 'ports' },
  udplite: { number: 136, families: ['ipv4', 'ipv6'], kind: 'ports' },
} as const satisfies Record<string, { number: number; families: readonly Family[]; kind: 'icmp' | 'ports' }>;

export type ProtocolName = keyof typeof PROTOCOLS;

const BY_NUMBER = new Map<number, ProtocolName>(
  Object.entries(PROTOCOLS).map(([name, p]) => [p.number, name as ProtocolName]),
);

export function protocolByNumber(n: number): ProtocolName | undefined {
  return BY_NUMBER.get(n);
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
  protocol: ProtocolName;
  /** Conntrack zone, 0 (the default zone) when the kernel omits it. */
  zone: number;
}

export interface ConntrackEntry extends ConntrackKey {
  /** Reply tuple as the kernel reports it. */
  reply?: ConntrackTuple;
  /** Seconds left. On create: the timeout to set. */
  timeout?: number;
  mark?: number;
  /** Status flag names, e.g. `SEEN_REPLY`, `ASSURED`, `CONFIRMED`. */
  status?: string[];
  /** TCP (and SCTP/DCCP) state name, e.g. `ESTABLISHED`. */
  tcpState?: string;
  /** Kernel id of the entry (conntrack -o id). */
  id?: number;
}

/** Input accepted by create/delete: key fields; zone defaults to 0; family is inferred from src. */
export type EntryInput = Omit<ConntrackKey, 'family' | 'zone'> & Partial<Pick<ConntrackKey, 'family' | 'zone'>> &
  Partial<Omit<ConntrackEntry, keyof ConntrackKey>>;

function fail(code: ConstructorParameters<typeof ValidationError>[0], field: string, value: unknown, msg: string): never {
  throw new ValidationError(code, field, value, msg);
}

export function assertZone(zone: unknown, field = 'zone'): number {
  if (typeof zone !== 'number' || !Number.isInteger(zone) || zone < 0 || zone > 65535) {
    fail('ERR_INVALID_ZONE', field, zone, `${field} must be an integer 0..65535, got ${String(zone)}`);
  }
  return zone;
}

function assertU16(value: unknown, field: string, min: number): number {
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

export function assertProtocol(protocol: unknown): ProtocolName {
  if (typeof protocol !== 'string' || !Object.hasOwn(PROTOCOLS, protocol)) {
    fail('ERR_UNKNOWN_PROTOCOL', 'protocol', protocol,
      `unknown protocol ${JSON.stringify(protocol)}; known: ${Object.keys(PROTOCOLS).join(', ')}`);
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
  const spec = PROTOCOLS[protocol];
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
  if (!(spec.families as readonly Family[]).includes(family)) {
    fail('ERR_FAMILY_MISMATCH', 'protocol', protocol, `${protocol} is not an ${family} protocol`);
  }
  const zone = assertZone(input.zone ?? 0);
  const key: ConntrackKey = { family, protocol, src: canonicalAddress(input.src), dst: canonicalAddress(input.dst), zone };
  if (spec.kind === 'ports') {
    // GRE keys may be 0; a port of 0 is not a real flow for the others.
    const min = protocol === 'gre' ? 0 : 1;
    key.sport = assertU16(input.sport, 'sport', min);
    key.dport = assertU16(input.dport, 'dport', min);
  } else {
    const type = assertByte(input.icmpType, 'icmpType');
    const replies = protocol === 'icmp' ? ICMP_REPLY_TYPE : ICMPV6_REPLY_TYPE;
    if (replies[type] === undefined) {
      fail('ERR_INVALID_ICMP', 'icmpType', type,
        `${protocol} type ${type} has no reply type, conntrack cannot track it (allowed: ${Object.keys(replies).join(', ')})`);
    }
    key.icmpType = type;
    key.icmpCode = assertByte(input.icmpCode ?? 0, 'icmpCode');
    key.icmpId = assertU16(input.icmpId ?? 0, 'icmpId', 0);
  }
  return key;
}

/** A stable string for the key fields: used to compare entries as sets. */
export function keyString(entry: ConntrackKey): string {
  const ports = entry.icmpType !== undefined
    ? `type=${entry.icmpType} code=${entry.icmpCode} id=${entry.icmpId}`
    : `sport=${entry.sport} dport=${entry.dport}`;
  return `${entry.family} ${entry.protocol} zone=${entry.zone} src=${entry.src} dst=${entry.dst} ${ports}`;
}

/** Only the key fields of an entry (drops kernel-reported state). */
export function keyOf(entry: ConntrackKey): ConntrackKey {
  const key: ConntrackKey = { family: entry.family, protocol: entry.protocol, src: entry.src, dst: entry.dst, zone: entry.zone };
  if (entry.sport !== undefined) key.sport = entry.sport;
  if (entry.dport !== undefined) key.dport = entry.dport;
  if (entry.icmpType !== undefined) key.icmpType = entry.icmpType;
  if (entry.icmpCode !== undefined) key.icmpCode = entry.icmpCode;
  if (entry.icmpId !== undefined) key.icmpId = entry.icmpId;
  return key;
}
