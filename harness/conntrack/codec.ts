// ctnetlink messages for conntrack entries: encode a tuple, a create, a delete and a dump request;
// decode a dumped entry. Pure functions over bytes, so unit tests can feed captured kernel dumps.
import { NLM_F_ACK, NLM_F_CREATE, NLM_F_DUMP, NLM_F_EXCL, NLM_F_REQUEST } from '../netlink/constants.ts';
import { ValidationError } from '../errors.ts';
import { NetlinkDecodeError } from '../netlink/errors.ts';
import { nfnlType, type NetlinkMessage } from '../netlink/message.ts';
import { MessageWriter } from '../netlink/writer.ts';
import { bytesToAddress, writeAddress, type Family } from './address.ts';
import * as C from './constants.ts';
import {
  ICMP_REPLY_TYPE, ICMPV6_REPLY_TYPE, PROTOCOLS, protocolByNumber,
  type ConntrackEntry, type ConntrackKey, type ConntrackTuple, type EntryInput,
} from './entry.ts';

const FAMILY_AF: Record<Family, number> = { ipv4: C.AF_INET, ipv6: C.AF_INET6 };

export function familyToAf(family: Family | undefined): number {
  return family === undefined ? 0 : FAMILY_AF[family];
}

/** The reply tuple the kernel derives from an original tuple (addresses and ports swapped). */
export function invertTuple(key: ConntrackKey): ConntrackTuple {
  if (key.icmpType !== undefined) {
    const replies = key.protocol === 'icmpv6' ? ICMPV6_REPLY_TYPE : ICMP_REPLY_TYPE;
    return { src: key.dst, dst: key.src, icmpType: replies[key.icmpType], icmpCode: key.icmpCode, icmpId: key.icmpId };
  }
  return { src: key.dst, dst: key.src, sport: key.dport, dport: key.sport };
}

/** Writes a tuple nest (CTA_TUPLE_ORIG or CTA_TUPLE_REPLY) of `tuple`. */
function writeTuple(w: MessageWriter, type: number, family: Family, protocol: ConntrackKey['protocol'], tuple: ConntrackTuple): void {
  const v4 = family === 'ipv4';
  const size = v4 ? 4 : 16;
  w.nest(type).nest(C.CTA_TUPLE_IP);
  // attr() first: it may move the message to a new chunk, and `buffer` must be read after that.
  const src = w.attr(v4 ? C.CTA_IP_V4_SRC : C.CTA_IP_V6_SRC, size);
  writeAddress(w.buffer, src, tuple.src, family);
  const dst = w.attr(v4 ? C.CTA_IP_V4_DST : C.CTA_IP_V6_DST, size);
  writeAddress(w.buffer, dst, tuple.dst, family);
  w.end().nest(C.CTA_TUPLE_PROTO).u8(C.CTA_PROTO_NUM, PROTOCOLS[protocol].number);
  if (tuple.icmpType !== undefined) {
    const v6 = protocol === 'icmpv6';
    w.u16be(v6 ? C.CTA_PROTO_ICMPV6_ID : C.CTA_PROTO_ICMP_ID, tuple.icmpId ?? 0)
      .u8(v6 ? C.CTA_PROTO_ICMPV6_TYPE : C.CTA_PROTO_ICMP_TYPE, tuple.icmpType)
      .u8(v6 ? C.CTA_PROTO_ICMPV6_CODE : C.CTA_PROTO_ICMP_CODE, tuple.icmpCode ?? 0);
  } else {
    w.u16be(C.CTA_PROTO_SRC_PORT, tuple.sport ?? 0).u16be(C.CTA_PROTO_DST_PORT, tuple.dport ?? 0);
  }
  w.end().end();
}

const CT = (msg: number) => nfnlType(C.NFNL_SUBSYS_CTNETLINK, msg);

/** The writer requests are built with by default (messages are views of its chunks). */
const shared = new MessageWriter();

/** DELETE by original tuple and zone (without CTA_ZONE the kernel looks in zone 0). */
export function encodeDelete(key: ConntrackKey, seq: number, w: MessageWriter = shared): Buffer {
  w.begin(CT(C.IPCTNL_MSG_CT_DELETE), NLM_F_REQUEST | NLM_F_ACK, seq, FAMILY_AF[key.family]);
  writeTuple(w, C.CTA_TUPLE_ORIG, key.family, key.protocol, key);
  return w.u16be(C.CTA_ZONE, key.zone).finish();
}

const STATE_TABLES: Partial<Record<ConntrackKey['protocol'], { nest: number; names: readonly string[]; initial: string }>> = {
  tcp: { nest: C.CTA_PROTOINFO_TCP, names: C.TCP_STATES, initial: 'ESTABLISHED' },
  sctp: { nest: C.CTA_PROTOINFO_SCTP, names: C.SCTP_STATES, initial: 'ESTABLISHED' },
  dccp: { nest: C.CTA_PROTOINFO_DCCP, names: C.DCCP_STATES, initial: 'OPEN' },
};

/** The state a created entry gets when none is given (what `conntrack -I` users usually mean). */
export function defaultState(protocol: ConntrackKey['protocol']): string | undefined {
  return STATE_TABLES[protocol]?.initial;
}

export const DEFAULT_CREATE_TIMEOUT = 120;

/** NEW with NLM_F_CREATE|NLM_F_EXCL, like `conntrack -I`: both tuples, timeout, zone, state. */
export function encodeCreate(key: ConntrackKey, input: EntryInput, seq: number, w: MessageWriter = shared): Buffer {
  const table = STATE_TABLES[key.protocol];
  const stateName = table ? (input.tcpState ?? table.initial) : undefined;
  const state = table && stateName !== undefined ? table.names.indexOf(stateName) : -1;
  if (table && state < 0) {
    throw new ValidationError('ERR_INVALID_ENTRY', 'tcpState', stateName,
      `${key.protocol} has no state ${JSON.stringify(stateName)}; known: ${table.names.join(', ')}`);
  }
  let status = 0;
  for (const name of input.status ?? []) {
    if (C.SETTABLE_STATUS.has(name)) status |= 1 << C.STATUS_BITS.indexOf(name as (typeof C.STATUS_BITS)[number]);
  }
  w.begin(CT(C.IPCTNL_MSG_CT_NEW), NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL, seq, FAMILY_AF[key.family]);
  writeTuple(w, C.CTA_TUPLE_ORIG, key.family, key.protocol, key);
  writeTuple(w, C.CTA_TUPLE_REPLY, key.family, key.protocol, invertTuple(key));
  w.u32be(C.CTA_TIMEOUT, input.timeout ?? DEFAULT_CREATE_TIMEOUT).u16be(C.CTA_ZONE, key.zone);
  // A new entry is already CONFIRMED when the kernel applies CTA_STATUS, and flipping CONFIRMED
  // is refused with EBUSY, so the bit must be sent set (Linux 6.18 answers EBUSY otherwise).
  if (status !== 0) w.u32be(C.CTA_STATUS, status | (1 << C.STATUS_BITS.indexOf('CONFIRMED')));
  if (input.mark !== undefined) w.u32be(C.CTA_MARK, input.mark);
  if (table) {
    w.nest(C.CTA_PROTOINFO).nest(table.nest).u8(1, state);
    if (key.protocol === 'sctp') w.u32be(C.CTA_PROTOINFO_SCTP_VTAG_ORIGINAL, 1).u32be(C.CTA_PROTOINFO_SCTP_VTAG_REPLY, 2);
    w.end().end();
  }
  return w.finish();
}

/** A dump request; `zone` is sent as CTA_ZONE (honoured by Linux >= 6.8, ignored before). */
export function encodeDump(seq: number, options: { family?: Family; zone?: number }, w: MessageWriter = shared): Buffer {
  w.begin(CT(C.IPCTNL_MSG_CT_GET), NLM_F_REQUEST | NLM_F_DUMP, seq, familyToAf(options.family));
  if (options.zone !== undefined) w.u16be(C.CTA_ZONE, options.zone);
  return w.finish();
}

// Decoding is the hot path of a 100,000-entry dump: attributes are located as offsets in reusable
// Int32Array tables (no Buffer view per attribute) and values read straight from the datagram.
// Not re-entrant; everything here is synchronous.

const NLA_HDR = 4;
const TOP = new Int32Array(2 * (C.CTA_ZONE + 1));
const TUPLE = new Int32Array(2 * (C.CTA_TUPLE_ZONE + 1));
const IP = new Int32Array(2 * (C.CTA_IP_V6_DST + 1));
const PROTO = new Int32Array(2 * (C.CTA_PROTO_ICMPV6_CODE + 1));
const INFO = new Int32Array(2 * (C.CTA_PROTOINFO_SCTP + 1));
const STATE = new Int32Array(2 * 2);

/** Fills `slots` with [payload offset, payload length] per attribute type (-1 when absent). */
function scan(buf: Buffer, start: number, end: number, slots: Int32Array): void {
  slots.fill(-1);
  const maxType = (slots.length >> 1) - 1;
  let pos = start;
  while (pos < end) {
    if (end - pos < NLA_HDR) throw new NetlinkDecodeError(`truncated attribute header: ${end - pos} byte(s) left`, pos);
    const len = buf[pos]! | (buf[pos + 1]! << 8);
    if (len < NLA_HDR) throw new NetlinkDecodeError(`attribute length ${len} shorter than its header`, pos);
    if (len > end - pos) throw new NetlinkDecodeError(`attribute length ${len} runs past the end (${end - pos} byte(s) left)`, pos);
    const type = (buf[pos + 2]! | (buf[pos + 3]! << 8)) & 0x3fff;
    if (type <= maxType) {
      slots[type * 2] = pos + NLA_HDR;
      slots[type * 2 + 1] = len - NLA_HDR;
    }
    pos += (len + 3) & ~3;
  }
}

function has(slots: Int32Array, type: number): boolean {
  return slots[type * 2]! >= 0;
}

/** Scans the nested attribute `type` of `outer` into `inner`; throws when it is absent. */
function nested(buf: Buffer, outer: Int32Array, type: number, inner: Int32Array, what: string, at: number): void {
  const o = outer[type * 2]!;
  if (o < 0) throw new NetlinkDecodeError(`conntrack entry without ${what}`, at);
  scan(buf, o, o + outer[type * 2 + 1]!, inner);
}

function fixed(slots: Int32Array, type: number, size: number, what: string, at: number): number {
  const o = slots[type * 2]!;
  if (o < 0) throw new NetlinkDecodeError(`conntrack entry without ${what}`, at);
  const len = slots[type * 2 + 1]!;
  if (len !== size) throw new NetlinkDecodeError(`${what} must be ${size} byte(s), got ${len}`, o);
  return o;
}

const u8 = (buf: Buffer, slots: Int32Array, type: number, what: string, at: number) => buf[fixed(slots, type, 1, what, at)]!;
function u16(buf: Buffer, slots: Int32Array, type: number, what: string, at: number): number {
  const o = fixed(slots, type, 2, what, at);
  return (buf[o]! << 8) | buf[o + 1]!;
}
function u32(buf: Buffer, slots: Int32Array, type: number, what: string, at: number): number {
  return buf.readUInt32BE(fixed(slots, type, 4, what, at));
}

function address(buf: Buffer, o: number, family: Family): string {
  return family === 'ipv4' ? `${buf[o]}.${buf[o + 1]}.${buf[o + 2]}.${buf[o + 3]}` : bytesToAddress(buf.subarray(o, o + 16));
}

/** Decodes the tuple nest `type` of TOP; returns the IP protocol number. */
function decodeTuple(buf: Buffer, type: number, family: Family, tuple: ConntrackTuple, at: number): number {
  nested(buf, TOP, type, TUPLE, 'tuple', at);
  nested(buf, TUPLE, C.CTA_TUPLE_IP, IP, 'CTA_TUPLE_IP', at);
  const v4 = family === 'ipv4';
  const size = v4 ? 4 : 16;
  tuple.src = address(buf, fixed(IP, v4 ? C.CTA_IP_V4_SRC : C.CTA_IP_V6_SRC, size, 'source address', at), family);
  tuple.dst = address(buf, fixed(IP, v4 ? C.CTA_IP_V4_DST : C.CTA_IP_V6_DST, size, 'destination address', at), family);
  nested(buf, TUPLE, C.CTA_TUPLE_PROTO, PROTO, 'CTA_TUPLE_PROTO', at);
  const protoNum = u8(buf, PROTO, C.CTA_PROTO_NUM, 'CTA_PROTO_NUM', at);
  if (has(PROTO, C.CTA_PROTO_SRC_PORT)) {
    tuple.sport = u16(buf, PROTO, C.CTA_PROTO_SRC_PORT, 'source port', at);
    tuple.dport = u16(buf, PROTO, C.CTA_PROTO_DST_PORT, 'destination port', at);
  } else if (has(PROTO, C.CTA_PROTO_ICMP_TYPE) || has(PROTO, C.CTA_PROTO_ICMPV6_TYPE)) {
    const v6 = has(PROTO, C.CTA_PROTO_ICMPV6_TYPE);
    tuple.icmpType = u8(buf, PROTO, v6 ? C.CTA_PROTO_ICMPV6_TYPE : C.CTA_PROTO_ICMP_TYPE, 'ICMP type', at);
    const code = v6 ? C.CTA_PROTO_ICMPV6_CODE : C.CTA_PROTO_ICMP_CODE;
    const id = v6 ? C.CTA_PROTO_ICMPV6_ID : C.CTA_PROTO_ICMP_ID;
    tuple.icmpCode = has(PROTO, code) ? u8(buf, PROTO, code, 'ICMP code', at) : 0;
    tuple.icmpId = has(PROTO, id) ? u16(buf, PROTO, id, 'ICMP id', at) : 0;
  }
  return protoNum;
}

function decodeStatus(bits: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < C.STATUS_BITS.length; i++) if (bits & (1 << i)) out.push(C.STATUS_BITS[i]!);
  return out;
}

function decodeState(buf: Buffer, protocol: ConntrackKey['protocol'], at: number): string | undefined {
  const table = STATE_TABLES[protocol];
  if (!table) return undefined;
  nested(buf, TOP, C.CTA_PROTOINFO, INFO, 'CTA_PROTOINFO', at);
  if (!has(INFO, table.nest)) return undefined;
  nested(buf, INFO, table.nest, STATE, 'protocol info', at);
  if (!has(STATE, 1)) return undefined;
  const n = u8(buf, STATE, 1, 'state', at);
  return table.names[n] ?? `STATE_${n}`;
}

/** FNV-1a over the original tuple's bytes and the zone: tells two entries with one kernel id apart. */
function tupleHash(buf: Buffer, zone: number): number {
  const o = TOP[C.CTA_TUPLE_ORIG * 2]!;
  const end = o + TOP[C.CTA_TUPLE_ORIG * 2 + 1]!;
  let h = 0x811c9dc5 ^ zone;
  for (let i = o; i < end; i++) h = Math.imul(h ^ buf[i]!, 0x01000193);
  return h >>> 0;
}

export interface DecodeMeta {
  /** A hash of the original tuple and zone (set by decodeEntry). */
  tupleHash: number;
}

/**
 * Decodes one IPCTNL_MSG_CT_NEW message of a dump into an entry; `undefined` for an entry of a
 * protocol the model does not know (it is not one the harness made). Malformed bytes throw
 * NetlinkDecodeError, never anything else. `meta`, when given, receives the tuple hash.
 */
export function decodeEntry(msg: NetlinkMessage, meta?: DecodeMeta): ConntrackEntry | undefined {
  const buf = msg.buf;
  const at = msg.offset;
  const nfgen = msg.nfgen;
  if (!nfgen) throw new NetlinkDecodeError('conntrack message without nfgenmsg', at);
  const family: Family | undefined = nfgen.family === C.AF_INET ? 'ipv4' : nfgen.family === C.AF_INET6 ? 'ipv6' : undefined;
  if (!family) throw new NetlinkDecodeError(`conntrack entry of address family ${nfgen.family}`, at);
  scan(buf, msg.nfAttrsStart, msg.end, TOP);
  const orig = { src: '', dst: '' } as ConntrackTuple;
  const protocol = protocolByNumber(decodeTuple(buf, C.CTA_TUPLE_ORIG, family, orig, at));
  if (!protocol) return undefined;
  const zone = has(TOP, C.CTA_ZONE) ? u16(buf, TOP, C.CTA_ZONE, 'CTA_ZONE', at) : 0;
  const entry: ConntrackEntry = { family, protocol, ...orig, zone };
  if (meta) meta.tupleHash = tupleHash(buf, zone);
  if (has(TOP, C.CTA_TUPLE_REPLY)) {
    const reply = { src: '', dst: '' } as ConntrackTuple;
    decodeTuple(buf, C.CTA_TUPLE_REPLY, family, reply, at);
    entry.reply = reply;
  }
  if (has(TOP, C.CTA_TIMEOUT)) entry.timeout = u32(buf, TOP, C.CTA_TIMEOUT, 'CTA_TIMEOUT', at);
  if (has(TOP, C.CTA_MARK)) entry.mark = u32(buf, TOP, C.CTA_MARK, 'CTA_MARK', at);
  if (has(TOP, C.CTA_STATUS)) entry.status = decodeStatus(u32(buf, TOP, C.CTA_STATUS, 'CTA_STATUS', at));
  if (has(TOP, C.CTA_ID)) entry.id = u32(buf, TOP, C.CTA_ID, 'CTA_ID', at);
  if (has(TOP, C.CTA_PROTOINFO)) {
    const state = decodeState(buf, protocol, at);
    if (state !== undefined) entry.tcpState = state;
  }
  return entry;
}
