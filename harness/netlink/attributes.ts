// The netlink attribute (TLV) codec of the harness, the only one: nests are declared as tables
// (attribute number -> name, kind, byte order, size, inner nest), and a scanner records where each
// declared attribute sits in a received datagram, checking every header and every fixed size on
// the way, so readers need no checks of their own. Nothing is copied and nothing allocated per
// attribute (a Buffer view per attribute made 100,000 conntrack entries take 60% longer to list).
// Attributes are written by MessageWriter (writer.ts), in place.
import { NLA_F_NESTED, NLA_HDRLEN, NLA_TYPE_MASK } from './constants.ts';
import { NetlinkDecodeError } from '../errors.ts';

// Module-local copies: under vitest and tsx an imported binding is a property getter, too slow
// for the per-attribute loops.
const _NLA_HDRLEN = NLA_HDRLEN;
const _NLA_TYPE_MASK = NLA_TYPE_MASK;
const _NLA_F_NESTED = NLA_F_NESTED;

/**
 * How an attribute's payload is encoded: `u8`; `be16`/`be32`/`be64` in network byte order;
 * `u32` in host byte order (a few netlink attributes, e.g. NLMSGERR_ATTR_OFFS, CTA_FILTER flags);
 * `string` (NUL-terminated); `binary` (`size` bytes when given, any length otherwise); `flag` (no
 * payload); `nest` (attributes of the inner table).
 */
export type AttrKind = 'u8' | 'be16' | 'be32' | 'be64' | 'u32' | 'string' | 'binary' | 'flag' | 'nest';

const FIXED: Partial<Record<AttrKind, number>> = { u8: 1, be16: 2, be32: 4, be64: 8, u32: 4, flag: 0 };

export interface AttrDef {
  readonly name: string;
  readonly type: number;
  readonly kind: AttrKind;
  /** Exact payload length the scanner insists on, or -1 for any. */
  readonly size: number;
  readonly nest?: NestTable;
}

/** A declaration: `[kind]`, `[kind, size]` for fixed-size binary, or `[nest table]`. */
export type AttrDecl = readonly [AttrKind] | readonly ['binary', number] | readonly [NestTable];

/**
 * One nest's attributes and, after `scan()`, where they are: `slots` holds [payload offset,
 * payload length] per attribute number (-1 when absent). Tables are module-level singletons, so a
 * decoder using them is not re-entrant; every decoder here is synchronous.
 */
export class NestTable {
  readonly name: string;
  readonly defs: ReadonlyArray<AttrDef | undefined>;
  readonly slots: Int32Array<ArrayBuffer>;
  readonly #sizes: Int32Array;

  constructor(name: string, decls: Readonly<Record<number, readonly [string, ...AttrDecl]>>) {
    this.name = name;
    const types = Object.keys(decls).map(Number);
    const max = Math.max(0, ...types);
    const defs = new Array<AttrDef | undefined>(max + 1).fill(undefined);
    this.#sizes = new Int32Array(max + 1).fill(-2); // -2: not declared, skipped
    for (const type of types) {
      const [attrName, what, size] = decls[type]!;
      const def: AttrDef = what instanceof NestTable
        ? { name: attrName, type, kind: 'nest', size: -1, nest: what }
        : { name: attrName, type, kind: what, size: typeof size === 'number' ? size : FIXED[what] ?? -1 };
      defs[type] = def;
      this.#sizes[type] = def.size;
    }
    this.defs = defs;
    this.slots = new Int32Array(2 * (max + 1));
  }

  /** Records the declared attributes of buf[start, end); throws NetlinkDecodeError on malformed bytes. */
  scan(buf: Buffer, start: number, end: number): void {
    const slots = this.slots;
    const sizes = this.#sizes;
    const max = sizes.length - 1;
    slots.fill(-1);
    let pos = start;
    while (pos < end) {
      const len = attrLength(buf, pos, end);
      const type = (buf[pos + 2]! | (buf[pos + 3]! << 8)) & _NLA_TYPE_MASK;
      if (type <= max) {
        const size = sizes[type]!;
        if (size !== -2) {
          if (size >= 0 && len - _NLA_HDRLEN !== size) {
            throw new NetlinkDecodeError(`${this.name} attribute ${this.defs[type]!.name} (${type}) must be ${size} byte(s), got ${len - _NLA_HDRLEN}`, pos);
          }
          slots[type * 2] = pos + _NLA_HDRLEN;
          slots[type * 2 + 1] = len - _NLA_HDRLEN;
        }
      }
      pos += (len + 3) & ~3;
    }
  }

  has(type: number): boolean {
    return this.slots[type * 2]! >= 0;
  }

  /** Scans attribute `type` (declared as a nest) into its table; false when it is absent. */
  enter(buf: Buffer, type: number): NestTable | undefined {
    const o = this.slots[type * 2]!;
    if (o < 0) return undefined;
    const inner = this.defs[type]!.nest!;
    inner.scan(buf, o, o + this.slots[type * 2 + 1]!);
    return inner;
  }

  /** Payload offset of a present attribute; throws when it is absent. `at` locates the error. */
  offset(type: number, at: number): number {
    const o = this.slots[type * 2]!;
    if (o < 0) throw new NetlinkDecodeError(`${this.name} without ${this.defs[type]?.name ?? `attribute ${type}`}`, at);
    return o;
  }

  length(type: number): number {
    return this.slots[type * 2 + 1]!;
  }

  u8(buf: Buffer, type: number, at: number): number {
    return buf[this.offset(type, at)]!;
  }

  be16(buf: Buffer, type: number, at: number): number {
    const o = this.offset(type, at);
    return (buf[o]! << 8) | buf[o + 1]!;
  }

  be32(buf: Buffer, type: number, at: number): number {
    return buf.readUInt32BE(this.offset(type, at));
  }

  be64(buf: Buffer, type: number, at: number): bigint {
    return buf.readBigUInt64BE(this.offset(type, at));
  }

  u32(buf: Buffer, type: number, at: number): number {
    return buf.readUInt32LE(this.offset(type, at));
  }

  /** A string attribute, up to its first NUL (or the whole payload when there is none). */
  string(buf: Buffer, type: number, at: number): string {
    const o = this.offset(type, at);
    const end = o + this.length(type);
    const nul = buf.indexOf(0, o);
    return buf.toString('utf8', o, nul >= 0 && nul < end ? nul : end);
  }

  /** A view of a binary attribute's payload (no copy: valid as long as `buf` is). */
  view(buf: Buffer, type: number, at: number): Buffer {
    const o = this.offset(type, at);
    return buf.subarray(o, o + this.length(type));
  }
}

/**
 * Validates the attribute header at `pos` (with `end` the end of the enclosing region) and returns
 * its nla_len. Throws NetlinkDecodeError for a short header, nla_len < 4 or nla_len past `end`.
 */
function attrLength(buf: Buffer, pos: number, end: number): number {
  if (end - pos < _NLA_HDRLEN) throw new NetlinkDecodeError(`truncated attribute header: ${end - pos} byte(s) left`, pos);
  const len = buf[pos]! | (buf[pos + 1]! << 8);
  if (len < _NLA_HDRLEN) throw new NetlinkDecodeError(`attribute length ${len} shorter than its header`, pos);
  if (len > end - pos) throw new NetlinkDecodeError(`attribute length ${len} runs past the end (${end - pos} byte(s) left)`, pos);
  return len;
}

export function checkRange(buf: Uint8Array, start: number, end: number): void {
  if (!Number.isInteger(start) || !Number.isInteger(end) || start < 0 || end < start || end > buf.length) {
    throw new NetlinkDecodeError(`invalid range [${start}, ${end}) for a buffer of ${buf.length} bytes`, start);
  }
}

/**
 * Walks every attribute of buf[start, end) whatever its type, for code that knows no table (a
 * dump of unknown shape, tests): `visit(type, nested, payloadOffset, payloadLength)`.
 */
export function forEachAttr(buf: Buffer, start: number, end: number, visit: (type: number, nested: boolean, offset: number, length: number) => void): void {
  checkRange(buf, start, end);
  let pos = start;
  while (pos < end) {
    const len = attrLength(buf, pos, end);
    const raw = buf[pos + 2]! | (buf[pos + 3]! << 8);
    visit(raw & _NLA_TYPE_MASK, (raw & _NLA_F_NESTED) !== 0, pos + _NLA_HDRLEN, len - _NLA_HDRLEN);
    pos = Math.min(pos + ((len + 3) & ~3), end);
  }
}

/** Rounds up to a multiple of 4 (exact for any uint32, unlike `(n + 3) & ~3`). */
export function align4(n: number): number {
  return n + ((4 - (n & 3)) & 3);
}

/** Bytes that `parts` take once each is padded to 4 bytes. */
export function paddedLength(parts: readonly Uint8Array[]): number {
  let n = 0;
  for (const part of parts) n += align4(part.length);
  return n;
}

/** Copies `parts` into `buf` from `pos`, each followed by zero padding to 4 bytes; returns the end. */
export function writePadded(buf: Buffer, pos: number, parts: readonly Uint8Array[]): number {
  for (const part of parts) {
    buf.set(part, pos);
    const padded = align4(part.length);
    if (padded > part.length) buf.fill(0, pos + part.length, pos + padded);
    pos += padded;
  }
  return pos;
}
