// The filter language of list/count/entries/deleteMatching/watch, the criteria `conntrack -L` offers: a
// closed set of keys (an unknown key is refused, never ignored), validated before anything is
// sent, and compiled into one predicate that every listed entry passes in user space, whatever
// the kernel already filtered.
import { ValidationError } from '../errors.ts';
import { addressToBytes, canonicalAddress, familyOf, type Family } from './address.ts';
import { STATE_NAMES, STATUS_BITS, type StatusFlag } from './constants.ts';
import { assertFamily, assertProtocol, assertU16, assertZone, type ConntrackEntry, type ConntrackTuple, type Protocol } from './entry.ts';

/** A mark to match: a value, or `{ value, mask }` meaning `(mark & mask) === value`. */
export type MarkMatch = number | { value: number; mask: number };

export type NatKind = 'src' | 'dst' | 'any';

/** What to select; every given criterion must hold (an empty filter selects everything). */
export interface ConntrackFilter {
  /** The entry's zone (both directions; `-w`). */
  zone?: number;
  /** The entry's directional zone of the original direction, 0 when it has none (`--orig-zone`). */
  origZone?: number;
  /** The entry's directional zone of the reply direction, 0 when it has none (`--reply-zone`). */
  replyZone?: number;
  family?: Family;
  /** A protocol name or number (`-p`). */
  protocol?: Protocol;
  /** Original source, an address or a CIDR prefix (`-s`). */
  src?: string;
  /** Original destination, an address or a CIDR prefix (`-d`). */
  dst?: string;
  /** Reply source, an address or a CIDR prefix (`-r`). */
  replySrc?: string;
  /** Reply destination, an address or a CIDR prefix (`-q`). */
  replyDst?: string;
  /** Original source port (`--sport`); port protocols only. */
  sport?: number;
  /** Original destination port (`--dport`). */
  dport?: number;
  /** `-m MARK[/MASK]`. */
  mark?: MarkMatch;
  /** Status flags that must all be set (`-u`), e.g. `['ASSURED']`. */
  status?: StatusFlag[];
  /** Protocol state, e.g. `ESTABLISHED` (`--state`). */
  state?: string;
  /** Entries with source NAT, destination NAT, or either (`--src-nat`, `--dst-nat`, `--any-nat`). */
  nat?: NatKind;
}

export const FILTER_KEYS = [
  'zone', 'origZone', 'replyZone', 'family', 'protocol', 'src', 'dst', 'replySrc', 'replyDst',
  'sport', 'dport', 'mark', 'status', 'state', 'nat',
] as const satisfies readonly (keyof ConntrackFilter)[];

/** A prefix: its family, canonical network address, and length in bits. */
export interface Prefix {
  family: Family;
  address: string;
  bits: number;
  /** Network bytes (4 or 16) with the host bits cleared. */
  bytes: Buffer;
}

/** A validated filter: canonical values, marks as value/mask, prefixes parsed. */
export interface NormalizedFilter {
  zone?: number;
  origZone?: number;
  replyZone?: number;
  family?: Family;
  protocol?: Protocol;
  src?: Prefix;
  dst?: Prefix;
  replySrc?: Prefix;
  replyDst?: Prefix;
  sport?: number;
  dport?: number;
  mark?: { value: number; mask: number };
  status?: StatusFlag[];
  state?: string;
  nat?: NatKind;
}

function invalid(field: string, value: unknown, message: string): never {
  throw new ValidationError('ERR_INVALID_FILTER', field, value, message);
}

function u32(value: unknown, field: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 0xffffffff) {
    invalid(field, value, `${field} must be an integer 0..0xffffffff, got ${String(value)}`);
  }
  return value;
}

/** Parses `198.51.100.0/24`, `2001:db8::/32` or a plain address (a full-length prefix). */
export function parsePrefix(value: unknown, field: string): Prefix {
  if (typeof value !== 'string') {
    throw new ValidationError('ERR_INVALID_ADDRESS', field, value, `${field} must be an address or CIDR prefix, got ${String(value)}`);
  }
  const slash = value.indexOf('/');
  const text = slash < 0 ? value : value.slice(0, slash);
  const family = familyOf(text);
  if (!family) throw new ValidationError('ERR_INVALID_ADDRESS', field, value, `${field}: invalid address ${JSON.stringify(text)}`);
  const max = family === 'ipv4' ? 32 : 128;
  const bitsText = slash < 0 ? String(max) : value.slice(slash + 1);
  const bits = /^\d{1,3}$/.test(bitsText) ? Number(bitsText) : Number.NaN;
  if (!(bits >= 0 && bits <= max)) {
    throw new ValidationError('ERR_INVALID_ADDRESS', field, value, `${field}: prefix length must be 0..${max}, got ${JSON.stringify(bitsText)}`);
  }
  const bytes = addressToBytes(text, family);
  for (let i = 0; i < bytes.length; i++) {
    const keep = Math.max(0, Math.min(8, bits - i * 8));
    bytes[i] = bytes[i]! & ((0xff << (8 - keep)) & 0xff);
  }
  return { family, address: canonicalAddress(text), bits, bytes };
}

/** Validates a filter: unknown keys, bad values and contradictions throw ValidationError. */
export function normalizeFilter(filter: unknown): NormalizedFilter {
  if (filter === undefined) return {};
  if (filter === null || typeof filter !== 'object' || Array.isArray(filter)) {
    invalid('filter', filter, 'a filter must be an object');
  }
  const f = filter as Record<string, unknown>;
  for (const key of Object.keys(f)) {
    if (!(FILTER_KEYS as readonly string[]).includes(key)) {
      throw new ValidationError('ERR_UNKNOWN_FILTER_KEY', key, f[key],
        `unknown filter key ${JSON.stringify(key)}; known: ${FILTER_KEYS.join(', ')}`);
    }
  }
  const out: NormalizedFilter = {};
  const given = (key: (typeof FILTER_KEYS)[number]) => f[key] !== undefined;
  if (given('zone')) out.zone = assertZone(f.zone);
  if (given('origZone')) out.origZone = assertZone(f.origZone, 'origZone');
  if (given('replyZone')) out.replyZone = assertZone(f.replyZone, 'replyZone');
  if (given('family')) out.family = assertFamily(f.family);
  if (given('protocol')) out.protocol = assertProtocol(f.protocol);
  for (const key of ['src', 'dst', 'replySrc', 'replyDst'] as const) {
    if (!given(key)) continue;
    const prefix = parsePrefix(f[key], key);
    if (out.family !== undefined && prefix.family !== out.family) {
      throw new ValidationError('ERR_FAMILY_MISMATCH', key, f[key], `${key} ${String(f[key])} is not ${out.family}`);
    }
    out.family ??= prefix.family;
    out[key] = prefix;
  }
  for (const key of ['src', 'dst', 'replySrc', 'replyDst'] as const) {
    if (out[key] && out[key].family !== out.family) {
      throw new ValidationError('ERR_FAMILY_MISMATCH', key, f[key], `${key} ${String(f[key])} is not ${out.family}`);
    }
  }
  if (given('sport')) out.sport = assertU16(f.sport, 'sport');
  if (given('dport')) out.dport = assertU16(f.dport, 'dport');
  if (given('mark')) {
    const m = f.mark;
    const mark = typeof m === 'number'
      ? { value: u32(m, 'mark'), mask: 0xffffffff }
      : m !== null && typeof m === 'object' && !Array.isArray(m)
        ? { value: u32((m as { value?: unknown }).value, 'mark.value'), mask: u32((m as { mask?: unknown }).mask, 'mark.mask') }
        : invalid('mark', m, 'mark must be a number or { value, mask }');
    const extra = Object.keys(m as object).filter((k) => k !== 'value' && k !== 'mask');
    if (typeof m === 'object' && extra.length > 0) invalid('mark', m, `mark has unknown key(s) ${extra.join(', ')}; it takes { value, mask }`);
    if ((mark.value & ~mark.mask) >>> 0 !== 0) {
      invalid('mark', m, `mark value 0x${mark.value.toString(16)} has bits outside mask 0x${mark.mask.toString(16)}: it would match nothing`);
    }
    out.mark = mark;
  }
  if (given('status')) {
    const s = f.status;
    if (!Array.isArray(s) || s.length === 0) invalid('status', s, 'status must be a non-empty array of flag names');
    for (const name of s) {
      if (!(STATUS_BITS as readonly unknown[]).includes(name)) {
        invalid('status', name, `unknown status flag ${JSON.stringify(name)}; known: ${STATUS_BITS.join(', ')}`);
      }
    }
    out.status = [...new Set(s as StatusFlag[])];
  }
  if (given('state')) {
    const state = f.state;
    const tables = out.protocol !== undefined ? [STATE_NAMES[out.protocol as keyof typeof STATE_NAMES]] : Object.values(STATE_NAMES);
    if (tables[0] === undefined) invalid('state', state, `protocol ${String(out.protocol)} has no states`);
    if (typeof state !== 'string' || !tables.some((t) => (t as readonly string[]).includes(state))) {
      invalid('state', state, `unknown state ${JSON.stringify(state)}${out.protocol !== undefined ? ` for ${String(out.protocol)}` : ''}`);
    }
    out.state = state;
  }
  if (given('nat')) {
    if (f.nat !== 'src' && f.nat !== 'dst' && f.nat !== 'any') invalid('nat', f.nat, `nat must be 'src', 'dst' or 'any', got ${JSON.stringify(f.nat)}`);
    out.nat = f.nat;
  }
  return out;
}

/**
 * True when the filter selects everything by construction: no criterion, or only ones that hold
 * for every entry (a mark mask of 0, a /0 prefix, and the family such a prefix implies). deleteMatching()
 * refuses such a filter. `given` is the filter as the caller wrote it: a family given there counts.
 */
export function isEmptyFilter(filter: NormalizedFilter, given: ConntrackFilter = filter as ConntrackFilter): boolean {
  return Object.entries(filter).every(([key, value]) => {
    if (key === 'mark') return (value as NormalizedFilter['mark'])!.mask === 0;
    if (key === 'src' || key === 'dst' || key === 'replySrc' || key === 'replyDst') return (value as Prefix).bits === 0;
    return key === 'family' && given.family === undefined;
  });
}

function inPrefix(address: string, prefix: Prefix): boolean {
  if (prefix.bits === (prefix.family === 'ipv4' ? 32 : 128)) return address === prefix.address;
  if (familyOf(address) !== prefix.family) return false;
  const bytes = addressToBytes(address, prefix.family);
  let bits = prefix.bits;
  for (let i = 0; bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
    if ((bytes[i]! & mask) !== prefix.bytes[i]) return false;
  }
  return true;
}

/** One predicate over entries for a validated filter: the user-space half of every filtered dump. */
export function compileFilter(f: NormalizedFilter): (entry: ConntrackEntry) => boolean {
  const checks: Array<(e: ConntrackEntry) => boolean> = [];
  const tuple = (key: 'src' | 'dst' | 'replySrc' | 'replyDst', pick: (e: ConntrackEntry) => ConntrackTuple | undefined, field: 'src' | 'dst') => {
    const prefix = f[key];
    if (prefix) checks.push((e) => { const t = pick(e); return t !== undefined && inPrefix(t[field], prefix); });
  };
  if (f.zone !== undefined) checks.push((e) => e.zone === f.zone);
  if (f.origZone !== undefined) checks.push((e) => (e.origZone ?? 0) === f.origZone);
  if (f.replyZone !== undefined) checks.push((e) => (e.replyZone ?? 0) === f.replyZone);
  if (f.family !== undefined) checks.push((e) => e.family === f.family);
  if (f.protocol !== undefined) checks.push((e) => e.protocol === f.protocol);
  tuple('src', (e) => e, 'src');
  tuple('dst', (e) => e, 'dst');
  tuple('replySrc', (e) => e.reply, 'src');
  tuple('replyDst', (e) => e.reply, 'dst');
  if (f.sport !== undefined) checks.push((e) => e.sport === f.sport);
  if (f.dport !== undefined) checks.push((e) => e.dport === f.dport);
  if (f.mark) {
    const { value, mask } = f.mark;
    checks.push((e) => ((e.mark ?? 0) & mask) >>> 0 === value);
  }
  if (f.status) {
    const want = f.status;
    checks.push((e) => want.every((s) => e.status?.includes(s) ?? false));
  }
  if (f.state !== undefined) checks.push((e) => e.state === f.state);
  if (f.nat !== undefined) {
    const kinds = f.nat === 'any' ? ['SRC_NAT', 'DST_NAT'] : [f.nat === 'src' ? 'SRC_NAT' : 'DST_NAT'];
    checks.push((e) => kinds.some((k) => e.status?.includes(k) ?? false));
  }
  if (checks.length === 0) return () => true;
  if (checks.length === 1) return checks[0]!;
  return (e) => {
    for (const check of checks) if (!check(e)) return false;
    return true;
  };
}
