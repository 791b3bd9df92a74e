// ctnetlink events, like `conntrack -E`: a socket of its own inside the namespace, joined to the
// NFNLGRP_CONNTRACK_* group of each asked type, so the kernel sends only those types. A zone is
// filtered in the kernel too, by a socket filter (as libnetfilter_conntrack does), so a busy
// neighbour zone neither fills the queue nor costs a decode; each entry is decoded like a dump's and
// filtered in user space as well. When the kernel drops events because the socket's queue was full
// (ENOBUFS), the stream says so once and goes on.
import { ValidationError } from '../errors.ts';
import { ERRNO, NETLINK_NETFILTER, NLM_F_CREATE, NLM_F_EXCL } from '../netlink/constants.ts';
import { NetlinkAbortError, NetlinkSocketError, SocketClosedError } from '../errors.ts';
import { forEachMessage, type NetlinkMessage } from '../netlink/message.ts';
import { bpf, encodeBpf, type BpfInstruction } from '../netlink/bpf.ts';
import { NetlinkSocket } from '../netlink/socket.ts';
import { Turns } from '../os/turns.ts';
import { decodeEntry } from './codec.ts';
import { CTA_ZONE, IPCTNL_MSG_CT_DELETE, IPCTNL_MSG_CT_NEW, NFNL_SUBSYS_CTNETLINK } from './constants.ts';
import type { ConntrackEntry } from './entry.ts';
import { compileFilter, normalizeFilter, type ConntrackFilter } from './filter.ts';

export type EventType = 'new' | 'update' | 'destroy';
export const EVENT_TYPES: readonly EventType[] = ['new', 'update', 'destroy'];

/** The kernel dropped events: its queue for this socket was full (ENOBUFS). */
export interface Overflow {
  type: 'overflow';
}

/** An entry that appeared, changed or went away; or `overflow`: the kernel dropped events. */
export type ConntrackEvent = { type: EventType; entry: ConntrackEntry } | Overflow;

/** Turns one received message into an event, or undefined for one to pass over. */
export type EventDecoder<E> = (msg: NetlinkMessage) => E | undefined;

export interface EventOptions {
  zone?: number;
  family?: ConntrackFilter['family'];
  protocol?: ConntrackFilter['protocol'];
  /** Which events to receive; default all three. */
  types?: readonly EventType[];
  /** Ends the stream (quietly: the loop just finishes). */
  signal?: AbortSignal;
  /** The socket's kernel receive buffer; default 64 MiB. A smaller one overflows sooner. */
  bufferBytes?: number;
  /** Filter `zone` in the kernel too (a socket filter); default true. False: user space only. */
  kernelFilter?: boolean;
}

/** enum nfnetlink_groups */
const GROUPS: Record<EventType, number> = { new: 1, update: 2, destroy: 3 };
const OPTION_KEYS = new Set(['zone', 'family', 'protocol', 'types', 'signal', 'bufferBytes', 'kernelFilter']);
// 8 MiB lost events when 100,000 creates in one batch outran a reader in the same process (about
// 80,000 arrived); 16 MiB was enough on its own; 64 MiB, the dump socket's size, leaves room for a
// busy machine. The kernel charges only what is queued.
const DEFAULT_BUFFER_BYTES = 64 * 1024 * 1024;
/** An event socket waits as long as it is iterated: its receive deadline is the largest a timer takes. */
const FOREVER_MS = 2 ** 31 - 1;

/** Validated event options: what a socket is opened with. */
interface CheckedEventOptions {
  matches: (entry: ConntrackEntry) => boolean;
  /** The socket filter, when the zone is filtered in the kernel. */
  program: BpfInstruction[] | undefined;
  groups: number[];
  signal: AbortSignal | undefined;
  bufferBytes: number;
}

/**
 * What every event stream's options share: an options object with known keys only, `types` a
 * non-empty list of `allTypes`, an AbortSignal, a buffer size. Throws before anything is opened.
 */
export function checkStreamOptions<T extends string>(
  options: { types?: readonly T[]; signal?: AbortSignal; bufferBytes?: number },
  what: string, keys: ReadonlySet<string>, allTypes: readonly T[],
): { types: T[]; signal: AbortSignal | undefined; bufferBytes: number } {
  if (options === null || typeof options !== 'object') throw new ValidationError('ERR_INVALID_ARGUMENT', 'options', options, `${what} takes an options object`);
  for (const key of Object.keys(options)) {
    if (!keys.has(key)) throw new ValidationError('ERR_UNKNOWN_FILTER_KEY', key, (options as Record<string, unknown>)[key], `${what} has no option ${JSON.stringify(key)} (${[...keys].join(', ')})`);
  }
  const types = options.types ?? allTypes;
  if (!Array.isArray(types) || types.length === 0 || types.some((t) => !allTypes.includes(t))) {
    throw new ValidationError('ERR_INVALID_ARGUMENT', 'types', types, `types is a non-empty list of ${allTypes.join(', ')}`);
  }
  if (options.signal !== undefined && !(options.signal instanceof AbortSignal)) {
    throw new ValidationError('ERR_INVALID_ARGUMENT', 'signal', options.signal, 'signal must be an AbortSignal');
  }
  const bufferBytes = options.bufferBytes ?? DEFAULT_BUFFER_BYTES;
  if (!Number.isInteger(bufferBytes) || bufferBytes < 1024 || bufferBytes > 2 ** 30) {
    throw new ValidationError('ERR_INVALID_ARGUMENT', 'bufferBytes', options.bufferBytes, 'bufferBytes must be an integer from 1024 to 2^30');
  }
  return { types: [...new Set(types)], signal: options.signal, bufferBytes };
}

/** A netlink socket in `netns` joined to `groups` (subscribed on return), for one event stream. */
export function openEventSocket(netns: string, groups: readonly number[], bufferBytes: number, program?: BpfInstruction[]): NetlinkSocket {
  return NetlinkSocket.open({
    protocol: NETLINK_NETFILTER, netns, timeoutMs: FOREVER_MS, rcvbufBytes: bufferBytes, groups,
    filter: program && encodeBpf(program),
  });
}

/** Validates event options (throws a ValidationError before anything is opened). */
function checkEventOptions(options: EventOptions): CheckedEventOptions {
  const { types, signal, bufferBytes } = checkStreamOptions(options, 'events()', OPTION_KEYS, EVENT_TYPES);
  if (options.kernelFilter !== undefined && typeof options.kernelFilter !== 'boolean') {
    throw new ValidationError('ERR_INVALID_ARGUMENT', 'kernelFilter', options.kernelFilter, 'kernelFilter must be a boolean');
  }
  const filter: ConntrackFilter = {};
  if (options.zone !== undefined) filter.zone = options.zone;
  if (options.family !== undefined) filter.family = options.family;
  if (options.protocol !== undefined) filter.protocol = options.protocol;
  const normalized = normalizeFilter(filter);
  return {
    matches: compileFilter(normalized),
    program: normalized.zone !== undefined && options.kernelFilter !== false ? zoneProgram(normalized.zone) : undefined,
    groups: types.map((t) => GROUPS[t]),
    signal,
    bufferBytes,
  };
}

/**
 * Subscribes at once (events from this call on are kept, up to the buffer) and returns the stream.
 * Options are validated before the socket is opened.
 */
export function openEvents(netns: string, options: EventOptions = {}): EventStream {
  const checked = checkEventOptions(options);
  const socket = openEventSocket(netns, checked.groups, checked.bufferBytes, checked.program);
  const decode: EventDecoder<Exclude<ConntrackEvent, Overflow>> = (msg) => {
    if (msg.type !== NEW_TYPE && msg.type !== DELETE_TYPE) return undefined;
    const entry = decodeEntry(msg);
    if (!checked.matches(entry)) return undefined;
    const type: EventType = msg.type === DELETE_TYPE ? 'destroy' : (msg.flags & (NLM_F_CREATE | NLM_F_EXCL)) !== 0 ? 'new' : 'update';
    return { type, entry };
  };
  return new EventStream(socket, decode, checked.signal, checked.program !== undefined);
}

/** Where a ctnetlink message's attributes start: after struct nlmsghdr and struct nfgenmsg. */
const ATTRIBUTES_AT = 16 + 4;

/**
 * Keeps the messages of one zone. The kernel leaves CTA_ZONE out for zone 0 (and for a zone with a
 * direction, which the entry model also reads as zone 0), so a message without it is zone 0's.
 */
export function zoneProgram(zone: number): BpfInstruction[] {
  return [
    bpf.loadImmediate(ATTRIBUTES_AT),
    bpf.loadXImmediate(CTA_ZONE),
    bpf.findNetlinkAttribute(),
    // No CTA_ZONE: on to `accept` for zone 0, to `drop` for any other.
    bpf.jumpIfEqual(0, zone === 0 ? 4 : 3, 0),
    bpf.copyAToX(),
    bpf.loadHalfIndirect(4), // the attribute's payload, after its 4-byte header
    bpf.jumpIfEqual(zone, 1, 0),
    bpf.drop(),
    bpf.accept(),
  ];
}

const NEW_TYPE = (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_NEW;
const DELETE_TYPE = (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_DELETE;

/**
 * The event stream: an async iterator whose return() (a `break`, or an explicit call) ends it at
 * once, even while a next() waits for the kernel, and closes its socket; so does the signal. What
 * a message means is the decoder's (entries here, expectations in expectations.ts).
 */
export class EventStream<E extends { type: string } = Exclude<ConntrackEvent, Overflow>> implements AsyncIterableIterator<E | Overflow> {
  readonly #socket: NetlinkSocket;
  readonly #decode: EventDecoder<E>;
  readonly #stop = new AbortController();
  readonly #signal: AbortSignal;
  readonly #pending: E[] = [];
  readonly #turns = new Turns();
  #turn: Promise<unknown> = Promise.resolve();

  /** True when the kernel filters the zone too (a socket filter is attached). */
  readonly kernelFilter: boolean;

  constructor(socket: NetlinkSocket, decode: EventDecoder<E>, signal: AbortSignal | undefined, kernelFilter: boolean) {
    this.#socket = socket;
    this.kernelFilter = kernelFilter;
    this.#decode = decode;
    this.#signal = signal ? AbortSignal.any([signal, this.#stop.signal]) : this.#stop.signal;
    // The signal closes the socket at once, also when no next() is waiting.
    this.#signal.addEventListener('abort', () => this.#end(), { once: true });
  }

  /** The next event; calls are served one after the other. */
  next(): Promise<IteratorResult<E | Overflow, undefined>> {
    const result = this.#turn.then(() => this.#next());
    this.#turn = result.catch(() => {});
    return result;
  }

  async #next(): Promise<IteratorResult<E | Overflow, undefined>> {
    for (;;) {
      const queued = this.#pending.shift();
      if (queued) return { value: queued, done: false };
      if (this.#socket.closed || this.#signal.aborted) return this.#end();
      // While events are queued, each receive resolves at once and a consumer's loop would run as
      // microtasks alone: the event loop gets a turn every few milliseconds.
      await this.#turns.take();
      if (this.#socket.closed || this.#signal.aborted) return this.#end();
      let datagram: Buffer;
      try {
        datagram = await this.#socket.recv({ signal: this.#signal });
      } catch (error) {
        if (error instanceof NetlinkAbortError || error instanceof SocketClosedError) return this.#end();
        if (error instanceof NetlinkSocketError && error.errno === ERRNO.ENOBUFS) return { value: { type: 'overflow' }, done: false };
        this.#end();
        throw error;
      }
      // Decoded before the next receive reuses the buffer.
      forEachMessage(datagram, (msg) => {
        const event = this.#decode(msg);
        if (event !== undefined) this.#pending.push(event);
      });
    }
  }

  #end(): IteratorResult<E | Overflow, undefined> {
    this.#pending.length = 0;
    this.#socket.close();
    return { value: undefined, done: true };
  }

  /** Ends the stream now: a next() that waits resolves as done, the socket is closed. */
  async return(): Promise<IteratorResult<E | Overflow, undefined>> {
    this.#stop.abort();
    return this.#end();
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.return();
  }
}
