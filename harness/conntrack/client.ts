// The system under test: a ctnetlink client that lists, deletes, flushes and creates conntrack
// entries inside one named namespace, over a netlink socket opened in that namespace.
import { HarnessError, ValidationError } from '../errors.ts';
import { NETLINK_NETFILTER } from '../netlink/constants.ts';
import { NetlinkConnection } from '../netlink/connection.ts';
import { NetlinkErrnoError } from '../netlink/errors.ts';
import { kernelFiltersZones } from '../system/kernel.ts';
import { assertNetnsName } from '../system/names.ts';
import { decodeEntry, encodeCreate, encodeDelete, encodeDump, type DecodeMeta } from './codec.ts';
import {
  assertFamily, assertProtocol, assertZone, normalizeKey,
  type ConntrackEntry, type ConntrackKey, type EntryInput,
} from './entry.ts';
import type { ListFilter } from './oracle.ts';
import type { ConntrackSystem, DeleteResult } from './system.ts';

export interface ConntrackOptions {
  /** The namespace to work in (a name under /run/netns). Required: the client never works on the host table. */
  netns: string;
  /** Per-recv timeout in ms (default 10 s). */
  timeoutMs?: number;
  /** Force kernel-side zone filtering of dumps on or off; default: on when the kernel is >= 6.8. */
  kernelZoneFilter?: boolean;
}

export interface CreateResult {
  created: ConntrackKey[];
  failed: Array<{ entry: ConntrackKey; error: HarnessError }>;
}

/** Some entries of a create could not be made; `result` says which and why. */
export class CreateError extends HarnessError {
  override name = 'CreateError';
  readonly result: CreateResult;

  constructor(result: CreateResult) {
    const first = result.failed[0];
    const full = result.failed.some((f) => f.error instanceof NetlinkErrnoError && f.error.errnoName === 'ENOMEM')
      ? ' (ENOMEM: the namespace\'s conntrack table is full, see net.netfilter.nf_conntrack_max; unassured entries are evicted first, assured ones are refused)'
      : '';
    super('ERR_NETLINK_ERRNO', `${result.failed.length} of ${result.failed.length + result.created.length} entries were not created; first: ${first?.error.message}${full}`);
    this.result = result;
  }
}

function validateFilter(filter: ListFilter): ListFilter {
  if (filter === null || typeof filter !== 'object') {
    throw new ValidationError('ERR_INVALID_ARGUMENT', 'filter', filter, 'list filter must be an object');
  }
  return {
    zone: filter.zone === undefined ? undefined : assertZone(filter.zone),
    family: filter.family === undefined ? undefined : assertFamily(filter.family),
    protocol: filter.protocol === undefined ? undefined : assertProtocol(filter.protocol),
  };
}

export class Conntrack implements ConntrackSystem, AsyncDisposable, Disposable {
  readonly netns: string;
  readonly kernelZoneFilter: boolean;
  #conn: NetlinkConnection;

  private constructor(netns: string, conn: NetlinkConnection, kernelZoneFilter: boolean) {
    this.netns = netns;
    this.#conn = conn;
    this.kernelZoneFilter = kernelZoneFilter;
  }

  /** Opens a ctnetlink socket inside `netns` (the thread switches in and back, synchronously). */
  static async open(options: ConntrackOptions): Promise<Conntrack> {
    if (options === null || typeof options !== 'object' || options.netns === undefined) {
      throw new ValidationError('ERR_NETNS_REQUIRED', 'netns', undefined,
        'Conntrack.open needs an explicit { netns }: the client never touches the host namespace table');
    }
    const netns = assertNetnsName(options.netns);
    const conn = NetlinkConnection.open({ protocol: NETLINK_NETFILTER, netns, timeoutMs: options.timeoutMs });
    return new Conntrack(netns, conn, options.kernelZoneFilter ?? kernelFiltersZones());
  }

  /**
   * Starts a dump for `filter` and returns its chunk generator; every matching entry goes to
   * `sink`. The zone is filtered in the kernel when it can, and always checked here too. A dump
   * can repeat an entry while the table changes, so entries are de-duplicated by kernel id; ids
   * are 32-bit hashes that collide at 100,000 entries, so a repeated id is only a repeat when the
   * hash of the original tuple and zone is the same too.
   */
  #dump(filter: ListFilter, sink: (entry: ConntrackEntry) => void): Generator<void, unknown, undefined> {
    const f = validateFilter(filter);
    const seen = new Map<number, number>();
    const meta: DecodeMeta = { tupleHash: 0 };
    const request = encodeDump(this.#conn.nextSeq(), {
      family: f.family,
      zone: this.kernelZoneFilter ? f.zone : undefined,
    });
    return this.#conn.dumpChunks(request, (msg) => {
      const entry = decodeEntry(msg, meta);
      if (!entry) return;
      if (f.zone !== undefined && entry.zone !== f.zone) return;
      if (f.family !== undefined && entry.family !== f.family) return;
      if (f.protocol !== undefined && entry.protocol !== f.protocol) return;
      if (entry.id !== undefined) {
        const earlier = seen.get(entry.id);
        if (earlier === undefined) seen.set(entry.id, meta.tupleHash);
        else if (earlier === meta.tupleHash) return;
      }
      sink(entry);
    });
  }

  /**
   * Streams the entries that match `filter`, one received datagram at a time (a few hundred
   * entries), so a 100,000-entry table never has to be held at once. Breaking out early drains
   * the rest of the dump.
   */
  *entries(filter: ListFilter = {}): Generator<ConntrackEntry, void, undefined> {
    const pending: ConntrackEntry[] = [];
    const chunks = this.#dump(filter, (entry) => pending.push(entry));
    try {
      for (;;) {
        const step = chunks.next();
        yield* pending;
        pending.length = 0;
        if (step.done) return;
      }
    } finally {
      chunks.return(undefined);
    }
  }

  /** `entries()` as an async iterator: yields to the event loop between datagrams. */
  async *stream(filter: ListFilter = {}): AsyncGenerator<ConntrackEntry, void, undefined> {
    let n = 0;
    for (const entry of this.entries(filter)) {
      yield entry;
      if (++n % 1000 === 0) await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }

  async list(filter: ListFilter = {}): Promise<ConntrackEntry[]> {
    const out: ConntrackEntry[] = [];
    const chunks = this.#dump(filter, (entry) => out.push(entry));
    while (!chunks.next().done);
    return out;
  }

  async count(filter: ListFilter = {}): Promise<number> {
    let n = 0;
    const chunks = this.#dump(filter, () => n++);
    while (!chunks.next().done);
    return n;
  }

  /**
   * Deletes entries by original tuple and zone, many per send. Every entry is sorted into
   * deleted, notFound (ENOENT) or failed; nothing is thrown for a single entry's fate.
   * Input is validated first: one bad entry throws before anything is sent.
   */
  async delete(entries: readonly EntryInput[]): Promise<DeleteResult> {
    if (!Array.isArray(entries)) throw new ValidationError('ERR_INVALID_ARGUMENT', 'entries', entries, 'delete() takes an array of entries');
    const keys = entries.map((e) => normalizeKey(e));
    const result: DeleteResult = { deleted: [], notFound: [], failed: [] };
    if (keys.length === 0) return result;
    const replies = this.#conn.transact(keys.map((k) => encodeDelete(k, this.#conn.nextSeq())));
    replies.forEach((reply, i) => {
      const key = keys[i]!;
      if (!reply.error) result.deleted.push(key);
      else if (reply.error.errnoName === 'ENOENT') result.notFound.push(key);
      else result.failed.push({ entry: key, error: reply.error });
    });
    return result;
  }

  /** Creates entries like `conntrack -I` (NEW with CREATE|EXCL), batched; throws CreateError if any failed. */
  async create(entries: readonly EntryInput[]): Promise<void> {
    const result = await this.tryCreate(entries);
    if (result.failed.length > 0) throw new CreateError(result);
  }

  /** Like create(), but reports each entry's fate instead of throwing. */
  async tryCreate(entries: readonly EntryInput[]): Promise<CreateResult> {
    if (!Array.isArray(entries)) throw new ValidationError('ERR_INVALID_ARGUMENT', 'entries', entries, 'create() takes an array of entries');
    const keys = entries.map((e) => normalizeKey(e));
    const result: CreateResult = { created: [], failed: [] };
    if (keys.length === 0) return result;
    const replies = this.#conn.transact(keys.map((k, i) => encodeCreate(k, entries[i]!, this.#conn.nextSeq())));
    replies.forEach((reply, i) => {
      if (reply.error) result.failed.push({ entry: keys[i]!, error: reply.error });
      else result.created.push(keys[i]!);
    });
    return result;
  }

  /**
   * Removes every entry of one zone and returns how many. Lists the zone and deletes entry by
   * entry: before Linux 6.8 a DELETE carrying only CTA_ZONE flushes every zone, so it is never sent.
   */
  async flush(options: { zone: number }): Promise<number> {
    if (options === null || typeof options !== 'object' || options.zone === undefined) {
      throw new ValidationError('ERR_INVALID_ZONE', 'zone', undefined, 'flush() needs { zone }: flushing a whole table is not offered');
    }
    const zone = assertZone(options.zone);
    const result = await this.delete(await this.list({ zone }));
    return result.deleted.length;
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

export { kernelFiltersZones };
