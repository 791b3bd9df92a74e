// ConntrackClient expectations (`conntrack -L/-I/-D expect`): what a helper such as FTP told the kernel to
// expect, e.g. the data connection announced by a PORT command. Model, validation, the ctnetlink
// messages of subsystem NFNL_SUBSYS_CTNETLINK_EXP, and the API the client exposes as
// `client.expectations`.
import { HarnessError, ValidationError } from '../errors.ts';
import { NLM_F_ACK, NLM_F_CREATE, NLM_F_DUMP, NLM_F_EXCL, NLM_F_REQUEST } from '../netlink/constants.ts';
import type { NetlinkConnection } from '../netlink/connection.ts';
import { NetlinkDecodeError } from '../errors.ts';
import { nfnlType, type NetlinkMessage } from '../netlink/message.ts';
import { canonicalAddress, familyOf, type Family } from './address.ts';
import { EXPECT } from './attributes.ts';
import { checkStreamOptions, EventStream, openEventSocket } from './events.ts';
import { decodeTuple, FAMILY_AF, shared, writeTuple } from './codec.ts';
import * as C from './constants.ts';
import { assertFamily, assertProtocol, assertU16, assertZone, normalizeKey, protocolOf, tupleShape, type ConntrackTuple, type EntryInput, type Protocol } from './entry.ts';

/** An expectation as the kernel reports it. The kernel does not report its zone. */
export interface Expectation {
  family: Family;
  /** Protocol of the expected connection. */
  protocol: Protocol;
  /** The expected connection: a source port of 0 with a mask port of 0 means any source port. */
  tuple: ConntrackTuple;
  /** Which bits of the tuple's source address and port must match (the destination always does). */
  mask: { src: string; sport?: number };
  /** Original tuple of the connection that made the expectation, and its protocol. */
  master: ConntrackTuple & { protocol: Protocol };
  /** Seconds left. */
  timeout: number;
  id: number;
  /** The helper that owns it, e.g. `ftp`. */
  helper?: string;
  flags: string[];
  class: number;
}

/** What create() takes: the master entry (which must exist and have a helper) and the expected tuple. */
export interface ExpectationInput {
  /** The master connection's key: its original tuple and zone. */
  master: EntryInput;
  /** The expected connection; `sport` 0 (the default) with mask sport 0 accepts any source port. */
  tuple: { src: string; dst: string; sport?: number; dport?: number };
  /** Protocol of the expected connection; default: the master's. */
  protocol?: Protocol;
  /** Source address and port mask; default: the whole address, and port mask 0 when sport is 0. */
  mask?: { src?: string; sport?: number };
  /** Seconds; default 120. */
  timeout?: number;
  /** Helper name; default: the master's helper. */
  helper?: string;
}

/** What delete() takes: an expectation from list(), or its tuple, protocol and zone. */
export interface ExpectationKey {
  family?: Family;
  protocol: Protocol;
  tuple: ConntrackTuple;
  /** Zone of the master (default 0). */
  zone?: number;
}

export interface ExpectationFilter {
  family?: Family;
  protocol?: Protocol;
  helper?: string;
}

const EXP = (msg: number) => nfnlType(C.NFNL_SUBSYS_CTNETLINK_EXP, msg);
const FULL_MASK: Record<Family, string> = { ipv4: '255.255.255.255', ipv6: 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff' };

function bad(field: string, value: unknown, message: string): never {
  throw new ValidationError('ERR_INVALID_ENTRY', field, value, message);
}

interface NormalizedInput {
  family: Family;
  zone: number;
  master: ReturnType<typeof normalizeKey>;
  protocol: Protocol;
  tuple: ConntrackTuple;
  mask: ConntrackTuple;
  timeout: number;
  helper?: string;
}

function normalizeInput(input: ExpectationInput): NormalizedInput {
  if (input === null || typeof input !== 'object') bad('expectation', input, 'an expectation must be an object');
  const master = normalizeKey(input.master);
  const protocol = input.protocol === undefined ? master.protocol : assertProtocol(input.protocol);
  if (tupleShape(protocol) !== 'ports') bad('protocol', protocol, `expectations are made for port protocols here, not ${String(protocol)}`);
  const t = input.tuple;
  if (t === null || typeof t !== 'object') bad('tuple', t, 'tuple must be { src, dst, sport?, dport? }');
  for (const field of ['src', 'dst'] as const) {
    if (familyOf(String(t[field])) !== master.family) {
      throw new ValidationError('ERR_INVALID_ADDRESS', `tuple.${field}`, t[field], `tuple.${field} must be an ${master.family} address like the master's`);
    }
  }
  const sport = assertU16(t.sport ?? 0, 'tuple.sport');
  const tuple = { src: canonicalAddress(t.src), dst: canonicalAddress(t.dst), sport, dport: assertU16(t.dport ?? 0, 'tuple.dport') };
  const maskSrc = input.mask?.src ?? FULL_MASK[master.family];
  if (familyOf(maskSrc) !== master.family) throw new ValidationError('ERR_INVALID_ADDRESS', 'mask.src', maskSrc, `mask.src must be an ${master.family} mask`);
  const mask = { src: maskSrc, dst: FULL_MASK[master.family], sport: assertU16(input.mask?.sport ?? (sport === 0 ? 0 : 0xffff), 'mask.sport'), dport: 0xffff };
  const timeout = input.timeout ?? 120;
  if (!Number.isInteger(timeout) || timeout < 1 || timeout > 0xffffffff) bad('timeout', timeout, 'timeout must be a positive integer number of seconds');
  if (input.helper !== undefined && (typeof input.helper !== 'string' || !/^[a-z0-9_-]{1,15}$/i.test(input.helper))) {
    bad('helper', input.helper, 'helper must be a helper name of at most 15 characters, e.g. ftp');
  }
  return { family: master.family, zone: master.zone, master, protocol, tuple, mask, timeout, ...(input.helper ? { helper: input.helper } : {}) };
}

function writeString(type: number, value: string): void {
  const bytes = Buffer.from(`${value}\0`, 'latin1');
  const o = shared.attr(type, bytes.length);
  bytes.copy(shared.buffer, o);
}

/** IPCTNL_MSG_EXP_NEW with CREATE|EXCL: master tuple, expected tuple, mask, timeout, zone, helper. */
export function encodeExpectCreate(e: NormalizedInput, seq: number): Buffer {
  const w = shared;
  w.begin(EXP(C.IPCTNL_MSG_EXP_NEW), NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL, seq, FAMILY_AF[e.family]);
  writeTuple(w, C.CTA_EXPECT_MASTER, e.family, e.master.protocol, e.master);
  writeTuple(w, C.CTA_EXPECT_TUPLE, e.family, e.protocol, e.tuple);
  writeTuple(w, C.CTA_EXPECT_MASK, e.family, e.protocol, e.mask);
  w.u32be(C.CTA_EXPECT_TIMEOUT, e.timeout).u16be(C.CTA_EXPECT_ZONE, e.zone);
  if (e.helper) writeString(C.CTA_EXPECT_HELP_NAME, e.helper);
  return w.finish();
}

/** IPCTNL_MSG_EXP_DELETE by the expected tuple and zone. */
export function encodeExpectDelete(family: Family, protocol: Protocol, tuple: ConntrackTuple, zone: number, seq: number): Buffer {
  const w = shared;
  w.begin(EXP(C.IPCTNL_MSG_EXP_DELETE), NLM_F_REQUEST | NLM_F_ACK, seq, FAMILY_AF[family]);
  writeTuple(w, C.CTA_EXPECT_TUPLE, family, protocol, tuple);
  return w.u16be(C.CTA_EXPECT_ZONE, zone).finish();
}

export function encodeExpectDump(seq: number, family: Family | undefined): Buffer {
  return shared.begin(EXP(C.IPCTNL_MSG_EXP_GET), NLM_F_REQUEST | NLM_F_DUMP, seq, family === undefined ? 0 : FAMILY_AF[family]).finish();
}

/** Decodes one expectation (IPCTNL_MSG_EXP_NEW) of a dump. */
export function decodeExpectation(msg: NetlinkMessage): Expectation {
  const { buf, offset: at } = msg;
  const nfgen = msg.nfgen;
  const family: Family | undefined = nfgen?.family === C.AF_INET ? 'ipv4' : nfgen?.family === C.AF_INET6 ? 'ipv6' : undefined;
  if (!family) throw new NetlinkDecodeError(`expectation of address family ${nfgen?.family}`, at);
  const t = EXPECT;
  t.scan(buf, msg.nfAttrsStart, msg.end);
  const tuple = { src: '', dst: '' } as ConntrackTuple;
  const protocol = protocolOf(decodeTuple(buf, t, C.CTA_EXPECT_TUPLE, family, tuple, at));
  const mask = { src: '', dst: '' } as ConntrackTuple;
  decodeTuple(buf, t, C.CTA_EXPECT_MASK, family, mask, at);
  const master = { src: '', dst: '' } as ConntrackTuple & { protocol: Protocol };
  master.protocol = protocolOf(decodeTuple(buf, t, C.CTA_EXPECT_MASTER, family, master, at));
  const flags = t.has(C.CTA_EXPECT_FLAGS) ? t.be32(buf, C.CTA_EXPECT_FLAGS, at) : 0;
  const out: Expectation = {
    family, protocol, tuple,
    mask: mask.sport === undefined ? { src: mask.src } : { src: mask.src, sport: mask.sport },
    master,
    timeout: t.be32(buf, C.CTA_EXPECT_TIMEOUT, at),
    id: t.be32(buf, C.CTA_EXPECT_ID, at),
    flags: C.EXPECT_FLAG_BITS.filter((_, bit) => flags & (1 << bit)),
    class: t.has(C.CTA_EXPECT_CLASS) ? t.be32(buf, C.CTA_EXPECT_CLASS, at) : 0,
  };
  if (t.has(C.CTA_EXPECT_HELP_NAME)) out.helper = t.string(buf, C.CTA_EXPECT_HELP_NAME, at);
  return out;
}

function normalizeExpectFilter(filter: unknown): ExpectationFilter {
  if (filter === null || typeof filter !== 'object' || Array.isArray(filter)) {
    throw new ValidationError('ERR_INVALID_FILTER', 'filter', filter, 'a filter must be an object');
  }
  const f = filter as Record<string, unknown>;
  const keys = ['family', 'protocol', 'helper'];
  for (const key of Object.keys(f)) {
    if (!keys.includes(key)) {
      throw new ValidationError('ERR_UNKNOWN_FILTER_KEY', key, f[key], `unknown expectation filter key ${JSON.stringify(key)}; known: ${keys.join(', ')}`);
    }
  }
  return {
    ...(f.family === undefined ? {} : { family: assertFamily(f.family) }),
    ...(f.protocol === undefined ? {} : { protocol: assertProtocol(f.protocol) }),
    ...(f.helper === undefined ? {} : { helper: String(f.helper) }),
  };
}

export interface ExpectationCreateResult {
  created: ExpectationInput[];
  failed: Array<{ expectation: ExpectationInput; error: HarnessError }>;
}

export interface ExpectationDeleteResult {
  deleted: ExpectationKey[];
  notFound: ExpectationKey[];
  failed: Array<{ expectation: ExpectationKey; error: HarnessError }>;
}

export type ExpectationEventType = 'new' | 'destroy';
export const EXPECTATION_EVENT_TYPES: readonly ExpectationEventType[] = ['new', 'destroy'];

export interface ExpectationEventOptions {
  family?: Family;
  /** Which events to receive; default both. */
  types?: readonly ExpectationEventType[];
  /** Ends the stream (quietly). */
  signal?: AbortSignal;
  /** The socket's kernel receive buffer (see `EventOptions.bufferBytes`). */
  bufferBytes?: number;
}

/** An expectation the kernel made (a helper, or a create) or dropped (used, timed out, deleted). */
export type ExpectationEvent = { type: ExpectationEventType; expectation: Expectation };

/** enum nfnetlink_groups: NFNLGRP_CONNTRACK_EXP_NEW and _EXP_DESTROY. */
const EXPECTATION_GROUPS: Record<ExpectationEventType, number> = { new: 4, destroy: 6 };
const EXPECTATION_EVENT_KEYS = new Set(['family', 'types', 'signal', 'bufferBytes']);
const EXP_NEW_TYPE = (C.NFNL_SUBSYS_CTNETLINK_EXP << 8) | C.IPCTNL_MSG_EXP_NEW;
const EXP_DELETE_TYPE = (C.NFNL_SUBSYS_CTNETLINK_EXP << 8) | C.IPCTNL_MSG_EXP_DELETE;

/** `client.expectations`: list, create and delete the namespace's expectations, and watch them. */
export class Expectations {
  readonly #conn: NetlinkConnection;
  readonly #netns: string;

  constructor(conn: NetlinkConnection, netns: string) {
    this.#conn = conn;
    this.#netns = netns;
  }

  /**
   * Expectation events of the namespace (`conntrack -E expect`), on a socket of their own joined
   * to the EXP_NEW and EXP_DESTROY groups: `{ type: 'new' | 'destroy', expectation }`, and
   * `{ type: 'overflow' }` when the kernel dropped events. Options are checked before it opens.
   */
  events(options: ExpectationEventOptions = {}): EventStream<ExpectationEvent> {
    const { types, signal, bufferBytes } = checkStreamOptions(options, 'expectations.events()', EXPECTATION_EVENT_KEYS, EXPECTATION_EVENT_TYPES);
    const family = options.family === undefined ? undefined : assertFamily(options.family);
    const socket = openEventSocket(this.#netns, types.map((t) => EXPECTATION_GROUPS[t]), bufferBytes);
    return new EventStream<ExpectationEvent>(socket, (msg) => {
      if (msg.type !== EXP_NEW_TYPE && msg.type !== EXP_DELETE_TYPE) return undefined;
      const expectation = decodeExpectation(msg);
      if (family !== undefined && expectation.family !== family) return undefined;
      return { type: msg.type === EXP_DELETE_TYPE ? 'destroy' : 'new', expectation };
    }, signal, false);
  }

  /** Every expectation of the namespace that matches `filter` (family, protocol, helper). */
  async list(filter: ExpectationFilter = {}): Promise<Expectation[]> {
    const f = normalizeExpectFilter(filter);
    const out: Expectation[] = [];
    await this.#conn.dump(encodeExpectDump(this.#conn.nextSeq(), f.family), (msg) => {
      const e = decodeExpectation(msg);
      if (f.protocol !== undefined && e.protocol !== f.protocol) return;
      if (f.helper !== undefined && e.helper !== f.helper) return;
      out.push(e);
    });
    return out;
  }

  /**
   * Creates expectations like `conntrack -I expect`, each on its master. The kernel refuses a
   * master that does not exist (ENOENT) or has no helper (EOPNOTSUPP); each fate is reported.
   */
  async create(inputs: readonly ExpectationInput[]): Promise<ExpectationCreateResult> {
    if (!Array.isArray(inputs)) throw new ValidationError('ERR_INVALID_ARGUMENT', 'expectations', inputs, 'create() takes an array of expectations');
    const normalized = inputs.map(normalizeInput);
    const result: ExpectationCreateResult = { created: [], failed: [] };
    if (normalized.length === 0) return result;
    const replies = await this.#conn.transact(normalized.map((e) => encodeExpectCreate(e, this.#conn.nextSeq())));
    replies.forEach((reply, i) => {
      if (reply.error) result.failed.push({ expectation: inputs[i]!, error: reply.error });
      else result.created.push(inputs[i]!);
    });
    return result;
  }

  /** Deletes expectations by their expected tuple (and master zone); sorted like ConntrackClient.delete(). */
  async delete(keys: readonly ExpectationKey[]): Promise<ExpectationDeleteResult> {
    if (!Array.isArray(keys)) throw new ValidationError('ERR_INVALID_ARGUMENT', 'expectations', keys, 'delete() takes an array of expectations');
    const normalized = keys.map((k) => {
      if (k === null || typeof k !== 'object' || k.tuple === null || typeof k.tuple !== 'object') bad('expectation', k, 'an expectation key needs { protocol, tuple }');
      const family = k.family ?? familyOf(String(k.tuple.src));
      if (!family) throw new ValidationError('ERR_INVALID_ADDRESS', 'tuple.src', k.tuple.src, 'invalid expected source address');
      const protocol = assertProtocol(k.protocol);
      if (tupleShape(protocol) !== 'ports') bad('protocol', protocol, `expectations are made for port protocols here, not ${String(protocol)}`);
      const tuple = { src: canonicalAddress(k.tuple.src), dst: canonicalAddress(k.tuple.dst), sport: assertU16(k.tuple.sport ?? 0, 'tuple.sport'), dport: assertU16(k.tuple.dport ?? 0, 'tuple.dport') };
      return { family: assertFamily(family), protocol, tuple, zone: assertZone(k.zone ?? 0) };
    });
    const result: ExpectationDeleteResult = { deleted: [], notFound: [], failed: [] };
    if (normalized.length === 0) return result;
    const replies = await this.#conn.transact(normalized.map((k) => encodeExpectDelete(k.family, k.protocol, k.tuple, k.zone, this.#conn.nextSeq())));
    replies.forEach((reply, i) => {
      if (!reply.error) result.deleted.push(keys[i]!);
      else if (reply.error.errnoName === 'ENOENT') result.notFound.push(keys[i]!);
      else result.failed.push({ expectation: keys[i]!, error: reply.error });
    });
    return result;
  }
}
