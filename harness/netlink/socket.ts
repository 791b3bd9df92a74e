// THE seam holding native code: a netlink socket over libc (through koffi), optionally created
// inside a named network namespace by switching this thread's netns and switching back (opening is
// synchronous). Receiving never blocks the event loop: the descriptor is read with MSG_DONTWAIT,
// and while nothing is queued a poll() waits on libuv's thread pool (koffi's async calls) in
// slices, so timers, test timeouts, signal handlers and an AbortSignal keep working.
import { closeSync, openSync, readlinkSync, writeSync } from 'node:fs';
import koffi, { type KoffiFunc } from 'koffi';
import { ValidationError } from '../errors.ts';
import {
  AF_NETLINK,
  CLONE_NEWNET,
  ERRNO,
  MSG_DONTWAIT,
  MSG_TRUNC,
  NETLINK_CAP_ACK,
  NETLINK_EXT_ACK,
  SO_RCVBUF,
  SO_RCVBUFFORCE,
  SO_SNDBUF,
  SO_SNDBUFFORCE,
  SO_SNDTIMEO,
  SO_ATTACH_FILTER,
  SOCK_CLOEXEC,
  SOCK_RAW,
  NETLINK_ADD_MEMBERSHIP,
  SOL_NETLINK,
  SOL_SOCKET,
} from './constants.ts';
import { assertNotHostNetns } from '../os/hostguard.ts';
import { assertNetnsName } from '../os/names.ts';
import { NetlinkAbortError, NetlinkSocketError, NetlinkTimeoutError, NetnsNotFoundError, SocketClosedError } from '../errors.ts';

export interface NetlinkSocketOptions {
  /** Netlink protocol, e.g. NETLINK_NETFILTER. */
  protocol: number;
  /** Name under /run/netns to create the socket in; the caller's namespace when absent. */
  netns?: string | undefined;
  /**
   * Create the socket in a new, unnamed namespace that lives exactly as long as the socket: for
   * probes that must not touch any real table and must leave nothing behind. Excludes `netns`.
   */
  freshNetns?: boolean | undefined;
  /** How long one recv() waits for a datagram; default 10 s. */
  timeoutMs?: number | undefined;
  /** Kernel receive buffer; default 64 MiB (SO_RCVBUFFORCE, falling back to SO_RCVBUF). */
  rcvbufBytes?: number | undefined;
  /** Kernel send buffer; default 4 MiB. */
  sndbufBytes?: number | undefined;
  /** Size of the reusable user-space receive buffer; default 1 MiB. */
  recvBufferBytes?: number | undefined;
  /** Multicast groups to join (NETLINK_ADD_MEMBERSHIP), e.g. NFNLGRP_CONNTRACK_NEW for events. */
  groups?: readonly number[] | undefined;
  /** A classic BPF program (`encodeBpf`) attached before any group is joined: what it drops never queues. */
  filter?: Buffer | undefined;
}

type NativeFn = (...args: unknown[]) => number;

interface Libc {
  /** poll(2), called with .async: it blocks a thread-pool thread, never the event loop. */
  poll: KoffiFunc<(fds: { fd: number; events: number; revents: number }, nfds: number, timeoutMs: number) => number>;
  socket: NativeFn;
  bind: NativeFn;
  getsockname: NativeFn;
  setsockopt: NativeFn;
  /** setsockopt(SO_ATTACH_FILTER) with a struct sock_fprog. */
  attachFilter: (fd: number, level: number, name: number, prog: { len: number; filter: Buffer }, size: number) => number;
  send: NativeFn;
  recv: NativeFn;
  close: NativeFn;
  setns: NativeFn;
  unshare: NativeFn;
}

let libc: Libc | undefined;

function native(): Libc {
  if (libc) return libc;
  const lib = koffi.load('libc.so.6');
  const fn = (decl: string) => lib.func(decl) as NativeFn;
  const pollfd = koffi.struct('cth_pollfd', { fd: 'int', events: 'short', revents: 'short' });
  koffi.struct('cth_sock_fprog', { len: 'uint16_t', filter: 'void *' });
  libc = {
    poll: lib.func('int poll(_Inout_ cth_pollfd *fds, unsigned long nfds, int timeout)') as Libc['poll'],
    socket: fn('int socket(int domain, int type, int protocol)'),
    bind: fn('int bind(int fd, const void *addr, uint32_t addrlen)'),
    getsockname: fn('int getsockname(int fd, void *addr, void *addrlen)'),
    setsockopt: fn('int setsockopt(int fd, int level, int optname, const void *optval, uint32_t optlen)'),
    attachFilter: lib.func('int setsockopt(int fd, int level, int optname, const cth_sock_fprog *optval, uint32_t optlen)') as Libc['attachFilter'],
    send: fn('intptr_t send(int fd, const void *buf, size_t len, int flags)'),
    recv: fn('intptr_t recv(int fd, void *buf, size_t len, int flags)'),
    close: fn('int close(int fd)'),
    setns: fn('int setns(int fd, int nstype)'),
    unshare: fn('int unshare(int flags)'),
  };
  return libc;
}

// Namespace names are validated in one place for the whole harness.
export { assertNetnsName };

function positiveInt(field: string, value: number): number {
  if (!Number.isSafeInteger(value) || value <= 0) {
    throw new ValidationError('ERR_INVALID_ARGUMENT', field, value, `${field} must be a positive integer, got ${String(value)}`);
  }
  return value;
}

function setInt(fd: number, level: number, name: number, value: number): boolean {
  const v = Buffer.alloc(4);
  v.writeInt32LE(value, 0);
  return native().setsockopt(fd, level, name, v, 4) === 0;
}

function setBuffer(fd: number, force: number, plain: number, bytes: number, what: string): void {
  const value = Math.min(bytes, 0x7fffffff);
  if (setInt(fd, SOL_SOCKET, force, value)) return;
  if (!setInt(fd, SOL_SOCKET, plain, value)) throw new NetlinkSocketError('setsockopt', koffi.errno(), what);
}

/** struct sock_fprog { unsigned short len; struct sock_filter *filter; } on a 64-bit ABI. */
const SOCK_FPROG_BYTES = 16;

/** poll() waits at most this long per call, so an abort or a deadline is seen within it. */
const POLL_SLICE_MS = 50;
const POLLIN = 0x1;

export interface RecvOptions {
  /** Ends the wait with NetlinkAbortError (ERR_ABORTED). */
  signal?: AbortSignal | undefined;
  /** Overrides the socket's timeoutMs for this receive. */
  timeoutMs?: number | undefined;
}

function setTimeval(fd: number, name: number, ms: number, what: string): void {
  const tv = Buffer.alloc(16); // struct timeval { long tv_sec; long tv_usec; }
  tv.writeBigInt64LE(BigInt(Math.floor(ms / 1000)), 0);
  tv.writeBigInt64LE(BigInt((ms % 1000) * 1000), 8);
  if (native().setsockopt(fd, SOL_SOCKET, name, tv, 16) !== 0) throw new NetlinkSocketError('setsockopt', koffi.errno(), what);
}

interface Created {
  fd: number;
  portId: number;
  extAck: boolean;
}

/** Creates, configures and binds a socket in the calling thread's current namespace. */
function create(protocol: number, timeoutMs: number, rcvbuf: number, sndbuf: number, groups: readonly number[], filter: Buffer | undefined): Created {
  const c = native();
  const fd = c.socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, protocol);
  if (fd < 0) throw new NetlinkSocketError('socket', koffi.errno(), `AF_NETLINK protocol ${protocol}`);
  try {
    setBuffer(fd, SO_RCVBUFFORCE, SO_RCVBUF, rcvbuf, 'SO_RCVBUF');
    setBuffer(fd, SO_SNDBUFFORCE, SO_SNDBUF, sndbuf, 'SO_SNDBUF');
    setTimeval(fd, SO_SNDTIMEO, timeoutMs, 'SO_SNDTIMEO');
    const extAck = setInt(fd, SOL_NETLINK, NETLINK_EXT_ACK, 1);
    setInt(fd, SOL_NETLINK, NETLINK_CAP_ACK, 1);
    const addr = Buffer.alloc(12); // sockaddr_nl { u16 family; u16 pad; u32 pid; u32 groups; }
    addr.writeUInt16LE(AF_NETLINK, 0);
    if (c.bind(fd, addr, 12) !== 0) throw new NetlinkSocketError('bind', koffi.errno());
    if (filter && c.attachFilter(fd, SOL_SOCKET, SO_ATTACH_FILTER, { len: filter.length / 8, filter }, SOCK_FPROG_BYTES) !== 0) {
      throw new NetlinkSocketError('setsockopt', koffi.errno(), 'SO_ATTACH_FILTER');
    }
    for (const group of groups) {
      if (!setInt(fd, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, group)) throw new NetlinkSocketError('setsockopt', koffi.errno(), `NETLINK_ADD_MEMBERSHIP ${group}`);
    }
    const len = Buffer.alloc(4);
    len.writeUInt32LE(12, 0);
    addr.fill(0);
    if (c.getsockname(fd, addr, len) !== 0) throw new NetlinkSocketError('getsockname', koffi.errno());
    return { fd, portId: addr.readUInt32LE(4), extAck };
  } catch (error) {
    c.close(fd);
    throw error;
  }
}

function fatal(message: string): never {
  try {
    writeSync(2, `\n[netlink] FATAL: ${message}; aborting rather than running in the wrong network namespace\n`);
  } finally {
    process.abort();
  }
}

/**
 * Runs `fn` with this thread switched into the namespace `target` (an open fd; -1: a new unnamed
 * one made by unshare), then switches back.
 */
function inNamespace<T>(target: number, name: string, fn: () => T): T {
  const self = '/proc/thread-self/ns/net';
  const original = readlinkSync(self);
  const saved = openSync(self, 'r');
  try {
    if (target < 0) {
      if (native().unshare(CLONE_NEWNET) !== 0) throw new NetlinkSocketError('unshare', koffi.errno(), 'creating a fresh netns');
    } else if (native().setns(target, CLONE_NEWNET) !== 0) {
      throw new NetlinkSocketError('setns', koffi.errno(), `entering netns ${name}`);
    }
    try {
      return fn();
    } finally {
      let now = '';
      let failure = '';
      try {
        if (native().setns(saved, CLONE_NEWNET) !== 0) failure = `setns back failed with errno ${koffi.errno()}`;
        else if ((now = readlinkSync(self)) !== original) failure = `still in ${now}, expected ${original}`;
      } catch (error) {
        failure = `cannot verify the namespace: ${String(error)}`;
      }
      if (failure) fatal(`could not return from netns ${name}: ${failure}`);
    }
  } finally {
    closeSync(saved);
  }
}

const leaked = new FinalizationRegistry<number>((fd) => {
  native().close(fd);
});

/** A bound netlink socket. send() and tryRecv() return at once; recv() waits off the event loop. */
export class NetlinkSocket implements Disposable {
  readonly protocol: number;
  readonly netns: string | undefined;
  readonly timeoutMs: number;
  /** Whether the kernel accepted NETLINK_EXT_ACK. */
  readonly extAck: boolean;
  #fd: number;
  #portId: number;
  readonly #rbuf: Buffer;
  /** poll() calls in flight on the thread pool, and a descriptor close() left for them. */
  #polling = 0;
  #closeWhenIdle = -1;

  private constructor(created: Created, protocol: number, netns: string | undefined, timeoutMs: number, rbuf: Buffer) {
    this.#fd = created.fd;
    this.#portId = created.portId;
    this.extAck = created.extAck;
    this.protocol = protocol;
    this.netns = netns;
    this.timeoutMs = timeoutMs;
    this.#rbuf = rbuf;
    leaked.register(this, created.fd, this);
  }

  static open(options: NetlinkSocketOptions): NetlinkSocket {
    const { protocol, netns } = options;
    if (!Number.isInteger(protocol) || protocol < 0 || protocol > 31) {
      throw new ValidationError('ERR_INVALID_ARGUMENT', 'protocol', protocol, `netlink protocol must be an integer in [0, 31], got ${String(protocol)}`);
    }
    const timeoutMs = positiveInt('timeoutMs', options.timeoutMs ?? 10_000);
    const rcvbuf = positiveInt('rcvbufBytes', options.rcvbufBytes ?? 64 * 1024 * 1024);
    const sndbuf = positiveInt('sndbufBytes', options.sndbufBytes ?? 4 * 1024 * 1024);
    const recvBufferBytes = positiveInt('recvBufferBytes', options.recvBufferBytes ?? 1024 * 1024);
    if (netns !== undefined) assertNetnsName(netns);
    const rbuf = Buffer.allocUnsafeSlow(recvBufferBytes);
    const groups = (options.groups ?? []).map((g) => positiveInt('groups', g));
    const { filter } = options;
    if (filter !== undefined && (!Buffer.isBuffer(filter) || filter.length === 0 || filter.length % 8 !== 0 || filter.length / 8 > 4096)) {
      throw new ValidationError('ERR_INVALID_ARGUMENT', 'filter', filter, 'filter must be an encoded BPF program (encodeBpf) of 1 to 4096 instructions');
    }
    const make = () => new NetlinkSocket(create(protocol, timeoutMs, rcvbuf, sndbuf, groups, filter), protocol, netns, timeoutMs, rbuf);
    if (options.freshNetns) {
      if (netns !== undefined) throw new ValidationError('ERR_INVALID_ARGUMENT', 'freshNetns', true, 'freshNetns and netns exclude each other');
      return inNamespace(-1, '(fresh)', make);
    }
    if (netns === undefined) return make();

    let target: number;
    try {
      target = openSync(`/run/netns/${netns}`, 'r');
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') throw new NetnsNotFoundError(netns, { cause: error });
      const errno = -((error as NodeJS.ErrnoException).errno ?? 0);
      throw new NetlinkSocketError('open', errno, `/run/netns/${netns}`, { cause: error });
    }
    try {
      assertNotHostNetns(netns, target);
      return inNamespace(target, netns, make);
    } finally {
      closeSync(target);
    }
  }

  /** The kernel-assigned port id (nl_pid) of this socket. */
  get portId(): number {
    this.#check('portId');
    return this.#portId;
  }

  get closed(): boolean {
    return this.#fd < 0;
  }

  /** Sends one datagram (one or more netlink messages); netlink sends are all-or-nothing. */
  send(buf: Uint8Array): void {
    const fd = this.#check('send');
    for (;;) {
      const n = native().send(fd, buf, buf.length, 0);
      if (n === buf.length) return;
      if (n >= 0) throw new NetlinkSocketError('send', 0, `short send: ${n} of ${buf.length} bytes`);
      const errno = koffi.errno();
      if (errno === ERRNO.EINTR) continue;
      if (errno === ERRNO.EAGAIN) throw new NetlinkTimeoutError(`netlink send timed out after ${this.timeoutMs} ms`, this.timeoutMs);
      throw new NetlinkSocketError('send', errno, `${buf.length} bytes`);
    }
  }

  /**
   * Receives one datagram if one is queued, without waiting: a view into a reusable buffer, valid
   * until the next receive, or undefined. A datagram larger than the buffer is an error, never
   * silently truncated.
   */
  tryRecv(): Buffer | undefined {
    const fd = this.#check('recv');
    const rbuf = this.#rbuf;
    for (;;) {
      const n = native().recv(fd, rbuf, rbuf.length, MSG_TRUNC | MSG_DONTWAIT);
      if (n > rbuf.length) throw new NetlinkSocketError('recv', ERRNO.EMSGSIZE, `datagram of ${n} bytes truncated to the ${rbuf.length}-byte receive buffer`);
      if (n >= 0) return rbuf.subarray(0, n);
      const errno = koffi.errno();
      if (errno === ERRNO.EINTR) continue;
      if (errno === ERRNO.EAGAIN) return undefined;
      if (errno === ERRNO.ENOBUFS) throw new NetlinkSocketError('recv', errno, 'the socket receive queue overflowed and replies were lost');
      throw new NetlinkSocketError('recv', errno);
    }
  }

  /**
   * Receives one datagram, waiting up to the timeout without blocking the event loop (see the
   * file's comment). NetlinkTimeoutError when nothing came; NetlinkAbortError when `signal` fired.
   */
  async recv(options: RecvOptions = {}): Promise<Buffer> {
    const timeoutMs = options.timeoutMs ?? this.timeoutMs;
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const datagram = this.tryRecv();
      if (datagram) return datagram;
      if (options.signal?.aborted) throw new NetlinkAbortError('recv', options.signal.reason);
      const left = deadline - performance.now();
      if (left <= 0) throw new NetlinkTimeoutError(`no netlink reply within ${timeoutMs} ms`, timeoutMs);
      await this.#readable(Math.min(Math.ceil(left), POLL_SLICE_MS), options.signal);
    }
  }

  /** Resolves when the socket is readable, `ms` passed, or `signal` fired (the poll then ends on its own). */
  #readable(ms: number, signal: AbortSignal | undefined): Promise<void> {
    const fd = this.#check('recv');
    return new Promise<void>((resolve, reject) => {
      const onAbort = () => resolve();
      signal?.addEventListener('abort', onAbort, { once: true });
      const done = () => {
        signal?.removeEventListener('abort', onAbort);
        // close() waits for polls in flight: the fd must not be reused while a thread polls it.
        if (--this.#polling === 0 && this.#closeWhenIdle >= 0) {
          native().close(this.#closeWhenIdle);
          this.#closeWhenIdle = -1;
        }
      };
      this.#polling++;
      try {
        native().poll.async({ fd, events: POLLIN, revents: 0 }, 1, ms, () => {
          done();
          resolve();
        });
      } catch (error) {
        // koffi refuses an async call when its queue is full: nothing is in flight then.
        done();
        reject(error);
      }
    });
  }

  /** Closes the socket; idempotent. A poll still in flight closes the descriptor when it returns. */
  close(): void {
    const fd = this.#fd;
    if (fd < 0) return;
    this.#fd = -1;
    leaked.unregister(this);
    if (this.#polling > 0) this.#closeWhenIdle = fd;
    else native().close(fd);
  }

  [Symbol.dispose](): void {
    this.close();
  }

  #check(operation: string): number {
    if (this.#fd < 0) throw new SocketClosedError(operation);
    return this.#fd;
  }
}
