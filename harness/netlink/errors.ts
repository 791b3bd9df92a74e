// Typed errors of the netlink layer, all HarnessErrors with a fixed `name` and a stable `code`:
// malformed bytes, a kernel errno reply, a failed syscall, a timeout, use after close, a missing netns.
import { HarnessError } from '../errors.ts';
import { errnoName } from './constants.ts';

/** Malformed or truncated netlink data. `offset` is where in the inspected buffer it went wrong. */
export class NetlinkDecodeError extends HarnessError {
  override name = 'NetlinkDecodeError';
  readonly offset: number;

  constructor(message: string, offset: number) {
    super('ERR_NETLINK_DECODE', `${message} (at byte offset ${offset})`);
    this.offset = offset;
  }
}

export interface NetlinkErrnoErrorInit {
  /** Positive errno, e.g. 2. */
  errno: number;
  /** Sequence number of the request the kernel refused. */
  seq: number;
  /** NLMSGERR_ATTR_MSG text, when the kernel sent an extended ack. */
  extAck?: string | undefined;
  /** NLMSGERR_ATTR_OFFS: byte offset in the request the kernel blamed. */
  extAckOffset?: number | undefined;
  /** What was being done, for the message (e.g. `dump`). */
  operation?: string | undefined;
}

/** The kernel answered a request with NLMSG_ERROR and a non-zero errno. */
export class NetlinkErrnoError extends HarnessError {
  override name = 'NetlinkErrnoError';
  readonly errno: number;
  /** e.g. `ENOENT`. */
  readonly errnoName: string;
  readonly seq: number;
  readonly extAck: string | undefined;
  readonly extAckOffset: number | undefined;

  constructor(init: NetlinkErrnoErrorInit) {
    const name = errnoName(init.errno);
    const what = init.operation ? `netlink ${init.operation}` : 'netlink request';
    const detail = init.extAck ? `: ${init.extAck}` : '';
    super('ERR_NETLINK_ERRNO', `${what} (seq ${init.seq}) failed with ${name} (errno ${init.errno})${detail}`);
    this.errno = init.errno;
    this.errnoName = name;
    this.seq = init.seq;
    this.extAck = init.extAck;
    this.extAckOffset = init.extAckOffset;
  }
}

/** A socket-level syscall failed (socket, bind, setsockopt, send, recv, setns, ...). */
export class NetlinkSocketError extends HarnessError {
  override name = 'NetlinkSocketError';
  readonly syscall: string;
  readonly errno: number;
  readonly errnoName: string;

  constructor(syscall: string, errno: number, detail?: string, options?: { cause?: unknown }) {
    const name = errnoName(errno);
    super('ERR_NETLINK_SOCKET', `${syscall}() failed with ${name} (errno ${errno})${detail ? `: ${detail}` : ''}`, options);
    this.syscall = syscall;
    this.errno = errno;
    this.errnoName = name;
  }
}

/** No reply within the socket's receive timeout. */
export class NetlinkTimeoutError extends HarnessError {
  override name = 'NetlinkTimeoutError';
  readonly timeoutMs: number;

  constructor(message: string, timeoutMs: number, options?: { cause?: unknown }) {
    super('ERR_NETLINK_TIMEOUT', message, options);
    this.timeoutMs = timeoutMs;
  }
}

/** The caller's AbortSignal ended a wait for the kernel; `reason` is the signal's. */
export class NetlinkAbortError extends HarnessError {
  override name = 'NetlinkAbortError';
  readonly reason: unknown;

  constructor(operation: string, reason: unknown, options?: { cause?: unknown }) {
    super('ERR_ABORTED', `netlink ${operation} aborted${reason instanceof Error ? `: ${reason.message}` : reason === undefined ? '' : `: ${String(reason)}`}`, options ?? { cause: reason });
    this.reason = reason;
  }
}

/** A socket or connection was used after close(). */
export class SocketClosedError extends HarnessError {
  override name = 'SocketClosedError';

  constructor(operation: string) {
    super('ERR_SOCKET_CLOSED', `netlink socket used after close (${operation})`);
  }
}

/**
 * A request while a dump on the same connection is still being read (an entries() or stream()
 * loop that calls the client): its answers would be read, and lost, in the dump's place.
 */
export class SocketBusyError extends HarnessError {
  override name = 'SocketBusyError';

  constructor(operation: string, dumpSeq: number) {
    super('ERR_SOCKET_BUSY', `netlink ${operation} while dump seq ${dumpSeq} is still being read on this connection: finish or break out of the iteration first, or open a second client`);
  }
}

/** /run/netns/<name> does not exist. */
export class NetnsNotFoundError extends HarnessError {
  override name = 'NetnsNotFoundError';
  readonly netns: string;

  constructor(netns: string, options?: { cause?: unknown }) {
    super('ERR_NETNS_NOT_FOUND', `network namespace ${JSON.stringify(netns)} not found (no /run/netns/${netns})`, options);
    this.netns = netns;
  }
}
