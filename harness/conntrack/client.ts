// The system under test: a ctnetlink client for the conntrack table of one named namespace (list,
// get, create, update, delete, deleteMatching, count, statistics), over a netlink socket opened inside it.
import { HarnessError, ValidationError, CreateError, NetlinkSocketError, NetlinkDecodeError } from '../errors.ts';
import { Turns } from '../os/turns.ts';
import { NETLINK_NETFILTER } from '../netlink/constants.ts';
import { NetlinkConnection, type OperationOptions, type TransactResult } from '../netlink/connection.ts';
import { NetlinkErrnoError } from '../errors.ts';
import type { NetlinkMessage } from '../netlink/message.ts';
import { assertNetnsName } from '../os/names.ts';
import {
  checkCreateInput, checkLabels, decodeCpuStats, decodeEntry, decodeGlobalStats, encodeCreate, encodeDelete, encodeDump,
  encodeGet, encodeStatsRequest, encodeUpdate, lastTupleHash, statusBits, type CpuStats, type DumpRequest,
} from './codec.ts';
import { SETTABLE_STATUS } from './constants.ts';
import { keyString, normalizeKey, type ConntrackEntry, type EntryChanges, type ConntrackKey, type EntryInput } from './entry.ts';
import { checkStreamOptions, EVENT_TYPES, openEvents, type EventOptions, type EventStream } from './events.ts';
import { ConntrackWatch, type WatchOptions } from './watch.ts';
import { Expectations } from './expectations.ts';
import { kernelFilterSupport, type KernelFilters } from './features.ts';
import { compileFilter, isEmptyFilter, normalizeFilter, type ConntrackFilter, type NormalizedFilter } from './filter.ts';
import type { ConntrackImplementation, DeleteResult, UpdateResult } from './implementation.ts';

export interface ConntrackClientOptions {
  /** The namespace to work in (a name under /run/netns). Required: the client never works on the host table. */
  netns: string;
  /** Per-recv timeout in ms (default 10 s). */
  timeoutMs?: number;
  /**
   * Which filters to send to the kernel; default: what a probe found this kernel honours. The
   * client filters in user space as well whatever is set here.
   */
  kernelFilters?: Partial<KernelFilters>;
}

export interface CreateResult {
  created: ConntrackKey[];
  failed: Array<{ entry: ConntrackKey; error: HarnessError }>;
}

/** Per-CPU statistics and the table's size, like `conntrack -S` and `conntrack -C`. */
export interface ConntrackStats {
  cpus: CpuStats[];
  /** Entries in the namespace's table. */
  count: number;
  /** The table's maximum (nf_conntrack_max). */
  max: number;
}

const CHANGE_KEYS = ['mark', 'markMask', 'timeout', 'status', 'labels'] as const;

/** Validates update() changes; refuses unknown keys and what the kernel would ignore. */
function normalizeChanges(changes: unknown): EntryChanges {
  const bad = (field: string, value: unknown, message: string): never => {
    throw new ValidationError('ERR_INVALID_ARGUMENT', field, value, message);
  };
  if (changes === null || typeof changes !== 'object' || Array.isArray(changes)) bad('changes', changes, 'update() changes must be an object');
  const c = changes as Record<string, unknown>;
  for (const key of Object.keys(c)) {
    if (!(CHANGE_KEYS as readonly string[]).includes(key)) bad(key, c[key], `unknown change ${JSON.stringify(key)}; update() changes ${CHANGE_KEYS.join(', ')}`);
  }
  const out: EntryChanges = {};
  const u32 = (field: string, v: unknown) => (Number.isInteger(v) && (v as number) >= 0 && (v as number) <= 0xffffffff
    ? (v as number) : bad(field, v, `${field} must be an integer 0..0xffffffff`));
  if (c.mark !== undefined) out.mark = u32('mark', c.mark);
  if (c.markMask !== undefined) {
    if (c.mark === undefined) bad('markMask', c.markMask, 'markMask needs a mark');
    out.markMask = u32('markMask', c.markMask);
  }
  if (c.timeout !== undefined) out.timeout = u32('timeout', c.timeout);
  if (c.status !== undefined) {
    const status = c.status;
    if (!Array.isArray(status) || status.length === 0) bad('status', status, 'status must be a non-empty array of flag names');
    for (const name of status as unknown[]) {
      if (typeof name !== 'string' || !SETTABLE_STATUS.has(name)) {
        bad('status', name, `status flag ${JSON.stringify(name)} cannot be set; settable: ${[...SETTABLE_STATUS].join(', ')}`);
      }
    }
    out.status = status as string[];
  }
  if (c.labels !== undefined) {
    const l = c.labels;
    if (Array.isArray(l)) out.labels = checkLabels(l, 'labels');
    else if (l !== null && typeof l === 'object') {
      const extra = Object.keys(l).filter((k) => k !== 'add' && k !== 'remove');
      if (extra.length > 0) bad('labels', l, `labels takes { add, remove }, not ${extra.join(', ')}`);
      const { add, remove } = l as { add?: unknown; remove?: unknown };
      out.labels = {
        ...(add === undefined ? {} : { add: checkLabels(add, 'labels.add') }),
        ...(remove === undefined ? {} : { remove: checkLabels(remove, 'labels.remove') }),
      };
    } else bad('labels', l, 'labels must be an array of bits or { add, remove }');
  }
  if (Object.keys(out).length === 0) bad('changes', changes, 'update() needs at least one change');
  return out;
}

/** Sorts per-entry replies: acknowledged into `done`, ENOENT into notFound, any other errno into failed. */
function sortReplies(
  keys: readonly ConntrackKey[], replies: readonly TransactResult[], done: ConntrackKey[],
  into: { notFound: ConntrackKey[]; failed: Array<{ entry: ConntrackKey; error: HarnessError }> },
): void {
  replies.forEach((reply, i) => {
    const key = keys[i]!;
    if (!reply.error) done.push(key);
    else if (reply.error.errnoName === 'ENOENT') into.notFound.push(key);
    else into.failed.push({ entry: key, error: reply.error });
  });
}

/** The options watch() takes; its signal closes the watch, which aborts its dumps too. */
const WATCH_OPTION_KEYS = new Set(['signal', 'bufferBytes']);

/** Requests encoded per transact() call at most: a few milliseconds of work. */
const ENCODE_SLICE = 1024;

/**
 * `items.map(fn)`, giving the event loop a turn every few milliseconds: validating 100,000 entries
 * takes a quarter of a second. Every item is mapped before the result is returned, so a bad one
 * still throws before anything is sent.
 */
async function inTurns<T, R>(items: readonly T[], fn: (item: T) => R): Promise<R[]> {
  const out = new Array<R>(items.length);
  const turns = new Turns();
  for (let i = 0; i < items.length; i++) {
    out[i] = fn(items[i]!);
    if ((i & 31) === 31) await turns.take();
  }
  return out;
}

function entryList(entries: unknown, what: string): readonly EntryInput[] {
  if (!Array.isArray(entries)) throw new ValidationError('ERR_INVALID_ARGUMENT', 'entries', entries, `${what}() takes an array of entries`);
  return entries as EntryInput[];
}

/**
 * Tells a dump's repeats (the kernel may send an entry twice while the table changes) from entries
 * that only share a kernel id: ids are 32-bit hashes, so a full table holds a few such pairs. An
 * entry is a repeat when its id and tuple hash were both seen.
 */
export class RepeatFilter {
  // An open-addressing set of (id, tuple hash) pairs in typed arrays: 9 bytes a slot, no object per
  // entry (a Map of 100,000 ids kept 5 MB of boxed numbers alive during a dump).
  #ids = new Uint32Array(1024);
  #hashes = new Uint32Array(1024);
  #used = new Uint8Array(1024);
  #size = 0;

  /** True when this id and tuple hash were both seen before; remembers them otherwise. */
  isRepeat(id: number, tupleHash: number): boolean {
    if (this.#size * 2 >= this.#used.length) this.#grow();
    const mask = this.#used.length - 1;
    let i = slotOf(id, tupleHash, mask);
    while (this.#used[i] === 1) {
      if (this.#ids[i] === id && this.#hashes[i] === tupleHash) return true;
      i = (i + 1) & mask;
    }
    this.#put(i, id, tupleHash);
    return false;
  }

  #put(i: number, id: number, tupleHash: number): void {
    this.#used[i] = 1;
    this.#ids[i] = id;
    this.#hashes[i] = tupleHash;
    this.#size++;
  }

  #grow(): void {
    const ids = this.#ids;
    const hashes = this.#hashes;
    const used = this.#used;
    const n = used.length * 2;
    this.#ids = new Uint32Array(n);
    this.#hashes = new Uint32Array(n);
    this.#used = new Uint8Array(n);
    this.#size = 0;
    for (let j = 0; j < used.length; j++) {
      if (used[j] !== 1) continue;
      let i = slotOf(ids[j]!, hashes[j]!, n - 1);
      while (this.#used[i] === 1) i = (i + 1) & (n - 1);
      this.#put(i, ids[j]!, hashes[j]!);
    }
  }
}

function slotOf(id: number, tupleHash: number, mask: number): number {
  return (Math.imul(id ^ Math.imul(tupleHash, 0x9e3779b1), 0x85ebca6b) >>> 0) & mask;
}

/** What the kernel is asked to filter, given what it can (the rest is only filtered here). */
function dumpRequest(f: NormalizedFilter, kernel: KernelFilters): DumpRequest {
  const request: DumpRequest = { family: f.family };
  // Zone 0 is left to user space: kernels before 6.8-rc4 filtered it wrongly.
  if (kernel.zone && f.zone !== undefined && f.zone !== 0) request.zone = f.zone;
  if (kernel.mark && f.mark) request.mark = f.mark;
  if (kernel.status && f.status) request.status = statusBits(f.status);
  if (kernel.tuple && f.family !== undefined) {
    const tuple: NonNullable<DumpRequest['tuple']> = {};
    // IPv6 addresses are not sent: the kernel's CTA_FILTER IPv6 comparison is inverted (it keeps
    // every entry but the matching one, still so in 6.18).
    const exact = (p: NormalizedFilter['src']) => (p && p.family === 'ipv4' && p.bits === 32 ? p.address : undefined);
    const src = exact(f.src);
    const dst = exact(f.dst);
    if (src !== undefined) tuple.src = src;
    if (dst !== undefined) tuple.dst = dst;
    if (f.protocol !== undefined) {
      tuple.protocol = f.protocol;
      // The kernel compares ports for TCP and UDP only.
      if (f.protocol === 'tcp' || f.protocol === 'udp') {
        if (f.sport !== undefined) tuple.sport = f.sport;
        if (f.dport !== undefined) tuple.dport = f.dport;
      }
    }
    if (Object.keys(tuple).length > 0) request.tuple = tuple;
  }
  return request;
}

export class ConntrackClient implements ConntrackImplementation, AsyncDisposable, Disposable {
  readonly netns: string;
  /** The filters this client sends to the kernel (it filters in user space as well). */
  readonly kernelFilters: Readonly<KernelFilters>;
  /** The namespace's expectations (`conntrack -L/-I/-D expect`), over the same socket. */
  readonly expectations: Expectations;
  #conn: NetlinkConnection;

  private constructor(netns: string, conn: NetlinkConnection, kernelFilters: KernelFilters) {
    this.netns = netns;
    this.#conn = conn;
    this.kernelFilters = Object.freeze(kernelFilters);
    this.expectations = new Expectations(conn, netns);
  }

  /** Opens a ctnetlink socket inside `netns` (the thread switches in and back, synchronously). */
  static async open(options: ConntrackClientOptions): Promise<ConntrackClient> {
    if (options === null || typeof options !== 'object' || options.netns === undefined) {
      throw new ValidationError('ERR_NETNS_REQUIRED', 'netns', undefined,
        'ConntrackClient.open needs an explicit { netns }: the client never touches the host namespace table');
    }
    const netns = assertNetnsName(options.netns);
    const forced = options.kernelFilters ?? {};
    const all = ['zone', 'mark', 'status', 'tuple'] as const;
    for (const [k, v] of Object.entries(forced)) {
      if (!(all as readonly string[]).includes(k) || (v !== undefined && typeof v !== 'boolean')) {
        throw new ValidationError('ERR_INVALID_ARGUMENT', `kernelFilters.${k}`, v, `kernelFilters takes booleans for ${all.join(', ')}`);
      }
    }
    // The probe runs only when some filter is not forced.
    const probed = all.every((k) => forced[k] !== undefined) ? undefined : await kernelFilterSupport();
    const pick = (k: (typeof all)[number]) => forced[k] ?? probed![k];
    const conn = NetlinkConnection.open({ protocol: NETLINK_NETFILTER, netns, timeoutMs: options.timeoutMs });
    return new ConntrackClient(netns, conn, { zone: pick('zone'), mark: pick('mark'), status: pick('status'), tuple: pick('tuple') });
  }

  /**
   * The dump request for `filter` and the visitor that hands every matching entry to `sink`. The
   * kernel filters what it can; every entry is checked here too. A dump can repeat an entry while
   * the table changes, so entries are de-duplicated by kernel id; ids are 32-bit hashes that
   * collide at 100,000 entries, so a repeated id is only a repeat when the hash of the original
   * tuple and zone is the same too.
   */
  #dumpOf(filter: ConntrackFilter, sink: (entry: ConntrackEntry) => void): [Buffer, (msg: NetlinkMessage) => void] {
    const f = normalizeFilter(filter);
    const matches = compileFilter(f);
    const repeats = new RepeatFilter();
    const request = encodeDump(this.#conn.nextSeq(), dumpRequest(f, this.kernelFilters));
    return [request, (msg) => {
      const entry = decodeEntry(msg);
      if (!matches(entry)) return;
      if (entry.id !== undefined && repeats.isRepeat(entry.id, lastTupleHash(msg.buf, entry.zone))) return;
      sink(entry);
    }];
  }

  /**
   * Streams the entries that match `filter` (an async iterator), one received datagram at a time
   * (a few hundred entries), so a 100,000-entry table never has to be held at once. Breaking out
   * early drains the rest of the dump. While the loop runs, other calls on this client fail with
   * SocketBusyError: finish or break out first, or open a second client.
   */
  async *entries(filter: ConntrackFilter = {}, options: OperationOptions = {}): AsyncGenerator<ConntrackEntry, void, undefined> {
    const pending: ConntrackEntry[] = [];
    const chunks = this.#conn.dumpChunks(...this.#dumpOf(filter, (entry) => pending.push(entry)), options);
    try {
      for (;;) {
        const step = await chunks.next();
        yield* pending;
        pending.length = 0;
        if (step.done) return;
      }
    } finally {
      await chunks.return(undefined as never);
    }
  }

  /** The entries that match `filter` (every criterion must hold; `{}` lists the whole table). */
  async list(filter: ConntrackFilter = {}, options: OperationOptions = {}): Promise<ConntrackEntry[]> {
    const out: ConntrackEntry[] = [];
    await this.#conn.dump(...this.#dumpOf(filter, (entry) => out.push(entry)), options);
    return out;
  }

  async count(filter: ConntrackFilter = {}, options: OperationOptions = {}): Promise<number> {
    let n = 0;
    await this.#conn.dump(...this.#dumpOf(filter, () => n++), options);
    return n;
  }

  /** One entry by its original tuple and zone (ctnetlink GET, like `conntrack -G`); undefined when absent. */
  async get(key: EntryInput, options: OperationOptions = {}): Promise<ConntrackEntry | undefined> {
    return this.#get(normalizeKey(key), options);
  }

  /**
   * Deletes entries by original tuple and zone, many per send. Every entry is sorted into
   * deleted, notFound (ENOENT) or failed; nothing is thrown for a single entry's fate.
   * Input is validated first: one bad entry throws before anything is sent.
   */
  async delete(entries: readonly EntryInput[], options: OperationOptions = {}): Promise<DeleteResult> {
    const keys = await inTurns(entryList(entries, 'delete'), (e) => normalizeKey(e));
    const result: DeleteResult = { deleted: [], notFound: [], failed: [] };
    if (keys.length === 0) return result;
    const replies = await this.#transactEach(keys.length, (i) => encodeDelete(keys[i]!, this.#conn.nextSeq()), options);
    sortReplies(keys, replies, result.deleted, result);
    return result;
  }

  /**
   * Changes existing entries like `conntrack -U`: mark (with an optional mask), timeout, status
   * flags to set, labels. Sorted like delete(): updated, notFound (ENOENT), failed. The kernel
   * refuses to clear a status bit, so the status sent repeats the entry's current flags: taken
   * from the input when it came from list()/get(), else read with get() first.
   */
  async update(entries: readonly EntryInput[], changes: EntryChanges, options: OperationOptions = {}): Promise<UpdateResult> {
    const inputs = entryList(entries, 'update');
    const keys = await inTurns(inputs, (e) => normalizeKey(e));
    const c = normalizeChanges(changes);
    const result: UpdateResult = { updated: [], notFound: [], failed: [] };
    if (keys.length === 0) return result;
    const current: Array<number | undefined> = [];
    if (c.status) {
      for (const [i, key] of keys.entries()) {
        // A status that holds CONFIRMED came from the kernel (list/get); any other is read now.
        const given = inputs[i]!.status;
        const status = given?.includes('CONFIRMED') ? given : (await this.#get(key, options))?.status;
        current.push(status === undefined ? undefined : statusBits(status));
      }
    }
    const sendable = keys.map((_, i) => i).filter((i) => !c.status || current[i] !== undefined);
    for (const [i, key] of keys.entries()) if (c.status && current[i] === undefined) result.notFound.push(key);
    const replies = await this.#transactEach(sendable.length, (j) => encodeUpdate(keys[sendable[j]!]!, c, this.#conn.nextSeq(), current[sendable[j]!] ?? 0), options);
    sortReplies(sendable.map((i) => keys[i]!), replies, result.updated, result);
    return result;
  }

  /** Creates entries like `conntrack -I` (NEW with CREATE|EXCL), batched; throws CreateError if any failed. */
  async create(entries: readonly EntryInput[], options: OperationOptions = {}): Promise<void> {
    const result = await this.tryCreate(entries, options);
    if (result.failed.length > 0) throw new CreateError(result);
  }

  /**
   * Like create(), but reports each entry's fate instead of throwing. The kernel creates an entry
   * without its labels when the namespace has no `ct label` rule (and says nothing), so entries
   * with labels are read back: one that lost them is deleted again and reported failed.
   */
  async tryCreate(entries: readonly EntryInput[], options: OperationOptions = {}): Promise<CreateResult> {
    const inputs = entryList(entries, 'create');
    const keys = await inTurns(inputs, (e) => {
      const key = normalizeKey(e);
      checkCreateInput(key, e);
      return key;
    });
    const result: CreateResult = { created: [], failed: [] };
    if (keys.length === 0) return result;
    const replies = await this.#transactEach(keys.length, (i) => encodeCreate(keys[i]!, inputs[i]!, this.#conn.nextSeq()), options);
    for (const [i, reply] of replies.entries()) {
      const key = keys[i]!;
      const labels = inputs[i]!.labels ?? [];
      if (reply.error) {
        result.failed.push({ entry: key, error: reply.error });
      } else if (labels.length > 0) {
        const error = await this.#checkLabels(key, labels, options);
        if (error) result.failed.push({ entry: key, error });
        else result.created.push(key);
      } else {
        result.created.push(key);
      }
    }
    return result;
  }

  /**
   * Reads a just-created entry back once. Without every one of `labels` it is deleted again, and
   * the error says so; an entry that could not be read or deleted says that instead.
   */
  async #checkLabels(key: ConntrackKey, labels: readonly number[], options: OperationOptions): Promise<HarnessError | undefined> {
    let got: number[];
    try {
      got = (await this.#get(key, options))?.labels ?? [];
    } catch (error) {
      return error instanceof HarnessError ? error : new NetlinkSocketError('recv', 0, String(error), { cause: error });
    }
    if (labels.every((bit) => got.includes(bit))) return undefined;
    const removed = await this.delete([key], options);
    const left = removed.deleted.length === 1 ? '' : `; deleting it again failed too (${removed.failed[0]?.error.message ?? 'it was gone'}), so it may still be in the table`;
    return new HarnessError('ERR_LABELS_UNAVAILABLE',
      `entry ${keyString(key)} was created without its labels: the namespace has no rule using \`ct label\`, so entries get no room for labels (the kernel's ENOSPC case)${left}`);
  }

  async #get(key: ConntrackKey, options: OperationOptions): Promise<ConntrackEntry | undefined> {
    let found: ConntrackEntry | undefined;
    try {
      await this.#conn.request(encodeGet(key, this.#conn.nextSeq()), (msg) => {
        found = decodeEntry(msg);
      }, options);
    } catch (error) {
      if (error instanceof NetlinkErrnoError && error.errnoName === 'ENOENT') return undefined;
      throw error;
    }
    return found;
  }

  /**
   * Removes every entry that matches `filter` and returns how many it removed. The filter needs at
   * least one criterion: emptying a whole table is not offered. Lists, then deletes entry by
   * entry: before Linux 6.8 a DELETE carrying only CTA_ZONE flushes every zone, and a CTA_FILTER
   * flush exists only from 6.12, so neither is sent.
   */
  async deleteMatching(filter: ConntrackFilter, options: OperationOptions = {}): Promise<number> {
    if (isEmptyFilter(normalizeFilter(filter), filter)) {
      throw new ValidationError('ERR_INVALID_FILTER', 'filter', filter, 'deleteMatching() needs at least one criterion that does not hold for every entry, e.g. { zone }: flushing a whole table is not offered');
    }
    const result = await this.delete(await this.list(filter, options), options);
    return result.deleted.length;
  }

  /**
   * transact() of `n` requests, encoded and sent ENCODE_SLICE at a time: encoding 100,000 requests
   * at once keeps the event loop for half a second. Results in input order.
   */
  async #transactEach(n: number, encode: (i: number) => Buffer, options: OperationOptions): Promise<TransactResult[]> {
    const results: TransactResult[] = [];
    for (let i = 0; i < n;) {
      // A slice ends at ENCODE_SLICE requests or after a turn's worth of encoding, whichever comes
      // first (a cold or emulated machine encodes 30 times slower).
      const slice: Buffer[] = [];
      const turns = new Turns();
      while (i < n && slice.length < ENCODE_SLICE) {
        slice.push(encode(i++));
        if ((slice.length & 31) === 0 && turns.due) break;
      }
      for (const r of await this.#conn.transact(slice, options)) results.push(r);
    }
    return results;
  }

  /**
   * ctnetlink events of this namespace (`conntrack -E`): `{ type: 'new' | 'update' | 'destroy',
   * entry }`, and `{ type: 'overflow' }` once each time the kernel dropped events (ENOBUFS). Its
   * own socket subscribes at this call, so nothing done after it is missed; breaking out of the
   * loop or the options' signal ends it and closes that socket. Filters in user space.
   */
  events(options: EventOptions = {}): EventStream {
    return openEvents(this.netns, options);
  }

  /**
   * A live view of the entries that match `filter`, kept by events of its own socket; after an
   * overflow it rebuilds itself from a dump (`watch.resyncs`). Resolves once the first dump is in.
   * It dumps through a second socket of its own, so it never holds up this client's calls. Close
   * it (or `await using`) to end it.
   */
  async watch(filter: ConntrackFilter = {}, options: WatchOptions = {}): Promise<ConntrackWatch> {
    const normalized = normalizeFilter(filter);
    const { signal, bufferBytes } = checkStreamOptions(options, 'watch()', WATCH_OPTION_KEYS, EVENT_TYPES);
    // Its events: the kernel and user space filter what events can; the watch checks the rest.
    const eventOptions: EventOptions = { bufferBytes };
    if (normalized.zone !== undefined) eventOptions.zone = normalized.zone;
    if (normalized.family !== undefined) eventOptions.family = normalized.family;
    if (normalized.protocol !== undefined) eventOptions.protocol = normalized.protocol;
    const dumper = await ConntrackClient.open({ netns: this.netns, kernelFilters: { ...this.kernelFilters } });
    return new ConntrackWatch({
      subscribe: () => openEvents(this.netns, eventOptions),
      dump: (stop) => dumper.list(filter, { signal: stop }),
      matches: compileFilter(normalized),
      close: () => dumper.close(),
    }, signal).start();
  }

  /** Per-CPU statistics (`conntrack -S`) and the table's count and maximum (`conntrack -C`). */
  async stats(options: OperationOptions = {}): Promise<ConntrackStats> {
    const cpus: CpuStats[] = [];
    await this.#conn.dump(encodeStatsRequest(this.#conn.nextSeq(), true), (msg) => {
      cpus.push(decodeCpuStats(msg));
    }, options);
    let global: { count: number; max: number } | undefined;
    await this.#conn.request(encodeStatsRequest(this.#conn.nextSeq(), false), (msg) => {
      global = decodeGlobalStats(msg);
    }, options);
    if (!global) throw new NetlinkDecodeError('the kernel acknowledged IPCTNL_MSG_CT_GET_STATS without answering it', 0);
    return { cpus, ...global };
  }

  close(): void {
    this.#conn.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.close();
  }
}
