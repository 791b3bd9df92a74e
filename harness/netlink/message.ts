// Netlink message framing: nlmsghdr (+ nfgenmsg for nfnetlink) encoding, a zero-copy walker over a
// received datagram, and NLMSG_ERROR / NLMSG_DONE decoding including extended-ack TLVs.
// Header fields are host byte order; like the kernel on x86-64 and arm64, this assumes little-endian.
import { ValidationError } from '../errors.ts';
import { align4, checkRange, NestTable, paddedLength, writePadded } from './attributes.ts';
import {
  NFGENMSG_LEN,
  NFNETLINK_V0,
  NLM_F_ACK_TLVS,
  NLM_F_CAPPED,
  NLMSG_HDRLEN,
  NLMSG_MIN_TYPE,
  NLMSGERR_ATTR_MISS_NEST,
  NLMSGERR_ATTR_MISS_TYPE,
  NLMSGERR_ATTR_MSG,
  NLMSGERR_ATTR_OFFS,
  NLMSGERR_LEN,
} from './constants.ts';
import { NetlinkDecodeError } from '../errors.ts';

// Module-local copies: under vitest and tsx an imported binding is a property getter, too slow
// for the per-message loops.
const _NLMSG_HDRLEN = NLMSG_HDRLEN;
const _NFGENMSG_LEN = NFGENMSG_LEN;
const _NLMSG_MIN_TYPE = NLMSG_MIN_TYPE;

export interface NlMsgHeader {
  len: number;
  type: number;
  flags: number;
  seq: number;
  pid: number;
}

export interface NfGenHeader {
  family: number;
  version: number;
  /** res_id, big-endian on the wire. */
  resId: number;
}

export interface EncodeMessageInit {
  type: number;
  flags: number;
  seq: number;
  pid?: number;
  /** Payload pieces, each padded to 4 bytes. */
  payload: readonly Uint8Array[];
}

export interface EncodeNfMessageInit {
  type: number;
  flags: number;
  seq: number;
  family: number;
  resId?: number;
  version?: number;
  /** Encoded attributes (from attributes.ts). */
  attrs: readonly Uint8Array[];
}

function checkField(field: string, value: number, max: number): void {
  if (!Number.isInteger(value) || value < 0 || value > max) {
    throw new ValidationError('ERR_INVALID_ARGUMENT', field, value, `${field} must be an integer in [0, ${max}], got ${String(value)}`);
  }
}

function build(type: number, flags: number, seq: number, pid: number, head: number, parts: readonly Uint8Array[]): Buffer {
  checkField('type', type, 0xffff);
  checkField('flags', flags, 0xffff);
  checkField('seq', seq, 0xffffffff);
  checkField('pid', pid, 0xffffffff);
  const len = _NLMSG_HDRLEN + head + paddedLength(parts);
  const buf = Buffer.allocUnsafe(len);
  buf.writeUInt32LE(len, 0);
  buf.writeUInt16LE(type, 4);
  buf.writeUInt16LE(flags, 6);
  buf.writeUInt32LE(seq, 8);
  buf.writeUInt32LE(pid, 12);
  writePadded(buf, _NLMSG_HDRLEN + head, parts);
  return buf;
}

/** A plain netlink message: nlmsghdr + payload pieces. */
export function encodeMessage(init: EncodeMessageInit): Buffer {
  return build(init.type, init.flags, init.seq, init.pid ?? 0, 0, init.payload);
}

/** An nfnetlink message: nlmsghdr + nfgenmsg + attributes. */
export function encodeNfMessage(init: EncodeNfMessageInit): Buffer {
  const version = init.version ?? NFNETLINK_V0;
  const resId = init.resId ?? 0;
  checkField('family', init.family, 0xff);
  checkField('version', version, 0xff);
  checkField('resId', resId, 0xffff);
  const buf = build(init.type, init.flags, init.seq, 0, _NFGENMSG_LEN, init.attrs);
  buf[16] = init.family;
  buf[17] = version;
  buf.writeUInt16BE(resId, 18);
  return buf;
}

export function nfnlType(subsys: number, msg: number): number {
  return ((subsys & 0xff) << 8) | (msg & 0xff);
}

/**
 * One message inside a received datagram. Nothing is copied: `buf` is the datagram, which (from
 * NetlinkSocket.recv) is only valid until the next recv.
 */
export class NetlinkMessage {
  readonly buf: Buffer;
  /** Offset of the nlmsghdr in `buf`. */
  readonly offset: number;
  /** nlmsg_len. */
  readonly length: number;
  readonly type: number;
  readonly flags: number;
  readonly seq: number;
  readonly pid: number;

  constructor(buf: Buffer, offset: number, length: number) {
    this.buf = buf;
    this.offset = offset;
    this.length = length;
    this.type = buf.readUInt16LE(offset + 4);
    this.flags = buf.readUInt16LE(offset + 6);
    this.seq = buf.readUInt32LE(offset + 8);
    this.pid = buf.readUInt32LE(offset + 12);
  }

  /** Offset just past the message (unpadded). */
  get end(): number {
    return this.offset + this.length;
  }

  /** View of everything after the nlmsghdr. */
  get payload(): Buffer {
    return this.buf.subarray(this.offset + _NLMSG_HDRLEN, this.offset + this.length);
  }

  /** The nfgenmsg, for a non-control message with room for one (the caller knows it is nfnetlink). */
  get nfgen(): NfGenHeader | undefined {
    if (this.type < _NLMSG_MIN_TYPE || this.length < _NLMSG_HDRLEN + _NFGENMSG_LEN) return undefined;
    const p = this.offset + _NLMSG_HDRLEN;
    return { family: this.buf[p]!, version: this.buf[p + 1]!, resId: this.buf.readUInt16BE(p + 2) };
  }

  /** Offset in `buf` where nfnetlink attributes start (after nlmsghdr and nfgenmsg). */
  get nfAttrsStart(): number {
    return Math.min(this.offset + _NLMSG_HDRLEN + _NFGENMSG_LEN, this.end);
  }
}

/**
 * Walks the messages in buf[start, end) in order; `visit` returning false stops the walk.
 * Throws NetlinkDecodeError on a truncated header, nlmsg_len < 16, or nlmsg_len past the end.
 */
export function forEachMessage(buf: Buffer, visit: (msg: NetlinkMessage) => boolean | void, start = 0, end = buf.length): void {
  checkRange(buf, start, end);
  let pos = start;
  while (pos < end) {
    if (end - pos < _NLMSG_HDRLEN) throw new NetlinkDecodeError(`truncated message header: ${end - pos} byte(s) left`, pos);
    const len = buf.readUInt32LE(pos);
    if (len < _NLMSG_HDRLEN) throw new NetlinkDecodeError(`message length ${len} shorter than its header`, pos);
    if (len > end - pos) throw new NetlinkDecodeError(`message length ${len} runs past the end (${end - pos} byte(s) left)`, pos);
    if (visit(new NetlinkMessage(buf, pos, len)) === false) return;
    pos = Math.min(pos + len + ((4 - (len & 3)) & 3), end); // align4, inlined
  }
}

export function parseMessages(buf: Buffer, start = 0, end = buf.length): NetlinkMessage[] {
  const out: NetlinkMessage[] = [];
  forEachMessage(buf, (msg) => {
    out.push(msg);
  }, start, end);
  return out;
}

export function readHeader(buf: Buffer, offset: number): NlMsgHeader {
  if (offset < 0 || buf.length - offset < _NLMSG_HDRLEN) throw new NetlinkDecodeError('truncated message header', offset);
  return {
    len: buf.readUInt32LE(offset),
    type: buf.readUInt16LE(offset + 4),
    flags: buf.readUInt16LE(offset + 6),
    seq: buf.readUInt32LE(offset + 8),
    pid: buf.readUInt32LE(offset + 12),
  };
}

/** Extended ack (NETLINK_EXT_ACK) details. */
export interface ExtAck {
  message?: string;
  /** Offset in the original request of the attribute the kernel blamed. */
  offset?: number;
  missingType?: number;
  missingNest?: number;
}

export interface ErrorReply {
  /** Positive errno; 0 means this is an ACK. */
  errno: number;
  /** The echoed header of the request. */
  request: NlMsgHeader;
  /** The request body was not echoed (NLM_F_CAPPED). */
  capped: boolean;
  extAck: ExtAck | undefined;
}

/** The extended-ack TLVs after an NLMSG_ERROR or NLMSG_DONE (enum nlmsgerr_attrs). */
const EXT_ACK = new NestTable('extended ack', {
  [NLMSGERR_ATTR_MSG]: ['message', 'string'],
  [NLMSGERR_ATTR_OFFS]: ['offset', 'u32'],
  [NLMSGERR_ATTR_MISS_TYPE]: ['missing type', 'u32'],
  [NLMSGERR_ATTR_MISS_NEST]: ['missing nest', 'u32'],
});

/** Decodes extended-ack TLVs in buf[start, end). */
export function decodeExtAck(buf: Buffer, start: number, end: number): ExtAck | undefined {
  checkRange(buf, start, end);
  const t = EXT_ACK;
  t.scan(buf, start, end);
  const ack: ExtAck = {};
  if (t.has(NLMSGERR_ATTR_MSG)) ack.message = t.string(buf, NLMSGERR_ATTR_MSG, start);
  if (t.has(NLMSGERR_ATTR_OFFS)) ack.offset = t.u32(buf, NLMSGERR_ATTR_OFFS, start);
  if (t.has(NLMSGERR_ATTR_MISS_TYPE)) ack.missingType = t.u32(buf, NLMSGERR_ATTR_MISS_TYPE, start);
  if (t.has(NLMSGERR_ATTR_MISS_NEST)) ack.missingNest = t.u32(buf, NLMSGERR_ATTR_MISS_NEST, start);
  return Object.keys(ack).length > 0 ? ack : undefined;
}

/** Decodes an NLMSG_ERROR message: errno (0 = ACK), echoed request header, extended ack. */
export function decodeError(msg: NetlinkMessage): ErrorReply {
  const { buf, flags } = msg;
  const p = msg.offset + _NLMSG_HDRLEN;
  const end = msg.end;
  if (end - p < NLMSGERR_LEN) throw new NetlinkDecodeError(`NLMSG_ERROR payload of ${end - p} byte(s), need ${NLMSGERR_LEN}`, p);
  const error = buf.readInt32LE(p);
  if (error > 0) throw new NetlinkDecodeError(`NLMSG_ERROR with positive error ${error}`, p);
  const request = readHeader(buf, p + 4);
  const capped = (flags & NLM_F_CAPPED) !== 0;
  let extAck: ExtAck | undefined;
  if ((flags & NLM_F_ACK_TLVS) !== 0) {
    // Uncapped, the whole request is echoed (padded) before the TLVs.
    let tlvs = p + NLMSGERR_LEN;
    if (!capped) {
      if (request.len < _NLMSG_HDRLEN || request.len > end - p - 4) {
        throw new NetlinkDecodeError(`echoed request length ${request.len} does not fit the NLMSG_ERROR`, p + 4);
      }
      tlvs = Math.min(p + 4 + align4(request.len), end);
    }
    extAck = decodeExtAck(buf, tlvs, end);
  }
  return { errno: error === 0 ? 0 : -error, request, capped, extAck };
}

export interface DoneReply {
  /** Positive errno the dump ended with; 0 on success. */
  errno: number;
  extAck: ExtAck | undefined;
}

/** Decodes NLMSG_DONE: an optional int error, then extended-ack TLVs when NLM_F_ACK_TLVS is set. */
export function decodeDone(msg: NetlinkMessage): DoneReply {
  const p = msg.offset + _NLMSG_HDRLEN;
  const end = msg.end;
  if (end - p < 4) return { errno: 0, extAck: undefined };
  const error = msg.buf.readInt32LE(p);
  const extAck = (msg.flags & NLM_F_ACK_TLVS) !== 0 ? decodeExtAck(msg.buf, p + 4, end) : undefined;
  return { errno: error < 0 ? -error : 0, extAck };
}
