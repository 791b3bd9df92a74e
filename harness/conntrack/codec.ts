// ctnetlink messages for conntrack entries: encode a tuple, a create, a delete and a dump request;
// decode a dumped entry. Pure functions over bytes, so unit tests can feed captured kernel dumps.
import {
  attrBytes, attrNest, attrsByType, attrU16be, attrU32be, attrU8, nestedByType, readU16be, readU32be, readU8,
  type AttrTable,
} from '../netlink/attributes.ts';
import { NLM_F_ACK, NLM_F_CREATE, NLM_F_DUMP, NLM_F_EXCL, NLM_F_REQUEST } from '../netlink/constants.ts';
import { ValidationError } from '../errors.ts';
import { NetlinkDecodeError } from '../netlink/errors.ts';
import { encodeNfMessage, nfnlType, type NetlinkMessage } from '../netlink/message.ts';
import { addressToBytes, bytesToAddress, type Family } from './address.ts';
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

export function encodeTuple(type: number, family: Family, protocol: ConntrackKey['protocol'], tuple: ConntrackTuple): Buffer {
  const v4 = family === 'ipv4';
  const ip = attrNest(C.CTA_TUPLE_IP, [
    attrBytes(v4 ? C.CTA_IP_V4_SRC : C.CTA_IP_V6_SRC, addressToBytes(tuple.src, family)),
    attrBytes(v4 ? C.CTA_IP_V4_DST : C.CTA_IP_V6_DST, addressToBytes(tuple.dst, family)),
  ]);
  const proto: Buffer[] = [attrU8(C.CTA_PROTO_NUM, PROTOCOLS[protocol].number)];
  if (tuple.icmpType !== undefined) {
    const v6 = protocol === 'icmpv6';
    proto.push(
      attrU16be(v6 ? C.CTA_PROTO_ICMPV6_ID : C.CTA_PROTO_ICMP_ID, tuple.icmpId ?? 0),
      attrU8(v6 ? C.CTA_PROTO_ICMPV6_TYPE : C.CTA_PROTO_ICMP_TYPE, tuple.icmpType),
      attrU8(v6 ? C.CTA_PROTO_ICMPV6_CODE : C.CTA_PROTO_ICMP_CODE, tuple.icmpCode ?? 0),
    );
  } else {
    proto.push(attrU16be(C.CTA_PROTO_SRC_PORT, tuple.sport ?? 0), attrU16be(C.CTA_PROTO_DST_PORT, tuple.dport ?? 0));
  }
  return attrNest(type, [ip, attrNest(C.CTA_TUPLE_PROTO, proto)]);
}

const CT = (msg: number) => nfnlType(C.NFNL_SUBSYS_CTNETLINK, msg);

/** DELETE by original tuple and zone (without CTA_ZONE the kernel looks in zone 0). */
export function encodeDelete(key: ConntrackKey, seq: number): Buffer {
  return encodeNfMessage({
    type: CT(C.IPCTNL_MSG_CT_DELETE),
    flags: NLM_F_REQUEST | NLM_F_ACK,
    seq,
    family: FAMILY_AF[key.family],
    attrs: [encodeTuple(C.CTA_TUPLE_ORIG, key.family, key.protocol, key), attrU16be(C.CTA_ZONE, key.zone)],
  });
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
export function encodeCreate(key: ConntrackKey, input: EntryInput, seq: number): Buffer {
  const attrs: Buffer[] = [
    encodeTuple(C.CTA_TUPLE_ORIG, key.family, key.protocol, key),
    encodeTuple(C.CTA_TUPLE_REPLY, key.family, key.protocol, invertTuple(key)),
    attrU32be(C.CTA_TIMEOUT, input.timeout ?? DEFAULT_CREATE_TIMEOUT),
    attrU16be(C.CTA_ZONE, key.zone),
  ];
  let status = 0;
  for (const name of input.status ?? []) {
    if (C.SETTABLE_STATUS.has(name)) status |= 1 << C.STATUS_BITS.indexOf(name as (typeof C.STATUS_BITS)[number]);
  }
  // A new entry is already CONFIRMED when the kernel applies CTA_STATUS, and flipping CONFIRMED
  // is refused with EBUSY, so the bit must be sent set (Linux 6.18 answers EBUSY otherwise).
  if (status !== 0) attrs.push(attrU32be(C.CTA_STATUS, status | (1 << C.STATUS_BITS.indexOf('CONFIRMED'))));
  if (input.mark !== undefined) attrs.push(attrU32be(C.CTA_MARK, input.mark));
  const table = STATE_TABLES[key.protocol];
  if (table) {
    const name = input.tcpState ?? table.initial;
    const state = table.names.indexOf(name);
    if (state < 0) {
      throw new ValidationError('ERR_INVALID_ENTRY', 'tcpState', name,
        `${key.protocol} has no state ${JSON.stringify(name)}; known: ${table.names.join(', ')}`);
    }
    const info: Buffer[] = [attrU8(1, state)];
    if (key.protocol === 'sctp') {
      info.push(attrU32be(C.CTA_PROTOINFO_SCTP_VTAG_ORIGINAL, 1), attrU32be(C.CTA_PROTOINFO_SCTP_VTAG_REPLY, 2));
    }
    attrs.push(attrNest(C.CTA_PROTOINFO, [attrNest(table.nest, info)]));
  }
  return encodeNfMessage({
    type: CT(C.IPCTNL_MSG_CT_NEW),
    flags: NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL,
    seq,
    family: FAMILY_AF[key.family],
    attrs,
  });
}

/** A dump request; `zone` is sent as CTA_ZONE (honoured by Linux >= 6.8, ignored before). */
export function encodeDump(seq: number, options: { family?: Family; zone?: number }): Buffer {
  return encodeNfMessage({
    type: CT(C.IPCTNL_MSG_CT_GET),
    flags: NLM_F_REQUEST | NLM_F_DUMP,
    seq,
    family: familyToAf(options.family),
    attrs: options.zone === undefined ? [] : [attrU16be(C.CTA_ZONE, options.zone)],
  });
}

function need(table: AttrTable, type: number, what: string, at: number): Buffer {
  const v = table[type];
  if (v === undefined) throw new NetlinkDecodeError(`conntrack entry without ${what}`, at);
  return v;
}

function decodeTuple(value: Buffer, family: Family): { tuple: ConntrackTuple; protoNum: number } {
  const t = nestedByType(value, C.CTA_TUPLE_ZONE);
  const ip = nestedByType(need(t, C.CTA_TUPLE_IP, 'CTA_TUPLE_IP', value.byteOffset), C.CTA_IP_V6_DST);
  const v4 = family === 'ipv4';
  const src = need(ip, v4 ? C.CTA_IP_V4_SRC : C.CTA_IP_V6_SRC, 'source address', value.byteOffset);
  const dst = need(ip, v4 ? C.CTA_IP_V4_DST : C.CTA_IP_V6_DST, 'destination address', value.byteOffset);
  const size = v4 ? 4 : 16;
  if (src.length !== size || dst.length !== size) {
    throw new NetlinkDecodeError(`address of ${src.length}/${dst.length} bytes in an ${family} tuple`, src.byteOffset);
  }
  const proto = nestedByType(need(t, C.CTA_TUPLE_PROTO, 'CTA_TUPLE_PROTO', value.byteOffset), C.CTA_PROTO_ICMPV6_CODE);
  const protoNum = readU8(need(proto, C.CTA_PROTO_NUM, 'CTA_PROTO_NUM', value.byteOffset));
  const tuple: ConntrackTuple = { src: bytesToAddress(src), dst: bytesToAddress(dst) };
  const sport = proto[C.CTA_PROTO_SRC_PORT];
  const icmpType = proto[C.CTA_PROTO_ICMP_TYPE] ?? proto[C.CTA_PROTO_ICMPV6_TYPE];
  if (sport !== undefined) {
    tuple.sport = readU16be(sport);
    tuple.dport = readU16be(need(proto, C.CTA_PROTO_DST_PORT, 'destination port', value.byteOffset));
  } else if (icmpType !== undefined) {
    const v6 = proto[C.CTA_PROTO_ICMPV6_TYPE] !== undefined;
    tuple.icmpType = readU8(icmpType);
    const code = proto[v6 ? C.CTA_PROTO_ICMPV6_CODE : C.CTA_PROTO_ICMP_CODE];
    const id = proto[v6 ? C.CTA_PROTO_ICMPV6_ID : C.CTA_PROTO_ICMP_ID];
    tuple.icmpCode = code === undefined ? 0 : readU8(code);
    tuple.icmpId = id === undefined ? 0 : readU16be(id);
  }
  return { tuple, protoNum };
}

function decodeStatus(bits: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < C.STATUS_BITS.length; i++) if (bits & (1 << i)) out.push(C.STATUS_BITS[i]!);
  return out;
}

function decodeState(protoinfo: Buffer, protocol: ConntrackKey['protocol']): string | undefined {
  const table = STATE_TABLES[protocol];
  if (!table) return undefined;
  const info = nestedByType(protoinfo, C.CTA_PROTOINFO_SCTP)[table.nest];
  if (!info) return undefined;
  const state = nestedByType(info, 1)[1];
  if (!state) return undefined;
  const n = readU8(state);
  return table.names[n] ?? `STATE_${n}`;
}

/**
 * Decodes one IPCTNL_MSG_CT_NEW message of a dump into an entry; `undefined` for an entry of a
 * protocol the model does not know (it is not one the harness made). Malformed bytes throw
 * NetlinkDecodeError, never anything else.
 */
export function decodeEntry(msg: NetlinkMessage): ConntrackEntry | undefined {
  const nfgen = msg.nfgen;
  if (!nfgen) throw new NetlinkDecodeError('conntrack message without nfgenmsg', msg.offset);
  const family: Family | undefined = nfgen.family === C.AF_INET ? 'ipv4' : nfgen.family === C.AF_INET6 ? 'ipv6' : undefined;
  if (!family) throw new NetlinkDecodeError(`conntrack entry of address family ${nfgen.family}`, msg.offset);
  const a = attrsByType(msg.buf, msg.nfAttrsStart, msg.end, C.CTA_ZONE);
  const { tuple, protoNum } = decodeTuple(need(a, C.CTA_TUPLE_ORIG, 'CTA_TUPLE_ORIG', msg.offset), family);
  const protocol = protocolByNumber(protoNum);
  if (!protocol) return undefined;
  const zone = a[C.CTA_ZONE];
  const entry: ConntrackEntry = { family, protocol, ...tuple, zone: zone === undefined ? 0 : readU16be(zone) };
  const reply = a[C.CTA_TUPLE_REPLY];
  if (reply) entry.reply = decodeTuple(reply, family).tuple;
  const timeout = a[C.CTA_TIMEOUT];
  if (timeout) entry.timeout = readU32be(timeout);
  const mark = a[C.CTA_MARK];
  if (mark) entry.mark = readU32be(mark);
  const status = a[C.CTA_STATUS];
  if (status) entry.status = decodeStatus(readU32be(status));
  const id = a[C.CTA_ID];
  if (id) entry.id = readU32be(id);
  const protoinfo = a[C.CTA_PROTOINFO];
  if (protoinfo) {
    const state = decodeState(protoinfo, protocol);
    if (state !== undefined) entry.tcpState = state;
  }
  return entry;
}
