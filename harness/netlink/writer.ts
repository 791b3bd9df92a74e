// Builds netlink messages in place, for hot paths that send thousands of them: attributes and
// nests are written straight into large shared chunks, and each message is a view of its chunk.
import { ValidationError } from '../errors.ts';
import { NFGENMSG_LEN, NFNETLINK_V0, NLA_F_NESTED, NLA_HDRLEN, NLMSG_HDRLEN } from './constants.ts';

const CHUNK_BYTES = 256 * 1024;
// Local copies: imported bindings are read through getters under vitest/tsx, which shows on hot paths.
const HDR = NLA_HDRLEN;
const NESTED = NLA_F_NESTED;
const MSG_HDR = NLMSG_HDRLEN;
const NFGEN = NFGENMSG_LEN;

function invalid(field: string, value: number, max: number): never {
  throw new ValidationError('ERR_INVALID_ARGUMENT', field, value, `${field} must be an integer in [0, ${max}], got ${String(value)}`);
}

function check(field: string, value: number, max: number): void {
  if (!Number.isInteger(value) || value < 0 || value > max) invalid(field, value, max);
}

/**
 * One message at a time: `begin()`, attributes, `nest()`/`end()`, then `finish()` returns the
 * message as a view. Views stay valid: a chunk is never written again once it is full, and a
 * finished message's bytes are never touched again.
 */
export class MessageWriter {
  #buf = Buffer.allocUnsafeSlow(CHUNK_BYTES);
  #pos = 0;
  #start = 0;
  #nests: number[] = [];

  /**
   * The chunk being written, for the payload offset `attr()` returned. Read it after calling
   * `attr()`: a write may move the unfinished message to a new chunk.
   */
  get buffer(): Buffer {
    return this.#buf;
  }

  #ensure(n: number): void {
    if (this.#pos + n <= this.#buf.length) return;
    // Move the message being written to a fresh chunk (big enough for it and then some).
    const used = this.#pos - this.#start;
    const next = Buffer.allocUnsafeSlow(Math.max(CHUNK_BYTES, 2 * (used + n)));
    this.#buf.copy(next, 0, this.#start, this.#pos);
    const delta = -this.#start;
    this.#nests = this.#nests.map((at) => at + delta);
    this.#buf = next;
    this.#start = 0;
    this.#pos = used;
  }

  /** nlmsghdr, plus an nfgenmsg when `family` is given. */
  begin(type: number, flags: number, seq: number, family?: number): this {
    check('type', type, 0xffff);
    check('flags', flags, 0xffff);
    check('seq', seq, 0xffffffff);
    // A message left unfinished (a write threw) is discarded: its bytes are overwritten.
    this.#nests.length = 0;
    this.#pos = this.#start;
    this.#ensure(MSG_HDR + NFGEN);
    this.#start = this.#pos;
    const b = this.#buf;
    const p = this.#pos;
    b.writeUInt32LE(0, p);
    b.writeUInt16LE(type, p + 4);
    b.writeUInt16LE(flags, p + 6);
    b.writeUInt32LE(seq, p + 8);
    b.writeUInt32LE(0, p + 12);
    this.#pos += MSG_HDR;
    if (family !== undefined) {
      check('family', family, 0xff);
      b[this.#pos] = family;
      b[this.#pos + 1] = NFNETLINK_V0;
      b.writeUInt16BE(0, this.#pos + 2);
      this.#pos += NFGEN;
    }
    return this;
  }

  /** Writes an attribute header for `len` payload bytes (zero-padded) and returns the payload offset in `buffer`. */
  attr(type: number, len: number): number {
    check('attribute type', type, 0x3fff);
    check('attribute length', len, 0xffff - HDR);
    const padded = (len + 3) & ~3;
    this.#ensure(HDR + padded);
    const b = this.#buf;
    const p = this.#pos;
    b.writeUInt16LE(HDR + len, p);
    b.writeUInt16LE(type, p + 2);
    if (padded > len) b.fill(0, p + HDR + len, p + HDR + padded);
    this.#pos = p + HDR + padded;
    return p + HDR;
  }

  u8(type: number, value: number): this {
    check('u8 value', value, 0xff);
    const o = this.attr(type, 1); // before reading #buf: attr() may move to a new chunk
    this.#buf[o] = value;
    return this;
  }

  /** u16 in network byte order. */
  u16be(type: number, value: number): this {
    check('u16 value', value, 0xffff);
    const o = this.attr(type, 2);
    this.#buf.writeUInt16BE(value, o);
    return this;
  }

  /** u32 in network byte order. */
  u32be(type: number, value: number): this {
    check('u32 value', value, 0xffffffff);
    const o = this.attr(type, 4);
    this.#buf.writeUInt32BE(value, o);
    return this;
  }

  /** Opens a nested attribute; NESTED is always set. Close it with `end()`. */
  nest(type: number): this {
    check('attribute type', type, 0x3fff);
    this.#ensure(HDR);
    this.#buf.writeUInt16LE(type | NESTED, this.#pos + 2);
    this.#nests.push(this.#pos);
    this.#pos += HDR;
    return this;
  }

  end(): this {
    const at = this.#nests.pop();
    if (at === undefined) throw new ValidationError('ERR_INVALID_ARGUMENT', 'nest', 0, 'end() without an open nest');
    const len = this.#pos - at;
    if (len > 0xffff) throw new ValidationError('ERR_INVALID_ARGUMENT', 'attribute length', len, `nest too long: ${len} bytes`);
    this.#buf.writeUInt16LE(len, at);
    return this;
  }

  /** Closes the message (sets nlmsg_len) and returns it as a view of its chunk. */
  finish(): Buffer {
    if (this.#nests.length > 0) throw new ValidationError('ERR_INVALID_ARGUMENT', 'nest', this.#nests.length, 'finish() with an open nest');
    this.#buf.writeUInt32LE(this.#pos - this.#start, this.#start);
    const message = this.#buf.subarray(this.#start, this.#pos);
    this.#start = this.#pos;
    return message;
  }
}
