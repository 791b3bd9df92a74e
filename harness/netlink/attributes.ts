// Netlink attribute (TLV) codec: encoders that build 4-byte-aligned Buffers, and zero-copy decoders
// that hand out subarray views and throw only NetlinkDecodeError on malformed input.
import { ValidationError } from '../errors.ts';
import { NLA_F_NESTED, NLA_F_NET_BYTEORDER, NLA_HDRLEN, NLA_TYPE_MASK } from './constants.ts';
import { NetlinkDecodeError } from './errors.ts';

// Module-local copies: under vitest and tsx an imported binding is a property getter, too slow
// for the per-attribute loops.
const _NLA_HDRLEN = NLA_HDRLEN;
const _NLA_TYPE_MASK = NLA_TYPE_MASK;
const _NLA_F_NESTED = NLA_F_NESTED;
const _NLA_F_NET_BYTEORDER = NLA_F_NET_BYTEORDER;

const NLA_MAX_LEN = 0xffff;

/** Rounds up to a multiple of 4 (exact for any uint32, unlike `(n + 3) & ~3`). */
export function align4(n: number): number {
  return n + ((4 - (n & 3)) & 3);
}

function invalid(field: string, value: unknown, message: string): never {
  throw new ValidationError('ERR_INVALID_ARGUMENT', field, value, message);
}

function checkUint(field: string, value: number, max: number): void {
  if (!Number.isInteger(value) || value < 0 || value > max) invalid(field, value, `${field} must be an integer in [0, ${max}], got ${String(value)}`);
}

/** Allocates header + payload space, padding zeroed; the caller writes the payload at offset 4. */
function alloc(type: number, payloadLen: number): Buffer {
  checkUint('attribute type', type, 0xffff);
  const len = _NLA_HDRLEN + payloadLen;
  if (len > NLA_MAX_LEN) invalid('attribute length', len, `attribute ${type & _NLA_TYPE_MASK} too long: ${len} bytes (max ${NLA_MAX_LEN})`);
  const total = align4(len);
  const buf = Buffer.allocUnsafe(total);
  buf.writeUInt16LE(len, 0);
  buf.writeUInt16LE(type, 2);
  if (total > len) buf.fill(0, len, total);
  return buf;
}

export function attrU8(type: number, value: number): Buffer {
  checkUint('u8 value', value, 0xff);
  const buf = alloc(type, 1);
  buf[4] = value;
  return buf;
}

/** u16 in network byte order (what ctnetlink expects). */
export function attrU16be(type: number, value: number): Buffer {
  checkUint('u16 value', value, 0xffff);
  const buf = alloc(type, 2);
  buf.writeUInt16BE(value, 4);
  return buf;
}

export function attrU32be(type: number, value: number): Buffer {
  checkUint('u32 value', value, 0xffffffff);
  const buf = alloc(type, 4);
  buf.writeUInt32BE(value, 4);
  return buf;
}

export function attrU64be(type: number, value: bigint | number): Buffer {
  const v = typeof value === 'bigint' ? value : Number.isSafeInteger(value) ? BigInt(value) : -1n;
  if (v < 0n || v > 0xffffffffffffffffn) invalid('u64 value', value, `u64 value must be in [0, 2^64-1], got ${String(value)}`);
  const buf = alloc(type, 8);
  buf.writeBigUInt64BE(v, 4);
  return buf;
}

export function attrBytes(type: number, value: Uint8Array): Buffer {
  const buf = alloc(type, value.length);
  buf.set(value, 4);
  return buf;
}

/** A NUL-terminated UTF-8 string. */
export function attrString(type: number, value: string): Buffer {
  const n = Buffer.byteLength(value);
  const buf = alloc(type, n + 1);
  buf.write(value, 4);
  buf[4 + n] = 0;
  return buf;
}

/** An attribute with no payload (a flag). */
export function attrFlag(type: number): Buffer {
  return alloc(type, 0);
}

/** A nested attribute; NLA_F_NESTED is always set. Children are attributes from these encoders. */
export function attrNest(type: number, children: readonly Uint8Array[]): Buffer {
  checkUint('attribute type', type, 0xffff);
  const buf = alloc(type | _NLA_F_NESTED, paddedLength(children));
  writePadded(buf, _NLA_HDRLEN, children);
  return buf;
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

// ---------------------------------------------------------------------------------------------
// Decoding

export interface Attr {
  /** Type with NLA_F_NESTED / NLA_F_NET_BYTEORDER masked off. */
  type: number;
  nested: boolean;
  netByteOrder: boolean;
  /** View of the payload (no copy); valid as long as the underlying buffer is. */
  value: Buffer;
  /** Offset of the attribute header in the buffer that was walked. */
  offset: number;
}

export function checkRange(buf: Uint8Array, start: number, end: number): void {
  if (!Number.isInteger(start) || !Number.isInteger(end) || start < 0 || end < start || end > buf.length) {
    throw new NetlinkDecodeError(`invalid range [${start}, ${end}) for a buffer of ${buf.length} bytes`, start);
  }
}

/**
 * Validates the attribute header at `pos` (with `end` the end of the enclosing region) and returns
 * its nla_len. Throws NetlinkDecodeError for a short header, nla_len < 4 or nla_len past `end`.
 */
function attrLen(buf: Buffer, pos: number, end: number): number {
  if (end - pos < _NLA_HDRLEN) throw new NetlinkDecodeError(`truncated attribute header: ${end - pos} byte(s) left`, pos);
  const len = buf[pos]! | (buf[pos + 1]! << 8);
  if (len < _NLA_HDRLEN) throw new NetlinkDecodeError(`attribute length ${len} shorter than its header`, pos);
  if (len > end - pos) throw new NetlinkDecodeError(`attribute length ${len} runs past the end (${end - pos} byte(s) left)`, pos);
  return len;
}

/** Walks the attributes in buf[start, end), yielding views. */
export function* iterateAttrs(buf: Buffer, start = 0, end = buf.length): Generator<Attr, void, undefined> {
  checkRange(buf, start, end);
  let pos = start;
  while (pos < end) {
    const len = attrLen(buf, pos, end);
    const raw = buf[pos + 2]! | (buf[pos + 3]! << 8);
    yield {
      type: raw & _NLA_TYPE_MASK,
      nested: (raw & _NLA_F_NESTED) !== 0,
      netByteOrder: (raw & _NLA_F_NET_BYTEORDER) !== 0,
      value: buf.subarray(pos + _NLA_HDRLEN, pos + len),
      offset: pos,
    };
    pos = Math.min(pos + align4(len), end);
  }
}

/** Attribute payload views indexed by (masked) type; the last one of a type wins. */
export type AttrTable = Array<Buffer | undefined>;

/**
 * Hot-path decoder: one pass over buf[start, end), payload views stored at their type's index.
 * Types above `maxType` are skipped (but still validated).
 */
export function attrsByType(buf: Buffer, start: number, end: number, maxType: number): AttrTable {
  checkRange(buf, start, end);
  const table: AttrTable = new Array<Buffer | undefined>(maxType + 1).fill(undefined);
  let pos = start;
  while (pos < end) {
    const len = attrLen(buf, pos, end);
    const type = (buf[pos + 2]! | (buf[pos + 3]! << 8)) & _NLA_TYPE_MASK;
    if (type <= maxType) table[type] = buf.subarray(pos + _NLA_HDRLEN, pos + len);
    pos = Math.min(pos + align4(len), end);
  }
  return table;
}

/** attrsByType over the whole payload of a nested attribute. */
export function nestedByType(value: Buffer, maxType: number): AttrTable {
  return attrsByType(value, 0, value.length, maxType);
}

// Readers: validate the payload length, then read. The error offset is the payload's byteOffset in
// its backing memory, which for a datagram from NetlinkSocket.recv() is its offset in the datagram.

function expectLen(value: Buffer, n: number, what: string): void {
  if (value.length !== n) throw new NetlinkDecodeError(`${what} attribute must be ${n} byte(s), got ${value.length}`, value.byteOffset);
}

export function readU8(value: Buffer): number {
  expectLen(value, 1, 'u8');
  return value[0]!;
}

export function readU16be(value: Buffer): number {
  expectLen(value, 2, 'u16');
  return (value[0]! << 8) | value[1]!;
}

export function readU32be(value: Buffer): number {
  expectLen(value, 4, 'u32');
  return value.readUInt32BE(0);
}

export function readU64be(value: Buffer): bigint {
  expectLen(value, 8, 'u64');
  return value.readBigUInt64BE(0);
}

/** A string attribute, up to the first NUL (or the whole payload when there is none). */
export function readString(value: Buffer): string {
  const nul = value.indexOf(0);
  return value.toString('utf8', 0, nul === -1 ? value.length : nul);
}
