// Request/response on top of NetlinkSocket: sequence numbers, batched requests with one ACK or
// errno per message (transact), and streaming dumps that never buffer the whole answer (dump).
// Everything is async: receives wait off the event loop, and long runs of already-queued answers
// give the event loop a turn every few milliseconds. One operation at a time per connection: a
// second one waits for the first, except during a dump whose iteration is in the caller's hands.
import { ValidationError } from '../errors.ts';
import { align4, writePadded } from './attributes.ts';
import { ERRNO, NLM_F_ACK, NLM_F_DUMP, NLM_F_DUMP_INTR, NLM_F_REQUEST, NLMSG_DONE, NLMSG_ERROR, NLMSG_HDRLEN, NLMSG_MIN_TYPE } from './constants.ts';
import { Turns } from '../os/turns.ts';
import { NetlinkAbortError, NetlinkErrnoError, NetlinkTimeoutError, SocketBusyError } from '../errors.ts';
import { decodeDone, decodeError, type ExtAck, forEachMessage, type NetlinkMessage } from './message.ts';
import { NetlinkSocket, type NetlinkSocketOptions, type RecvOptions } from './socket.ts';

/** What every operation takes: the caller's AbortSignal. */
export interface OperationOptions {
  signal?: AbortSignal | undefined;
}

// Module-local copies: under vitest and tsx an imported binding is a property getter, too slow
// for the per-message callbacks.
const _NLM_F_DUMP_INTR = NLM_F_DUMP_INTR;
const _NLMSG_DONE = NLMSG_DONE;
const _NLMSG_ERROR = NLMSG_ERROR;
const _NLMSG_MIN_TYPE = NLMSG_MIN_TYPE;

/** Bytes packed into one send() by transact(). */
export const MAX_BATCH_BYTES = 64 * 1024;

export interface TransactResult {
  seq: number;
  /** Set when the kernel refused this message. */
  error?: NetlinkErrnoError;
}

export interface DumpResult {
  /** Some message carried NLM_F_DUMP_INTR: the table changed during the dump, it may be inconsistent. */
  interrupted: boolean;
}

function errnoError(errno: number, seq: number, extAck: ExtAck | undefined, operation: string): NetlinkErrnoError {
  return new NetlinkErrnoError({ errno, seq, extAck: extAck?.message, extAckOffset: extAck?.offset, operation });
}

/** For per-message results: a batch can refuse thousands of messages, so skip the stack capture. */
function stacklessErrnoError(errno: number, seq: number, extAck: ExtAck | undefined): NetlinkErrnoError {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return errnoError(errno, seq, extAck, 'request');
  } finally {
    Error.stackTraceLimit = limit;
  }
}

/** An operation whose signal has already fired sends nothing. */
function notAborted(options: OperationOptions, operation: string): void {
  if (options.signal?.aborted) throw new NetlinkAbortError(operation, options.signal.reason);
}

/** The seq of a valid dump request (NLM_F_REQUEST|NLM_F_DUMP), else ValidationError. */
function dumpSeqOf(message: Uint8Array): number {
  const { flags, seq } = header(message, 0);
  if ((flags & NLM_F_REQUEST) === 0 || (flags & NLM_F_DUMP) !== NLM_F_DUMP) {
    throw new ValidationError('ERR_INVALID_ARGUMENT', 'message', flags, 'a dump request needs NLM_F_REQUEST|NLM_F_DUMP');
  }
  return seq;
}

function header(message: Uint8Array, index: number): { flags: number; seq: number } {
  const buf = Buffer.isBuffer(message) ? message : Buffer.from(message.buffer, message.byteOffset, message.byteLength);
  if (buf.length < NLMSG_HDRLEN || buf.readUInt32LE(0) < NLMSG_HDRLEN || buf.readUInt32LE(0) > buf.length) {
    throw new ValidationError('ERR_INVALID_ARGUMENT', 'messages', index, `message ${index} is not a netlink message (bad nlmsg_len)`);
  }
  return { flags: buf.readUInt16LE(6), seq: buf.readUInt32LE(8) };
}

export class NetlinkConnection implements Disposable {
  readonly socket: NetlinkSocket;
  #seq: number;
  #batch: Buffer | undefined;
  /** Seq of the dump whose iteration the caller holds (dumpChunks), while it is not finished. */
  #dumpSeq: number | undefined;
  /** The operation in progress; the next one starts after it. */
  #busy: Promise<void> = Promise.resolve();
  readonly #turns = new Turns();

  constructor(socket: NetlinkSocket) {
    this.socket = socket;
    this.#seq = 0;
  }

  static open(options: NetlinkSocketOptions): NetlinkConnection {
    return new NetlinkConnection(NetlinkSocket.open(options));
  }

  get portId(): number {
    return this.socket.portId;
  }

  /** The next sequence number (1, 2, ... wrapping within u32, never 0). */
  nextSeq(): number {
    this.#seq = this.#seq >= 0xffffffff ? 1 : this.#seq + 1;
    return this.#seq;
  }

  /**
   * Sends messages (each with NLM_F_REQUEST|NLM_F_ACK and a unique seq), packing up to
   * MAX_BATCH_BYTES per send, and returns one result per message, in input order. On the wire only
   * the last message of a datagram keeps NLM_F_ACK (see #transact).
   */
  async transact(messages: readonly Uint8Array[], options: OperationOptions = {}): Promise<TransactResult[]> {
    this.#assertIdle('request');
    notAborted(options, 'request');
    return this.#exclusive(() => this.#transact(messages, options));
  }

  async #transact(messages: readonly Uint8Array[], options: OperationOptions): Promise<TransactResult[]> {
    // Checked again now that it is this call's turn: a signal that fired meanwhile sends nothing.
    notAborted(options, 'request');
    const seqs = new Array<number>(messages.length);
    const seen = new Set<number>();
    for (let i = 0; i < messages.length; i++) {
      const { flags, seq } = header(messages[i]!, i);
      if ((flags & (NLM_F_REQUEST | NLM_F_ACK)) !== (NLM_F_REQUEST | NLM_F_ACK)) {
        throw new ValidationError('ERR_INVALID_ARGUMENT', 'messages', i, `message ${i} lacks NLM_F_REQUEST|NLM_F_ACK, so no reply would tell its fate`);
      }
      if (seen.has(seq)) throw new ValidationError('ERR_INVALID_ARGUMENT', 'messages', i, `message ${i} reuses seq ${seq}`);
      seen.add(seq);
      seqs[i] = seq;
    }
    const results = new Array<TransactResult>(messages.length);
    const pending = new Map<number, number>();
    let i = 0;
    while (i < messages.length) {
      // Pack [i, j) into one datagram.
      let size = align4(messages[i]!.length);
      let j = i + 1;
      while (j < messages.length && size + align4(messages[j]!.length) <= MAX_BATCH_BYTES) size += align4(messages[j++]!.length);
      let datagram: Uint8Array;
      if (j === i + 1) {
        datagram = messages[i]!;
      } else {
        const batch = (this.#batch ??= Buffer.allocUnsafeSlow(MAX_BATCH_BYTES));
        datagram = batch.subarray(0, writePadded(batch, 0, messages.slice(i, j)));
        // Only the datagram's last message asks for an ACK on the wire: the kernel handles the
        // messages in order and answers a failed one with its error whether asked or not, so the
        // last ACK says every message before it without an error succeeded. One answer per
        // datagram instead of one per message.
        for (let at = 0, k = i; k < j - 1; at += align4(messages[k++]!.length)) {
          batch.writeUInt16LE(batch.readUInt16LE(at + 6) & ~NLM_F_ACK, at + 6);
        }
      }
      pending.clear();
      for (let k = i; k < j; k++) pending.set(seqs[k]!, k);
      this.socket.send(datagram);
      await this.#awaitAcks(pending, results, seqs[i]!, seqs[j - 1]!, options);
      i = j;
    }
    return results;
  }

  async #awaitAcks(pending: Map<number, number>, results: TransactResult[], firstSeq: number, lastSeq: number, options: OperationOptions): Promise<void> {
    const visit = (msg: NetlinkMessage): void => {
      if (msg.type !== _NLMSG_ERROR) return;
      const index = pending.get(msg.seq);
      if (index === undefined) return;
      pending.delete(msg.seq);
      const reply = decodeError(msg);
      results[index] = reply.errno === 0 ? { seq: msg.seq } : { seq: msg.seq, error: stacklessErrnoError(reply.errno, msg.seq, reply.extAck) };
      if (msg.seq === lastSeq) {
        // The last message's answer comes after every earlier one's error: the rest succeeded.
        for (const [seq, k] of pending) results[k] = { seq };
        pending.clear();
        return;
      }
      // nfnetlink checks CAP_NET_ADMIN once per datagram: without it the whole datagram is refused
      // and only its first message is answered (EPERM). The rest will never be acknowledged.
      if (reply.errno === ERRNO.EPERM && msg.seq === firstSeq) {
        for (const [seq, k] of pending) results[k] = { seq, error: stacklessErrnoError(reply.errno, seq, reply.extAck) };
        pending.clear();
      }
    };
    while (pending.size > 0) {
      forEachMessage(await this.#recv(options, (ms) => `no ACK within ${ms} ms for ${pending.size} netlink request(s), first seq ${pending.keys().next().value}`), visit);
    }
  }

  /**
   * Sends one request that must carry NLM_F_ACK, and calls `onMessage` for each answer of its seq
   * (e.g. the entry a GET returns) until the ACK. A kernel errno throws NetlinkErrnoError.
   */
  async request(message: Uint8Array, onMessage: (msg: NetlinkMessage) => void, options: OperationOptions = {}): Promise<void> {
    const { flags, seq } = header(message, 0);
    if ((flags & (NLM_F_REQUEST | NLM_F_ACK)) !== (NLM_F_REQUEST | NLM_F_ACK) || (flags & NLM_F_DUMP) === NLM_F_DUMP) {
      throw new ValidationError('ERR_INVALID_ARGUMENT', 'message', flags, 'a request needs NLM_F_REQUEST|NLM_F_ACK and no NLM_F_DUMP');
    }
    this.#assertIdle('request');
    notAborted(options, 'request');
    return this.#exclusive(() => this.#request(message, seq, onMessage, options));
  }

  async #request(message: Uint8Array, seq: number, onMessage: (msg: NetlinkMessage) => void, options: OperationOptions): Promise<void> {
    notAborted(options, 'request');
    this.socket.send(message);
    let failure: NetlinkErrnoError | undefined;
    let acked = false;
    const visit = (msg: NetlinkMessage): boolean => {
      if (msg.seq !== seq) return true;
      if (msg.type === _NLMSG_ERROR) {
        const e = decodeError(msg);
        if (e.errno !== 0) failure = errnoError(e.errno, seq, e.extAck, 'request');
        acked = true;
        return false;
      }
      if (msg.type >= _NLMSG_MIN_TYPE) onMessage(msg);
      return true;
    };
    while (!acked) {
      forEachMessage(await this.#recv(options, (ms) => `no answer within ${ms} ms to netlink request seq ${seq}`), visit);
    }
    if (failure) throw failure;
  }

  /**
   * Sends one NLM_F_DUMP request and calls `onMessage` for each answer of its seq until
   * NLMSG_DONE. Messages are views into the receive buffer: copy what must outlive the callback.
   * A kernel errno (NLMSG_ERROR, or an error in NLMSG_DONE) throws NetlinkErrnoError. If
   * `onMessage` throws, the rest of the dump is drained (so the socket stays usable) and the
   * error is rethrown.
   */
  async dump(message: Uint8Array, onMessage: (msg: NetlinkMessage) => void, options: OperationOptions = {}): Promise<DumpResult> {
    const seq = dumpSeqOf(message);
    this.#assertIdle('dump');
    notAborted(options, 'dump');
    return this.#exclusive(async () => {
      const chunks = this.#chunks(message, seq, onMessage, options);
      for (;;) {
        const step = await chunks.next();
        if (step.done) return step.value;
      }
    });
  }

  /**
   * The same dump, one received datagram at a time: the generator yields after each datagram's
   * messages went through `onMessage`, so a caller can hand results on before the next recv and
   * never hold the whole table. Stopping early (return/break) drains the rest of the dump so the
   * socket stays usable. While the caller holds the iteration, other operations on this
   * connection fail with SocketBusyError (they would wait for the caller, who may be waiting for
   * them); during dump(), they wait their turn.
   */
  async *dumpChunks(message: Uint8Array, onMessage: (msg: NetlinkMessage) => void, options: OperationOptions = {}): AsyncGenerator<void, DumpResult, undefined> {
    const seq = dumpSeqOf(message);
    this.#assertIdle('dump');
    notAborted(options, 'dump');
    let release!: () => void;
    const previous = this.#busy;
    this.#busy = new Promise<void>((resolve) => (release = resolve));
    // Held from now on: a call made while this waits its turn would wait for the caller's loop.
    this.#dumpSeq = seq;
    try {
      await previous;
      return yield* this.#chunks(message, seq, onMessage, options);
    } finally {
      if (this.#dumpSeq === seq) this.#dumpSeq = undefined;
      release();
    }
  }

  /**
   * The dump itself. A timeout or an abort in the middle of it closes the connection: the kernel
   * would go on sending its rest to whoever reads next. Callers checked #assertIdle already.
   */
  async *#chunks(message: Uint8Array, seq: number, onMessage: (msg: NetlinkMessage) => void, options: OperationOptions): AsyncGenerator<void, DumpResult, undefined> {
    // Checked again now that it is this dump's turn: a signal that fired meanwhile sends nothing.
    notAborted(options, 'dump');
    this.socket.send(message);
    let interrupted = false;
    let done = false;
    let failed = false;
    let stopped = false;
    let failure: unknown;
    const visit = (msg: NetlinkMessage): boolean => {
      if (msg.seq !== seq) return true;
      if ((msg.flags & NLM_F_DUMP_INTR) !== 0) interrupted = true;
      if (msg.type === NLMSG_DONE) {
        const d = decodeDone(msg);
        if (d.errno !== 0 && !failed) {
          failed = true;
          failure = errnoError(d.errno, seq, d.extAck, 'dump');
        }
        done = true;
        return false;
      }
      if (msg.type === NLMSG_ERROR) {
        const e = decodeError(msg);
        if (e.errno === 0) return true; // an ACK, if NLM_F_ACK was asked for
        if (!failed) {
          failed = true;
          failure = errnoError(e.errno, seq, e.extAck, 'dump');
        }
        done = true;
        return false;
      }
      if (msg.type < NLMSG_MIN_TYPE || failed || stopped) return true;
      try {
        onMessage(msg);
      } catch (error) {
        failed = true;
        failure = error;
      }
      return true;
    };
    let ended = false;
    try {
      while (!done) {
        forEachMessage(await this.#recv(options, (ms) => `netlink dump (seq ${seq}) got no NLMSG_DONE within ${ms} ms`), visit);
        if (!done && !failed) yield;
      }
      ended = true;
    } catch (error) {
      ended = true;
      // The rest of the dump is still coming: nothing else can use this socket now.
      if (!done) this.close();
      throw error;
    } finally {
      // Not ended: the caller stopped at a yield (return/break). Read the rest of the dump so the
      // next request on this socket starts clean.
      try {
        if (!ended) {
          stopped = true;
          // Without the caller's signal, which has often fired already: bounded by the timeout.
          while (!done) forEachMessage(await this.#recv({}, (ms) => `draining netlink dump (seq ${seq}): no NLMSG_DONE within ${ms} ms`), visit);
        }
      } catch (error) {
        if (!done) this.close();
        throw error;
      }
    }
    if (failed) throw failure;
    return { interrupted };
  }

  #assertIdle(operation: string): void {
    if (this.#dumpSeq !== undefined) throw new SocketBusyError(operation, this.#dumpSeq);
  }

  /** Runs `fn` after the operation in progress, as the only one. */
  #exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#busy.then(fn);
    this.#busy = run.then(() => {}, () => {});
    return run;
  }

  /**
   * One datagram; a receive timeout is rethrown saying what was awaited (`what(timeoutMs)`).
   * Every few milliseconds of work on queued answers, the event loop gets a turn first (Turns).
   */
  async #recv(options: RecvOptions, what: (timeoutMs: number) => string): Promise<Buffer> {
    await this.#turns.take();
    const queued = this.socket.tryRecv();
    if (queued) return queued;
    try {
      return await this.socket.recv({ signal: options.signal });
    } catch (error) {
      if (error instanceof NetlinkTimeoutError) throw new NetlinkTimeoutError(what(error.timeoutMs), error.timeoutMs, { cause: error });
      throw error;
    } finally {
      this.#turns.reset();
    }
  }

  close(): void {
    this.socket.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
