// A live view of the entries that match a filter, kept by ctnetlink events; `client.watch(filter)`.
//
// Sync: subscribe first, then dump, then apply every event received since the subscription, in
// order; the last event of an entry wins. An event older than the dump is harmless: every later
// change of that entry is also an event, and comes after it.
// Resync: after an overflow, events were lost, and netlink drops everything more until the queue is
// read empty, so the queued events are no longer the whole story. The watch closes that socket and
// syncs again from scratch on a fresh one: the same argument then holds. While the table floods, a
// fresh socket overflows again soon after its sync; each such overflow doubles a pause before the
// next sync (10 ms up to 1 s), so the watch does not dump the table over and over meanwhile.
// Dumps go through a socket of the watch's own, so they never hold up the caller's client.
import { HarnessError, NetlinkAbortError } from '../errors.ts';
import type { EventStream } from './events.ts';
import { keyString, normalizeKey, type ConntrackEntry, type EntryInput } from './entry.ts';
import { Changes, notYet, ready, waitFor, type WaitOptions } from '../os/wait.ts';

export interface WatchOptions {
  /** Closes the watch. */
  signal?: AbortSignal;
  /** The event socket's kernel receive buffer (see `EventOptions.bufferBytes`). */
  bufferBytes?: number;
}

export interface WatchSource {
  /** A new event socket for the filter's zone, family and protocol (subscribed on return). */
  subscribe(): EventStream;
  /** A dump of the entries that match the filter; `signal` fires when the watch closes. */
  dump(signal: AbortSignal): Promise<ConntrackEntry[]>;
  /** Releases what the source holds (its dump socket). */
  close(): void;
  /** The whole filter, for events (which the kernel filters by zone, family and protocol only). */
  matches(entry: ConntrackEntry): boolean;
}

/**
 * The view. `entries()` is the table as the events tell it; once the table is quiet and no resync
 * runs (`until`), it equals a fresh `list(filter)` in tuples, zone, status, mark, labels and TCP state. Timeouts and
 * counters are those of the last event that carried them (UPDATE events carry no counters).
 */
export class ConntrackWatch implements AsyncDisposable {
  readonly #source: WatchSource;
  readonly #stop = new AbortController();
  readonly #view = new Map<string, ConntrackEntry>();
  #events: EventStream | undefined;
  #loop: Promise<void> = Promise.resolve();
  #syncing = true;
  #closed = false;
  #error: unknown;
  #resyncs = 0;
  /** What `until` waits on. */
  readonly #changes = new Changes();

  /** @internal use `client.watch(filter)` */
  constructor(source: WatchSource, signal?: AbortSignal) {
    this.#source = source;
    if (signal?.aborted) this.#stop.abort();
    signal?.addEventListener('abort', () => void this.close(), { once: true, signal: this.#stop.signal });
  }

  /** @internal: the first sync; resolves once the view holds the dump. */
  async start(): Promise<this> {
    try {
      if (this.#stop.signal.aborted) throw new NetlinkAbortError('watch (before its first dump)', this.#stop.signal.reason);
      await this.#sync();
    } catch (error) {
      this.#closed = true;
      await this.#events?.return();
      this.#source.close();
      throw error;
    }
    this.#loop = this.#run();
    return this;
  }

  /** The entries in the view now (a copy). Throws the error that stopped the watch, if one did. */
  entries(): ConntrackEntry[] {
    this.#check();
    return [...this.#view.values()];
  }

  get(key: EntryInput): ConntrackEntry | undefined {
    this.#check();
    return this.#view.get(keyString(normalizeKey(key)));
  }

  get size(): number {
    this.#check();
    return this.#view.size;
  }

  /** How many times events were lost (an overflow) and the view was rebuilt from a dump. */
  get resyncs(): number {
    return this.#resyncs;
  }

  /** True while a dump is being read after an overflow (the view is then the previous one). */
  get syncing(): boolean {
    return this.#syncing;
  }

  /**
   * Waits (bounded, like `waitFor`) until `predicate` holds for the view while no resync runs;
   * each event prompts a look. Returns the view's entries at that moment.
   */
  async until(predicate: (entries: readonly ConntrackEntry[]) => boolean, options: WaitOptions): Promise<ConntrackEntry[]> {
    return waitFor(() => {
      this.#check();
      if (this.#syncing) return notYet(`a resync in progress (${this.#view.size} entries before it)`);
      const entries = [...this.#view.values()];
      return predicate(entries) ? ready(entries) : notYet(`${entries.length} entries in the view`);
    }, { ...options, wakeup: this.#changes.next });
  }

  #check(): void {
    if (this.#error !== undefined) {
      throw new HarnessError('ERR_WATCH_FAILED', `the watch stopped: ${this.#error instanceof Error ? this.#error.message : String(this.#error)}`, { cause: this.#error });
    }
    if (this.#closed) throw new HarnessError('ERR_WATCH_CLOSED', 'the watch is closed');
  }

  /** Subscribes, dumps, and replaces the view with the dump; events queue meanwhile. */
  async #sync(): Promise<void> {
    this.#syncing = true;
    this.#changes.announce();
    await this.#events?.return();
    this.#events = this.#source.subscribe();
    const dumped = await this.#source.dump(this.#stop.signal);
    this.#view.clear();
    for (const entry of dumped) this.#view.set(keyString(entry), entry);
    this.#syncing = false;
    this.#changes.announce();
  }

  async #run(): Promise<void> {
    let streak = 0;
    let syncedAt = performance.now();
    try {
      while (!this.#closed) {
        const events = this.#events!;
        let overflowed = false;
        for await (const event of events) {
          if (event.type === 'overflow') {
            overflowed = true;
            break;
          }
          const key = keyString(event.entry);
          if (event.type === 'destroy' || !this.#source.matches(event.entry)) {
            this.#view.delete(key);
          } else if (event.type === 'new') {
            this.#view.set(key, event.entry);
          } else {
            // UPDATE events carry what changed (protoinfo, labels, helper only when they did):
            // what they leave out keeps the value the view had.
            const before = this.#view.get(key);
            this.#view.set(key, before ? { ...before, ...definedFields(event.entry) } : event.entry);
          }
          this.#changes.announce();
        }
        if (!overflowed || this.#closed) return;
        this.#resyncs++;
        this.#syncing = true;
        this.#changes.announce();
        await this.#events?.return();
        streak = performance.now() - syncedAt < QUIET_MS ? streak + 1 : 0;
        if (streak > 0) await pause(Math.min(10 * 2 ** (streak - 1), QUIET_MS), this.#stop.signal);
        if (this.#closed) return;
        await this.#sync();
        syncedAt = performance.now();
      }
    } catch (error) {
      if (!this.#closed) this.#error = error;
      this.#changes.announce();
    }
  }

  /** Ends the watch and closes its event socket. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#stop.abort();
    await this.#events?.return();
    await this.#loop;
    this.#source.close();
    this.#changes.announce();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

/** An overflow this soon after a sync means the table still floods; also the longest pause. */
const QUIET_MS = 1000;

function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}

function definedFields(entry: ConntrackEntry): Partial<ConntrackEntry> {
  return Object.fromEntries(Object.entries(entry).filter(([, v]) => v !== undefined)) as Partial<ConntrackEntry>;
}
