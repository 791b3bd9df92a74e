// Request/response on top of NetlinkSocket: sequence numbers, batched requests with one ACK or
// errno per message (transact), and streaming dumps that never buffer the whole answer (dump).
import { ValidationError } from '../errors.ts';
import { align4, writePadded } from './attributes.ts';
import { ERRNO, NLM_F_ACK, NLM_F_DUMP, NLM_F_DUMP_INTR, NLM_F_REQUEST, NLMSG_DONE, NLMSG_ERROR, NLMSG_HDRLEN, NLMSG_MIN_TYPE } from './constants.ts';
import { NetlinkErrnoError, NetlinkTimeoutError, SocketBusyError } from './errors.ts';
import { decodeDone, decodeError, type ExtAck, forEachMessage, type NetlinkMessage } from './message.ts';
import { NetlinkSocket, type NetlinkSocketOptions } from './socket.ts';

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
  /** Seq of the dump whose answers are still being read (dumpChunks suspended at a yield). */
  #dumpSeq: number | undefined;

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
   * MAX_BATCH_BYTES per send, and returns one result per message, in input order.
   */
  transact(messages: readonly Uint8Array[]): TransactResult[] {
    this.#assertIdle('request');
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
      }
      pending.clear();
      for (let k = i; k < j; k++) pending.set(seqs[k]!, k);
      this.socket.send(datagram);
      this.#awaitAcks(pending, results, seqs[i]!);
      i = j;
    }
    return results;
  }

  #awaitAcks(pending: Map<number, number>, results: TransactResult[], firstSeq: number): void {
    const visit = (msg: NetlinkMessage): void => {
      if (msg.type !== _NLMSG_ERROR) return;
      const index = pending.get(msg.seq);
      if (index === undefined) return;
      pending.delete(msg.seq);
      const reply = decodeError(msg);
      results[index] = reply.errno === 0 ? { seq: msg.seq } : { seq: msg.seq, error: stacklessErrnoError(reply.errno, msg.seq, reply.extAck) };
      // nfnetlink checks CAP_NET_ADMIN once per datagram: without it the whole datagram is refused
      // and only its first message is answered (EPERM). The rest will never be acknowledged.
      if (reply.errno === ERRNO.EPERM && msg.seq === firstSeq) {
        for (const [seq, k] of pending) results[k] = { seq, error: stacklessErrnoError(reply.errno, seq, reply.extAck) };
        pending.clear();
      }
    };
    while (pending.size > 0) {
      forEachMessage(this.#recv((ms) => `no ACK within ${ms} ms for ${pending.size} netlink request(s), first seq ${pending.keys().next().value}`), visit);
    }
  }

  /**
   * Sends one request that must carry NLM_F_ACK, and calls `onMessage` for each answer of its seq
   * (e.g. the entry a GET returns) until the ACK. A kernel errno throws NetlinkErrnoError.
   */
  request(message: Uint8Array, onMessage: (msg: NetlinkMessage) => void): void {
    const { flags, seq } = header(message, 0);
    if ((flags & (NLM_F_REQUEST | NLM_F_ACK)) !== (NLM_F_REQUEST | NLM_F_ACK) || (flags & NLM_F_DUMP) === NLM_F_DUMP) {
      throw new ValidationError('ERR_INVALID_ARGUMENT', 'message', flags, 'a request needs NLM_F_REQUEST|NLM_F_ACK and no NLM_F_DUMP');
    }
    this.#assertIdle('request');
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
      forEachMessage(this.#recv((ms) => `no answer within ${ms} ms to netlink request seq ${seq}`), visit);
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
  dump(message: Uint8Array, onMessage: (msg: NetlinkMessage) => void): DumpResult {
    const chunks = this.dumpChunks(message, onMessage);
    for (;;) {
      const step = chunks.next();
      if (step.done) return step.value;
    }
  }

  /**
   * The same dump, one received datagram at a time: the generator yields after each datagram's
   * messages went through `onMessage`, so a caller can hand results on before the next recv and
   * never hold the whole table. Stopping early (return/break) drains the rest of the dump so the
   * socket stays usable.
   */
  *dumpChunks(message: Uint8Array, onMessage: (msg: NetlinkMessage) => void): Generator<void, DumpResult, undefined> {
    const { flags, seq } = header(message, 0);
    if ((flags & NLM_F_REQUEST) === 0 || (flags & NLM_F_DUMP) !== NLM_F_DUMP) {
      throw new ValidationError('ERR_INVALID_ARGUMENT', 'message', flags, 'a dump request needs NLM_F_REQUEST|NLM_F_DUMP');
    }
    this.#assertIdle('dump');
    this.socket.send(message);
    this.#dumpSeq = seq;
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
        forEachMessage(this.#recv((ms) => `netlink dump (seq ${seq}) got no NLMSG_DONE within ${ms} ms`), visit);
        if (!done && !failed) yield;
      }
      ended = true;
    } catch (error) {
      ended = true;
      throw error;
    } finally {
      // Not ended: the caller stopped at a yield (return/break). Read the rest of the dump so the
      // next request on this socket starts clean.
      try {
        if (!ended) {
          stopped = true;
          while (!done) forEachMessage(this.socket.recv(), visit);
        }
      } finally {
        this.#dumpSeq = undefined;
      }
    }
    if (failed) throw failure;
    return { interrupted };
  }

  #assertIdle(operation: string): void {
    if (this.#dumpSeq !== undefined) throw new SocketBusyError(operation, this.#dumpSeq);
  }

  /** One datagram; a receive timeout is rethrown saying what was awaited (`what(timeoutMs)`). */
  #recv(what: (timeoutMs: number) => string): Buffer {
    try {
      return this.socket.recv();
    } catch (error) {
      if (error instanceof NetlinkTimeoutError) throw new NetlinkTimeoutError(what(error.timeoutMs), error.timeoutMs, { cause: error });
      throw error;
    }
  }

  close(): void {
    this.socket.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
