// ctnetlink messages for conntrack entries: encode a tuple, a create, an update, a get, a delete
// and a (filtered) dump request; decode an entry and the statistics. Pure functions over bytes, so
// unit tests can feed captured kernel dumps.
import { NLM_F_ACK, NLM_F_CREATE, NLM_F_DUMP, NLM_F_EXCL, NLM_F_REQUEST } from '../netlink/constants.ts';
import { ValidationError } from '../errors.ts';
import { NetlinkDecodeError } from '../errors.ts';
import { nfnlType, type NetlinkMessage } from '../netlink/message.ts';
import type { NestTable } from '../netlink/attributes.ts';
import { MessageWriter } from '../netlink/writer.ts';
import { bytesToAddress, familyOf, writeAddress, type Family } from './address.ts';
import { CTA, STATS_CPU, STATS_GLOBAL } from './attributes.ts';
import * as C from './constants.ts';
import {
  DEFAULT_CREATE_TIMEOUT, ICMP_REPLY_TYPE, ICMPV6_REPLY_TYPE, defaultState, protocolNumber, protocolOf, tupleShape,
  type ConntrackEntry, type ConntrackKey, type ConntrackTuple, type EntryChanges, type EntryInput, type NatBinding, type Protocol,
} from './entry.ts';

export const FAMILY_AF: Record<Family, number> = { ipv4: C.AF_INET, ipv6: C.AF_INET6 };

export function familyToAf(family: Family | undefined): number {
  return family === undefined ? 0 : FAMILY_AF[family];
}

/** The reply tuple the kernel derives from an original tuple (addresses and ports swapped). */
export function invertTuple(key: ConntrackKey): ConntrackTuple {
  if (key.icmpType !== undefined) {
    const replies = key.protocol === 'icmpv6' ? ICMPV6_REPLY_TYPE : ICMP_REPLY_TYPE;
    return { src: key.dst, dst: key.src, icmpType: replies[key.icmpType], icmpCode: key.icmpCode, icmpId: key.icmpId };
  }
  if (key.sport === undefined) return { src: key.dst, dst: key.src };
  return { src: key.dst, dst: key.src, sport: key.dport, dport: key.sport };
}

/**
 * Writes a tuple nest (CTA_TUPLE_ORIG or CTA_TUPLE_REPLY): addresses, the protocol number, and the
 * fields of its shape (ports, ICMP type/code/id, or none for a generic protocol); `zone` adds a
 * directional CTA_TUPLE_ZONE.
 */
export function writeTuple(w: MessageWriter, type: number, family: Family, protocol: Protocol, tuple: ConntrackTuple, zone?: number): void {
  const v4 = family === 'ipv4';
  const size = v4 ? 4 : 16;
  w.nest(type).nest(C.CTA_TUPLE_IP);
  // attr() first: it may move the message to a new chunk, and `buffer` must be read after that.
  const src = w.attr(v4 ? C.CTA_IP_V4_SRC : C.CTA_IP_V6_SRC, size);
  writeAddress(w.buffer, src, tuple.src, family);
  const dst = w.attr(v4 ? C.CTA_IP_V4_DST : C.CTA_IP_V6_DST, size);
  writeAddress(w.buffer, dst, tuple.dst, family);
  w.end().nest(C.CTA_TUPLE_PROTO).u8(C.CTA_PROTO_NUM, protocolNumber(protocol));
  const shape = tupleShape(protocol);
  if (shape === 'icmp') {
    const v6 = protocol === 'icmpv6';
    w.u16be(v6 ? C.CTA_PROTO_ICMPV6_ID : C.CTA_PROTO_ICMP_ID, tuple.icmpId ?? 0)
      .u8(v6 ? C.CTA_PROTO_ICMPV6_TYPE : C.CTA_PROTO_ICMP_TYPE, tuple.icmpType ?? 0)
      .u8(v6 ? C.CTA_PROTO_ICMPV6_CODE : C.CTA_PROTO_ICMP_CODE, tuple.icmpCode ?? 0);
  } else if (shape === 'ports') {
    w.u16be(C.CTA_PROTO_SRC_PORT, tuple.sport ?? 0).u16be(C.CTA_PROTO_DST_PORT, tuple.dport ?? 0);
  }
  w.end();
  if (zone !== undefined) w.u16be(C.CTA_TUPLE_ZONE, zone);
  w.end();
}

export const CT = (msg: number) => nfnlType(C.NFNL_SUBSYS_CTNETLINK, msg);

/** The writer requests are built with by default (messages are views of its chunks). */
export const shared = new MessageWriter();

/** Writes the lookup key of an entry: its original tuple (with a directional zone) and CTA_ZONE. */
function writeKey(w: MessageWriter, key: ConntrackKey): void {
  writeTuple(w, C.CTA_TUPLE_ORIG, key.family, key.protocol, key, key.origZone);
  // Without CTA_ZONE the kernel looks in zone 0.
  w.u16be(C.CTA_ZONE, key.zone);
}

/** DELETE by original tuple and zone. */
export function encodeDelete(key: ConntrackKey, seq: number, w: MessageWriter = shared): Buffer {
  w.begin(CT(C.IPCTNL_MSG_CT_DELETE), NLM_F_REQUEST | NLM_F_ACK, seq, FAMILY_AF[key.family]);
  writeKey(w, key);
  return w.finish();
}

/** GET of one entry by original tuple and zone: the kernel answers with the entry, then the ACK. */
export function encodeGet(key: ConntrackKey, seq: number, w: MessageWriter = shared): Buffer {
  w.begin(CT(C.IPCTNL_MSG_CT_GET), NLM_F_REQUEST | NLM_F_ACK, seq, FAMILY_AF[key.family]);
  writeKey(w, key);
  return w.finish();
}

const STATE_TABLES: Partial<Record<Protocol, { nest: number; names: readonly string[] }>> = {
  tcp: { nest: C.CTA_PROTOINFO_TCP, names: C.TCP_STATES },
  sctp: { nest: C.CTA_PROTOINFO_SCTP, names: C.SCTP_STATES },
  dccp: { nest: C.CTA_PROTOINFO_DCCP, names: C.DCCP_STATES },
};

const CONFIRMED = 1 << C.STATUS_BITS.indexOf('CONFIRMED');

/** Status bits of flag names; only the bits a client may set are taken from `names`. */
export function statusBits(names: readonly string[]): number {
  let bits = 0;
  for (const name of names) {
    const bit = C.STATUS_BITS.indexOf(name as C.StatusFlag);
    if (bit >= 0) bits |= 1 << bit;
  }
  return bits >>> 0;
}

const LABEL_BYTES = 16;

/**
 * CTA_LABELS (and CTA_LABELS_MASK) payload: the kernel's bitmap of 128 bits, an array of host-order
 * longs; on little-endian machines label bit n is bit n % 8 of byte n / 8.
 */
function writeLabels(w: MessageWriter, type: number, bits: readonly number[]): void {
  const o = w.attr(type, LABEL_BYTES);
  const buf = w.buffer;
  buf.fill(0, o, o + LABEL_BYTES);
  for (const bit of bits) buf[o + (bit >> 3)] = buf[o + (bit >> 3)]! | (1 << (bit & 7));
}

/** A NAT nest (CTA_NAT_SRC or CTA_NAT_DST) binding to one address and, optionally, one port. */
function writeNat(w: MessageWriter, type: number, family: Family, nat: NatBinding): void {
  const v4 = family === 'ipv4';
  w.nest(type);
  for (const attr of v4 ? [C.CTA_NAT_V4_MINIP, C.CTA_NAT_V4_MAXIP] : [C.CTA_NAT_V6_MINIP, C.CTA_NAT_V6_MAXIP]) {
    const o = w.attr(attr, v4 ? 4 : 16);
    writeAddress(w.buffer, o, nat.address, family);
  }
  if (nat.port !== undefined) w.nest(C.CTA_NAT_PROTO).u16be(C.CTA_PROTONAT_PORT_MIN, nat.port).u16be(C.CTA_PROTONAT_PORT_MAX, nat.port).end();
  w.end();
}

/** Validates create-only input (state, NAT, labels, reply tuple) against a normalized key. */
export function checkCreateInput(key: ConntrackKey, input: EntryInput): void {
  const table = STATE_TABLES[key.protocol];
  const state = input.state ?? defaultState(key.protocol);
  if (input.state !== undefined && !table) {
    throw new ValidationError('ERR_INVALID_ENTRY', 'state', input.state, `${String(key.protocol)} has no states`);
  }
  if (table && state !== undefined && !table.names.includes(state)) {
    throw new ValidationError('ERR_INVALID_ENTRY', 'state', state,
      `${String(key.protocol)} has no state ${JSON.stringify(state)}; known: ${table.names.join(', ')}`);
  }
  for (const field of ['snat', 'dnat'] as const) {
    const nat = input[field];
    if (nat === undefined) continue;
    if (nat === null || typeof nat !== 'object' || familyOf(String(nat.address)) !== key.family) {
      throw new ValidationError('ERR_INVALID_ADDRESS', `${field}.address`, nat?.address, `${field}.address must be an ${key.family} address`);
    }
    if (nat.port !== undefined) {
      if (tupleShape(key.protocol) !== 'ports') {
        throw new ValidationError('ERR_INVALID_PORT', `${field}.port`, nat.port, `${String(key.protocol)} has no ports to translate`);
      }
      if (!Number.isInteger(nat.port) || nat.port < 1 || nat.port > 65535) {
        throw new ValidationError('ERR_INVALID_PORT', `${field}.port`, nat.port, `${field}.port must be an integer 1..65535`);
      }
    }
  }
  if ((input.snat || input.dnat) && input.reply) {
    throw new ValidationError('ERR_INVALID_ENTRY', 'reply', input.reply, 'give either snat/dnat or an explicit reply tuple: the kernel computes the reply of a NAT entry');
  }
  if (input.reply !== undefined) {
    const r = input.reply;
    if (r === null || typeof r !== 'object' || familyOf(String(r.src)) !== key.family || familyOf(String(r.dst)) !== key.family) {
      throw new ValidationError('ERR_INVALID_ADDRESS', 'reply', r, `reply.src and reply.dst must be ${key.family} addresses`);
    }
  }
  if (input.labels !== undefined) checkLabels(input.labels, 'labels');
  // Known flags the kernel owns (CONFIRMED, SRC_NAT, ...) are dropped, so list() output can be
  // created again; a name that is no flag at all is a mistake.
  for (const name of input.status ?? []) {
    if (!(C.STATUS_BITS as readonly string[]).includes(name) && name !== 'UNREPLIED') {
      throw new ValidationError('ERR_INVALID_ENTRY', 'status', name, `unknown status flag ${JSON.stringify(name)}; known: ${C.STATUS_BITS.join(', ')}`);
    }
  }
  if (input.mark !== undefined && !(Number.isInteger(input.mark) && input.mark >= 0 && input.mark <= 0xffffffff)) {
    throw new ValidationError('ERR_INVALID_ENTRY', 'mark', input.mark, 'mark must be an integer 0..0xffffffff');
  }
  if (input.timeout !== undefined && !(Number.isInteger(input.timeout) && input.timeout >= 0 && input.timeout <= 0xffffffff)) {
    throw new ValidationError('ERR_INVALID_ENTRY', 'timeout', input.timeout, 'timeout must be an integer number of seconds');
  }
}

/** Label bit numbers must be integers 0..127. */
export function checkLabels(labels: unknown, field: string): number[] {
  if (!Array.isArray(labels) || !labels.every((b) => Number.isInteger(b) && b >= 0 && b < LABEL_BYTES * 8)) {
    throw new ValidationError('ERR_INVALID_ENTRY', field, labels, `${field} must be an array of label bit numbers 0..127`);
  }
  return labels as number[];
}

/** NEW with NLM_F_CREATE|NLM_F_EXCL, like `conntrack -I`: both tuples, timeout, zone, state, NAT. */
export function encodeCreate(key: ConntrackKey, input: EntryInput, seq: number, w: MessageWriter = shared): Buffer {
  const table = STATE_TABLES[key.protocol];
  const stateName = input.state ?? defaultState(key.protocol);
  const state = table && stateName !== undefined ? table.names.indexOf(stateName) : -1;
  let status = 0;
  for (const name of input.status ?? []) {
    if (C.SETTABLE_STATUS.has(name)) status |= statusBits([name]);
  }
  w.begin(CT(C.IPCTNL_MSG_CT_NEW), NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL, seq, FAMILY_AF[key.family]);
  writeTuple(w, C.CTA_TUPLE_ORIG, key.family, key.protocol, key, key.origZone);
  const reply = input.reply ? { ...invertTuple(key), ...input.reply } : invertTuple(key);
  writeTuple(w, C.CTA_TUPLE_REPLY, key.family, key.protocol, reply, key.replyZone);
  w.u32be(C.CTA_TIMEOUT, input.timeout ?? DEFAULT_CREATE_TIMEOUT).u16be(C.CTA_ZONE, key.zone);
  // A new entry is already CONFIRMED when the kernel applies CTA_STATUS, and flipping CONFIRMED
  // is refused with EBUSY, so the bit must be sent set (Linux 6.18 answers EBUSY otherwise).
  if (status !== 0) w.u32be(C.CTA_STATUS, status | CONFIRMED);
  if (input.mark !== undefined) w.u32be(C.CTA_MARK, input.mark);
  if (table && state >= 0) {
    w.nest(C.CTA_PROTOINFO).nest(table.nest).u8(1, state);
    if (key.protocol === 'sctp') w.u32be(C.CTA_PROTOINFO_SCTP_VTAG_ORIGINAL, 1).u32be(C.CTA_PROTOINFO_SCTP_VTAG_REPLY, 2);
    // nlattr_to_dccp() takes a state only with a role: the original direction is the client's.
    if (key.protocol === 'dccp') w.u8(C.CTA_PROTOINFO_DCCP_ROLE, C.DCCP_ROLE_CLIENT);
    w.end().end();
  }
  if (input.dnat) writeNat(w, C.CTA_NAT_DST, key.family, input.dnat);
  if (input.snat) writeNat(w, C.CTA_NAT_SRC, key.family, input.snat);
  if (input.labels !== undefined && input.labels.length > 0) {
    writeLabels(w, C.CTA_LABELS, input.labels);
  }
  return w.finish();
}

/**
 * NEW without NLM_F_CREATE on an existing entry: the kernel changes the given attributes
 * (ENOENT when the entry is not there). `currentStatus` are the entry's bits now: CTA_STATUS must
 * repeat them, since clearing one the kernel owns is refused with EBUSY.
 */
export function encodeUpdate(key: ConntrackKey, changes: EntryChanges, seq: number, currentStatus = 0, w: MessageWriter = shared): Buffer {
  w.begin(CT(C.IPCTNL_MSG_CT_NEW), NLM_F_REQUEST | NLM_F_ACK, seq, FAMILY_AF[key.family]);
  writeKey(w, key);
  if (changes.timeout !== undefined) w.u32be(C.CTA_TIMEOUT, changes.timeout);
  if (changes.mark !== undefined) {
    // The kernel computes (old & ~mask) ^ mark: the value is sent already masked.
    const mask = changes.markMask ?? 0xffffffff;
    w.u32be(C.CTA_MARK, (changes.mark & mask) >>> 0);
    if (changes.markMask !== undefined) w.u32be(C.CTA_MARK_MASK, mask);
  }
  if (changes.status !== undefined) w.u32be(C.CTA_STATUS, (currentStatus | statusBits(changes.status) | CONFIRMED) >>> 0);
  if (changes.labels !== undefined) {
    const l = changes.labels;
    const add = Array.isArray(l) ? l : l.add ?? [];
    const mask = Array.isArray(l) ? Array.from({ length: LABEL_BYTES * 8 }, (_, i) => i) : [...add, ...(l.remove ?? [])];
    writeLabels(w, C.CTA_LABELS, add);
    writeLabels(w, C.CTA_LABELS_MASK, mask);
  }
  return w.finish();
}

/** What a dump request asks the kernel to filter by; the client decides what the kernel can do. */
export interface DumpRequest {
  family?: Family;
  /** CTA_ZONE (honoured by Linux >= 6.8, ignored before). */
  zone?: number;
  /** CTA_MARK + CTA_MARK_MASK. */
  mark?: { value: number; mask: number };
  /** CTA_STATUS + CTA_STATUS_MASK: every bit of `bits` set (Linux >= 5.15). */
  status?: number;
  /** CTA_FILTER over the original tuple (Linux >= 5.8): exact addresses, protocol, ports. */
  tuple?: { protocol?: Protocol; src?: string; dst?: string; sport?: number; dport?: number };
}

/** A dump request, with the kernel-side filters the caller asks for. */
export function encodeDump(seq: number, options: DumpRequest, w: MessageWriter = shared): Buffer {
  w.begin(CT(C.IPCTNL_MSG_CT_GET), NLM_F_REQUEST | NLM_F_DUMP, seq, familyToAf(options.family));
  if (options.zone !== undefined) w.u16be(C.CTA_ZONE, options.zone);
  if (options.mark) w.u32be(C.CTA_MARK, options.mark.value).u32be(C.CTA_MARK_MASK, options.mark.mask);
  if (options.status !== undefined) w.u32be(C.CTA_STATUS, options.status).u32be(C.CTA_STATUS_MASK, options.status);
  const t = options.tuple;
  if (t && options.family !== undefined) {
    let flags = 0;
    const v4 = options.family === 'ipv4';
    w.nest(C.CTA_TUPLE_ORIG).nest(C.CTA_TUPLE_IP);
    if (t.src !== undefined) {
      flags |= C.CTA_FILTER_F_CTA_IP_SRC;
      const o = w.attr(v4 ? C.CTA_IP_V4_SRC : C.CTA_IP_V6_SRC, v4 ? 4 : 16);
      writeAddress(w.buffer, o, t.src, options.family);
    }
    if (t.dst !== undefined) {
      flags |= C.CTA_FILTER_F_CTA_IP_DST;
      const o = w.attr(v4 ? C.CTA_IP_V4_DST : C.CTA_IP_V6_DST, v4 ? 4 : 16);
      writeAddress(w.buffer, o, t.dst, options.family);
    }
    w.end().nest(C.CTA_TUPLE_PROTO);
    if (t.protocol !== undefined) {
      flags |= C.CTA_FILTER_F_CTA_PROTO_NUM;
      w.u8(C.CTA_PROTO_NUM, protocolNumber(t.protocol));
      if (t.sport !== undefined) {
        flags |= C.CTA_FILTER_F_CTA_PROTO_SRC_PORT;
        w.u16be(C.CTA_PROTO_SRC_PORT, t.sport);
      }
      if (t.dport !== undefined) {
        flags |= C.CTA_FILTER_F_CTA_PROTO_DST_PORT;
        w.u16be(C.CTA_PROTO_DST_PORT, t.dport);
      }
    }
    w.end().end();
    // The flags are NLA_U32: host byte order.
    const o = w.nest(C.CTA_FILTER).attr(C.CTA_FILTER_ORIG_FLAGS, 4);
    w.buffer.writeUInt32LE(flags, o);
    w.end();
  }
  return w.finish();
}

/** IPCTNL_MSG_CT_GET_STATS_CPU (a dump, one message per CPU) or IPCTNL_MSG_CT_GET_STATS. */
export function encodeStatsRequest(seq: number, perCpu: boolean, w: MessageWriter = shared): Buffer {
  return w.begin(CT(perCpu ? C.IPCTNL_MSG_CT_GET_STATS_CPU : C.IPCTNL_MSG_CT_GET_STATS),
    NLM_F_REQUEST | (perCpu ? NLM_F_DUMP : NLM_F_ACK), seq, 0).finish();
}

// Decoding is the hot path of a 100,000-entry dump: the tables of ./attributes.ts locate
// attributes as offsets and values are read straight from the datagram. Not re-entrant; everything
// here is synchronous.

/**
 * The text of the address at `o`. Addresses repeat (an entry's reply tuple holds its original
 * addresses swapped, and many entries share a server), so the text of recent ones is kept in a small
 * direct-mapped cache and shared: at 100,000 entries that saves a string per address seen again.
 */
function address(buf: Buffer, o: number, family: Family): string {
  // Compared and hashed as 32-bit words (one for IPv4, four for IPv6): Buffer.compare with offsets
  // cost more than the strings it saved.
  const words = family === 'ipv4' ? 1 : 4;
  let h = words;
  for (let i = 0; i < words; i++) h = Math.imul(h ^ buf.readUInt32BE(o + 4 * i), 0x01000193);
  const slot = (h ^ (h >>> 15)) & (ADDRESS_SLOTS - 1);
  const at = slot * 4;
  const text = ADDRESS_TEXT[slot];
  if (text !== undefined && ADDRESS_WORDS_USED[slot] === words) {
    let same = true;
    for (let i = 0; i < words && same; i++) same = ADDRESS_WORDS[at + i] === buf.readUInt32BE(o + 4 * i);
    if (same) return text;
  }
  const made = words === 1 ? `${buf[o]}.${buf[o + 1]}.${buf[o + 2]}.${buf[o + 3]}` : bytesToAddress(buf.subarray(o, o + 16));
  for (let i = 0; i < words; i++) ADDRESS_WORDS[at + i] = buf.readUInt32BE(o + 4 * i);
  ADDRESS_WORDS_USED[slot] = words;
  ADDRESS_TEXT[slot] = made;
  return made;
}

const ADDRESS_SLOTS = 256;
const ADDRESS_WORDS = new Uint32Array(ADDRESS_SLOTS * 4);
const ADDRESS_WORDS_USED = new Uint8Array(ADDRESS_SLOTS);
const ADDRESS_TEXT: (string | undefined)[] = new Array<string | undefined>(ADDRESS_SLOTS).fill(undefined);

function required(table: NestTable | undefined, outer: NestTable, type: number, at: number): NestTable {
  if (!table) throw new NetlinkDecodeError(`${outer.name} without ${outer.defs[type]?.name ?? `attribute ${type}`}`, at);
  return table;
}

const ZONE = [-1];

/**
 * Decodes the tuple nest `type` of `outer` (an entry's or an expectation's); returns the IP
 * protocol number. Ports and ICMP fields are read when the kernel sent them (a generic protocol
 * has neither); a directional zone goes to `zones[0]` (-1 when there is none).
 */
export function decodeTuple(buf: Buffer, outer: NestTable, type: number, family: Family, tuple: ConntrackTuple, at: number, zones: number[] = ZONE): number {
  const t = required(outer.enter(buf, type), outer, type, at);
  const ip = required(t.enter(buf, C.CTA_TUPLE_IP), t, C.CTA_TUPLE_IP, at);
  const v4 = family === 'ipv4';
  tuple.src = address(buf, ip.offset(v4 ? C.CTA_IP_V4_SRC : C.CTA_IP_V6_SRC, at), family);
  tuple.dst = address(buf, ip.offset(v4 ? C.CTA_IP_V4_DST : C.CTA_IP_V6_DST, at), family);
  zones[0] = t.has(C.CTA_TUPLE_ZONE) ? t.be16(buf, C.CTA_TUPLE_ZONE, at) : -1;
  const p = required(t.enter(buf, C.CTA_TUPLE_PROTO), t, C.CTA_TUPLE_PROTO, at);
  const protoNum = p.u8(buf, C.CTA_PROTO_NUM, at);
  if (p.has(C.CTA_PROTO_SRC_PORT)) {
    tuple.sport = p.be16(buf, C.CTA_PROTO_SRC_PORT, at);
    tuple.dport = p.be16(buf, C.CTA_PROTO_DST_PORT, at);
  } else if (p.has(C.CTA_PROTO_ICMP_TYPE) || p.has(C.CTA_PROTO_ICMPV6_TYPE)) {
    const v6 = p.has(C.CTA_PROTO_ICMPV6_TYPE);
    tuple.icmpType = p.u8(buf, v6 ? C.CTA_PROTO_ICMPV6_TYPE : C.CTA_PROTO_ICMP_TYPE, at);
    const code = v6 ? C.CTA_PROTO_ICMPV6_CODE : C.CTA_PROTO_ICMP_CODE;
    const id = v6 ? C.CTA_PROTO_ICMPV6_ID : C.CTA_PROTO_ICMP_ID;
    tuple.icmpCode = p.has(code) ? p.u8(buf, code, at) : 0;
    tuple.icmpId = p.has(id) ? p.be16(buf, id, at) : 0;
  }
  return protoNum;
}

/**
 * The flag names of a status word. A table holds few distinct words, so each list is made once and
 * shared (frozen): 100,000 listed entries then cost a handful of arrays, not 100,000.
 */
export function decodeStatus(bits: number): readonly string[] {
  let names = STATUS_NAMES.get(bits);
  if (names === undefined) {
    const out: string[] = [];
    for (let i = 0; i < C.STATUS_BITS.length; i++) if (bits & (1 << i)) out.push(C.STATUS_BITS[i]!);
    names = Object.freeze(out);
    if (STATUS_NAMES.size < 4096) STATUS_NAMES.set(bits, names);
  }
  return names;
}

const STATUS_NAMES = new Map<number, readonly string[]>();

function decodeState(buf: Buffer, protocol: Protocol, at: number): string | undefined {
  const table = STATE_TABLES[protocol];
  if (!table) return undefined;
  const state = CTA.enter(buf, C.CTA_PROTOINFO)?.enter(buf, table.nest);
  if (!state?.has(C.CTA_PROTOINFO_TCP_STATE)) return undefined;
  const n = state.u8(buf, C.CTA_PROTOINFO_TCP_STATE, at);
  return table.names[n] ?? `STATE_${n}`;
}

/**
 * FNV-1a over the original tuple's bytes and the zone of the entry decodeEntry() decoded last
 * (from `buf`, before the next decode): tells two entries with one kernel id apart. Computed only
 * for the entries a dump keeps.
 */
export function lastTupleHash(buf: Buffer, zone: number): number {
  const o = CTA.offset(C.CTA_TUPLE_ORIG, 0);
  const end = o + CTA.length(C.CTA_TUPLE_ORIG);
  let h = 0x811c9dc5 ^ zone;
  for (let i = o; i < end; i++) h = Math.imul(h ^ buf[i]!, 0x01000193);
  return h >>> 0;
}

function counters(buf: Buffer, type: number, at: number): { packets: number; bytes: number } {
  const c = required(CTA.enter(buf, type), CTA, type, at);
  return {
    packets: Number(c.be64(buf, C.CTA_COUNTERS_PACKETS, at)),
    bytes: Number(c.be64(buf, C.CTA_COUNTERS_BYTES, at)),
  };
}

/** Label bit numbers set in a CTA_LABELS bitmap (see writeLabels). */
function labels(buf: Buffer, at: number): number[] {
  const o = CTA.offset(C.CTA_LABELS, at);
  const len = CTA.length(C.CTA_LABELS);
  if (len % 4 !== 0) throw new NetlinkDecodeError(`CTA_LABELS of ${len} byte(s), not a whole number of words`, o);
  const out: number[] = [];
  for (let i = 0; i < len; i++) {
    const byte = buf[o + i]!;
    if (byte === 0) continue;
    for (let b = 0; b < 8; b++) if (byte & (1 << b)) out.push(i * 8 + b);
  }
  return out;
}

/**
 * Decodes one IPCTNL_MSG_CT_NEW message (a dump's, a get's or an event's) into an entry. Every IP
 * protocol decodes: one the model has no name for is reported by number, with the addresses as its
 * tuple. Attributes the tables do not declare are skipped knowingly. Malformed bytes throw
 * NetlinkDecodeError, never anything else.
 */
export function decodeEntry(msg: NetlinkMessage): ConntrackEntry {
  const buf = msg.buf;
  const at = msg.offset;
  const nfgen = msg.nfgen;
  if (!nfgen) throw new NetlinkDecodeError('conntrack message without nfgenmsg', at);
  const family: Family | undefined = nfgen.family === C.AF_INET ? 'ipv4' : nfgen.family === C.AF_INET6 ? 'ipv6' : undefined;
  if (!family) throw new NetlinkDecodeError(`conntrack entry of address family ${nfgen.family}`, at);
  const t = CTA;
  t.scan(buf, msg.nfAttrsStart, msg.end);
  // Decoded in place (no tuple object to copy from), keys in the model's order.
  const entry = { family, protocol: 0, src: '', dst: '' } as ConntrackEntry;
  entry.protocol = protocolOf(decodeTuple(buf, t, C.CTA_TUPLE_ORIG, family, entry, at));
  const origZone = ZONE[0]!;
  entry.zone = t.has(C.CTA_ZONE) ? t.be16(buf, C.CTA_ZONE, at) : 0;
  const protocol = entry.protocol;
  if (origZone >= 0) entry.origZone = origZone;
  if (t.has(C.CTA_TUPLE_REPLY)) {
    const reply = { src: '', dst: '' } as ConntrackTuple;
    decodeTuple(buf, t, C.CTA_TUPLE_REPLY, family, reply, at);
    if (ZONE[0]! >= 0) entry.replyZone = ZONE[0]!;
    entry.reply = reply;
  }
  if (t.has(C.CTA_TIMEOUT)) entry.timeout = t.be32(buf, C.CTA_TIMEOUT, at);
  if (t.has(C.CTA_MARK)) entry.mark = t.be32(buf, C.CTA_MARK, at);
  if (t.has(C.CTA_STATUS)) entry.status = decodeStatus(t.be32(buf, C.CTA_STATUS, at));
  if (t.has(C.CTA_ID)) entry.id = t.be32(buf, C.CTA_ID, at);
  if (t.has(C.CTA_USE)) entry.use = t.be32(buf, C.CTA_USE, at);
  if (t.has(C.CTA_PROTOINFO)) {
    const state = decodeState(buf, protocol, at);
    if (state !== undefined) entry.state = state;
  }
  if (t.has(C.CTA_COUNTERS_ORIG) && t.has(C.CTA_COUNTERS_REPLY)) {
    entry.counters = { orig: counters(buf, C.CTA_COUNTERS_ORIG, at), reply: counters(buf, C.CTA_COUNTERS_REPLY, at) };
  }
  const ts = t.enter(buf, C.CTA_TIMESTAMP);
  if (ts) {
    entry.timestamp = { start: ts.has(C.CTA_TIMESTAMP_START) ? ts.be64(buf, C.CTA_TIMESTAMP_START, at) : 0n };
    if (ts.has(C.CTA_TIMESTAMP_STOP)) entry.timestamp.stop = ts.be64(buf, C.CTA_TIMESTAMP_STOP, at);
  }
  if (t.has(C.CTA_LABELS)) entry.labels = labels(buf, at);
  const help = t.enter(buf, C.CTA_HELP);
  if (help?.has(C.CTA_HELP_NAME)) entry.helper = help.string(buf, C.CTA_HELP_NAME, at);
  return entry;
}

/** Per-CPU conntrack statistics (`conntrack -S`); counters the kernel no longer keeps are absent. */
export interface CpuStats {
  cpu: number;
  found: number;
  invalid: number;
  insert: number;
  insertFailed: number;
  drop: number;
  earlyDrop: number;
  error: number;
  searchRestart: number;
  /** Linux >= 5.13. */
  clashResolve?: number;
  /** Linux >= 5.15. */
  chainTooLong?: number;
}

/** One message of a IPCTNL_MSG_CT_GET_STATS_CPU dump (nfgenmsg res_id is the CPU): every counter its table declares that the kernel sent. */
export function decodeCpuStats(msg: NetlinkMessage): CpuStats {
  const nfgen = msg.nfgen;
  if (!nfgen) throw new NetlinkDecodeError('statistics message without nfgenmsg', msg.offset);
  const t = STATS_CPU;
  t.scan(msg.buf, msg.nfAttrsStart, msg.end);
  const out = { cpu: nfgen.resId } as CpuStats;
  for (const def of t.defs) {
    if (def && t.has(def.type)) out[def.name as keyof Omit<CpuStats, 'cpu'>] = t.be32(msg.buf, def.type, msg.offset);
  }
  return out;
}

/** The answer to IPCTNL_MSG_CT_GET_STATS: entries in the table and the table's maximum. */
export function decodeGlobalStats(msg: NetlinkMessage): { count: number; max: number } {
  const t = STATS_GLOBAL;
  t.scan(msg.buf, msg.nfAttrsStart, msg.end);
  return { count: t.be32(msg.buf, C.CTA_STATS_GLOBAL_ENTRIES, msg.offset), max: t.be32(msg.buf, C.CTA_STATS_GLOBAL_MAX_ENTRIES, msg.offset) };
}
