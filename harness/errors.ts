// Every error the harness throws, in one module (the undici style): each class has a fixed `name`
// and is bound to its own `code`s by ERROR_CODES below, so callers and tests branch on `code`
// without parsing messages, and no code is thrown by two classes.
import { errnoName } from './netlink/constants.ts';
import { quoteArgv } from './os/argv.ts';
import type { CreateResult } from './conntrack/client.ts';

/** Which class throws which codes: the one home of both lists. */
export const ERROR_CODES = {
  /** Bad input, always thrown before anything reaches the kernel or a command. */
  ValidationError: [
    'ERR_INVALID_ADDRESS', 'ERR_FAMILY_MISMATCH', 'ERR_INVALID_PORT', 'ERR_INVALID_ZONE', 'ERR_INVALID_ICMP',
    'ERR_UNKNOWN_PROTOCOL', 'ERR_INVALID_ENTRY', 'ERR_INVALID_NETNS_NAME', 'ERR_NETNS_REQUIRED',
    'ERR_INVALID_ARGUMENT', 'ERR_INVALID_FILTER', 'ERR_UNKNOWN_FILTER_KEY',
  ],
  CommandError: ['ERR_COMMAND_FAILED', 'ERR_COMMAND_TIMEOUT', 'ERR_COMMAND_NOT_FOUND'],
  CreateError: ['ERR_CREATE_FAILED'],
  HostNetnsError: ['ERR_NETNS_IS_HOST'],
  NetnsNotFoundError: ['ERR_NETNS_NOT_FOUND'],
  WaitTimeoutError: ['ERR_WAIT_TIMEOUT'],
  NetlinkDecodeError: ['ERR_NETLINK_DECODE'],
  NetlinkErrnoError: ['ERR_NETLINK_ERRNO'],
  NetlinkSocketError: ['ERR_NETLINK_SOCKET'],
  NetlinkTimeoutError: ['ERR_NETLINK_TIMEOUT'],
  NetlinkAbortError: ['ERR_ABORTED'],
  SocketClosedError: ['ERR_SOCKET_CLOSED'],
  SocketBusyError: ['ERR_SOCKET_BUSY'],
  /** An adapter process (docs/adapters.md) as the system under test. */
  AdapterError: [
    'ERR_ADAPTER_CRASHED', 'ERR_ADAPTER_PROTOCOL', 'ERR_ADAPTER_TIMEOUT', 'ERR_ADAPTER_UNSUPPORTED', 'ERR_ADAPTER_FAILED',
    'ERR_ADAPTER_CLOSED',
  ],
  /** Thrown as plain HarnessErrors: each is one situation and needs no fields of its own. */
  HarnessError: [
    // the machine cannot run what was asked
    'ERR_PREREQUISITE',
    // the oracle (conntrack-tools) printed what it cannot parse, or has no option for a request
    'ERR_ORACLE_PARSE', 'ERR_ORACLE_UNSUPPORTED',
    // the kernel accepted labels on a create and dropped them (no `ct label` rule yet)
    'ERR_LABELS_UNAVAILABLE',
    // an owned process or namespace is not in the state an operation needs
    'ERR_PROCESS_STDIN_CLOSED', 'ERR_PROCESS_EXITED', 'ERR_PROCESS_STUCK', 'ERR_NETNS_DESTROYED', 'ERR_SYSCTL_NOT_SET',
    // real traffic did not do what a recipe needs (a server died, a client did not close cleanly)
    'ERR_TRAFFIC_FAILED',
    // client.watch()
    'ERR_WATCH_FAILED', 'ERR_WATCH_CLOSED',
    // the VM runner (npm run test:vm)
    'ERR_UNKNOWN_KERNEL', 'ERR_VM_BOOT', 'ERR_VM_TIMEOUT', 'ERR_VM_NO_RESULT', 'ERR_VM_INTERRUPTED',
    // a session record that cannot be written or read
    'ERR_SESSION',
    // the GitHub Actions step summary ($GITHUB_STEP_SUMMARY) could not be written
    'ERR_STEP_SUMMARY',
    // npm run new-protocol's kernel probe saw something that says neither "tracked" nor "not tracked"
    'ERR_PROBE_FAILED',
  ],
} as const;

type Codes = typeof ERROR_CODES;
export type HarnessErrorCode = Codes[keyof Codes][number];
/** The codes class `C` throws. */
export type CodeOf<C extends keyof Codes> = Codes[C][number];

export class HarnessError extends Error {
  override name = 'HarnessError';
  readonly code: HarnessErrorCode;

  // Subclasses pass their own codes; a plain HarnessError takes only the ones listed for it.
  constructor(code: CodeOf<'HarnessError'>, message: string, options?: { cause?: unknown });
  constructor(code: HarnessErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

// TypeScript's overloads hide the implementation signature from subclasses too, so subclasses
// reach it through this cast: their own constructors are what bind them to their codes.
const Base = HarnessError as unknown as new (code: HarnessErrorCode, message: string, options?: { cause?: unknown }) => HarnessError;

/** Bad input, always thrown before anything reaches the kernel or a command. */
export class ValidationError extends Base {
  override name = 'ValidationError';
  declare readonly code: CodeOf<'ValidationError'>;
  /** The offending field, e.g. `src`, `dport`, `zone`, `netns`, `argv`. */
  readonly field: string;
  readonly value: unknown;

  constructor(code: CodeOf<'ValidationError'>, field: string, value: unknown, message: string) {
    super(code, message);
    this.field = field;
    this.value = value;
  }
}

const STDERR_TAIL_LINES = 8;

/** The message lines quoting a process's stderr: its last lines under a heading, none when it is empty. */
function stderrTail(stderr: string): string[] {
  const lines = stderr === '' ? [] : stderr.split('\n');
  if (lines.length === 0) return [];
  const heading = lines.length > STDERR_TAIL_LINES ? `stderr (last ${STDERR_TAIL_LINES} of ${lines.length} lines):` : 'stderr:';
  return [heading, ...lines.slice(-STDERR_TAIL_LINES).map((l) => `  ${l}`)];
}

/**
 * A command that failed, timed out or could not be started. The message holds what a person
 * needs (argv, exit code, the last lines of stderr); the whole output stays on the fields, which
 * are not enumerable so a test report does not print it again.
 */
export class CommandError extends Base {
  override name = 'CommandError';
  declare readonly code: CodeOf<'CommandError'>;
  declare readonly argv: readonly string[];
  declare readonly exitCode: number | undefined;
  declare readonly stderr: string;
  declare readonly stdout: string;

  constructor(
    code: CodeOf<'CommandError'>,
    argv: readonly string[],
    detail: { exitCode?: number | undefined; stdout?: string; stderr?: string; reason: string },
  ) {
    const stderr = detail.stderr?.trim() ?? '';
    super(code, [`${quoteArgv(argv)}: ${detail.reason}`, ...stderrTail(stderr)].join('\n'));
    for (const [key, value] of Object.entries({ argv, exitCode: detail.exitCode, stderr, stdout: detail.stdout ?? '' })) {
      Object.defineProperty(this, key, { value, enumerable: false });
    }
  }

  // vitest serializes an error's own properties, enumerable or not, under the message in JUnit and
  // annotations; the message already says what the fields hold.
  toJSON(): { code: string } {
    return { code: this.code };
  }
}

/** Errno-specific advice for CreateError's message. */
function createHint(failed: ReadonlyArray<{ error: HarnessError }>): string {
  const errnos = new Set(failed.map((f) => (f.error instanceof NetlinkErrnoError ? f.error.errnoName : '')));
  const hints: string[] = [];
  if (errnos.has('ENOMEM')) {
    hints.push('ENOMEM: the namespace\'s conntrack table is full, see net.netfilter.nf_conntrack_max; unassured entries are evicted first, assured ones are refused');
  }
  if (errnos.has('ENOSPC')) {
    hints.push('ENOSPC: entries get room for labels only once a rule that uses `ct label` exists in the namespace (e.g. nft ... ct label set 1)');
  }
  return hints.length > 0 ? ` (${hints.join('; ')})` : '';
}

/** Some entries of a create could not be made; `result` says which and why. */
export class CreateError extends Base {
  override name = 'CreateError';
  declare readonly code: CodeOf<'CreateError'>;
  declare readonly result: CreateResult;

  constructor(result: CreateResult) {
    const first = result.failed[0];
    super('ERR_CREATE_FAILED', `${result.failed.length} of ${result.failed.length + result.created.length} entries were not created; first: ${first?.error.message}${createHint(result.failed)}`);
    // Not enumerable: a report shows the message, not every failed entry again.
    Object.defineProperty(this, 'result', { value: result, enumerable: false });
  }

  // As CommandError's: the message names the first failure; `result` stays on the error.
  toJSON(): { code: string } {
    return { code: this.code };
  }
}

/** A namespace that is the host's own network namespace: the harness never works there. */
export class HostNetnsError extends Base {
  override name = 'HostNetnsError';
  declare readonly code: CodeOf<'HostNetnsError'>;
  readonly netns: string;

  constructor(netns: string) {
    super('ERR_NETNS_IS_HOST', `namespace ${netns} is the host's own network namespace; the harness never works on the host table`);
    this.netns = netns;
  }
}

/** /run/netns/<name> does not exist. */
export class NetnsNotFoundError extends Base {
  override name = 'NetnsNotFoundError';
  declare readonly code: CodeOf<'NetnsNotFoundError'>;
  readonly netns: string;

  constructor(netns: string, options?: { cause?: unknown }) {
    super('ERR_NETNS_NOT_FOUND', `network namespace ${JSON.stringify(netns)} not found (no /run/netns/${netns})`, options);
    this.netns = netns;
  }
}

/** A wait that ran out of time: says what was expected and what was last seen. */
export class WaitTimeoutError extends Base {
  override name = 'WaitTimeoutError';
  declare readonly code: CodeOf<'WaitTimeoutError'>;
  readonly what: string;
  readonly lastSeen: string;
  readonly attempts: number;
  readonly elapsedMs: number;

  constructor(what: string, lastSeen: string, attempts: number, elapsedMs: number) {
    super('ERR_WAIT_TIMEOUT',
      `timed out after ${Math.round(elapsedMs)} ms (${attempts} looks) waiting for ${what}; last seen: ${lastSeen}`);
    this.what = what;
    this.lastSeen = lastSeen;
    this.attempts = attempts;
    this.elapsedMs = elapsedMs;
  }
}

/** Malformed or truncated netlink data. `offset` is where in the inspected buffer it went wrong. */
export class NetlinkDecodeError extends Base {
  override name = 'NetlinkDecodeError';
  declare readonly code: CodeOf<'NetlinkDecodeError'>;
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
export class NetlinkErrnoError extends Base {
  override name = 'NetlinkErrnoError';
  declare readonly code: CodeOf<'NetlinkErrnoError'>;
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
export class NetlinkSocketError extends Base {
  override name = 'NetlinkSocketError';
  declare readonly code: CodeOf<'NetlinkSocketError'>;
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
export class NetlinkTimeoutError extends Base {
  override name = 'NetlinkTimeoutError';
  declare readonly code: CodeOf<'NetlinkTimeoutError'>;
  readonly timeoutMs: number;

  constructor(message: string, timeoutMs: number, options?: { cause?: unknown }) {
    super('ERR_NETLINK_TIMEOUT', message, options);
    this.timeoutMs = timeoutMs;
  }
}

/** The caller's AbortSignal ended a wait for the kernel; `reason` is the signal's. */
export class NetlinkAbortError extends Base {
  override name = 'NetlinkAbortError';
  declare readonly code: CodeOf<'NetlinkAbortError'>;
  readonly reason: unknown;

  constructor(operation: string, reason: unknown, options?: { cause?: unknown }) {
    super('ERR_ABORTED', `netlink ${operation} aborted${reason instanceof Error ? `: ${reason.message}` : reason === undefined ? '' : `: ${String(reason)}`}`, options ?? { cause: reason });
    this.reason = reason;
  }
}

/** A socket or connection was used after close(). */
export class SocketClosedError extends Base {
  override name = 'SocketClosedError';
  declare readonly code: CodeOf<'SocketClosedError'>;

  constructor(operation: string) {
    super('ERR_SOCKET_CLOSED', `netlink socket used after close (${operation})`);
  }
}

/**
 * A request while a dump on the same connection is still being read (an entries() or stream()
 * loop that calls the client): its answers would be read, and lost, in the dump's place.
 */
export class SocketBusyError extends Base {
  override name = 'SocketBusyError';
  declare readonly code: CodeOf<'SocketBusyError'>;

  constructor(operation: string, dumpSeq: number) {
    super('ERR_SOCKET_BUSY', `netlink ${operation} while dump seq ${dumpSeq} is still being read on this connection: finish or break out of the iteration first, or open a second client`);
  }
}

export interface AdapterErrorDetail {
  /** The adapter: hello's name, or its argv while hello has not answered. */
  adapter: string;
  /** What went wrong, or for UNSUPPORTED the adapter's reason (then the whole message). */
  reason: string;
  /** The request's op, when one was under way. */
  op?: string | undefined;
  /** The adapter's own `error.code` (EEXIST, UNSUPPORTED, ...) when it answered with one. */
  adapterCode?: string | undefined;
  /** The adapter's stderr: its last lines are quoted in the message. */
  stderr?: string | undefined;
}

/**
 * An adapter (docs/adapters.md) crashed, broke the protocol, did not answer in time, cannot do a
 * request (UNSUPPORTED: the test is skipped), or answered a request with an error.
 */
export class AdapterError extends Base {
  override name = 'AdapterError';
  declare readonly code: CodeOf<'AdapterError'>;
  readonly adapter: string;
  readonly op: string | undefined;
  readonly adapterCode: string | undefined;
  declare readonly stderr: string;

  constructor(code: CodeOf<'AdapterError'>, detail: AdapterErrorDetail) {
    const stderr = detail.stderr?.trim() ?? '';
    // UNSUPPORTED's message is the adapter's reason alone: it becomes the skip note as it is.
    const message = code === 'ERR_ADAPTER_UNSUPPORTED'
      ? detail.reason
      : [`adapter ${detail.adapter}: ${detail.reason}`, ...stderrTail(stderr)].join('\n');
    super(code, message);
    this.adapter = detail.adapter;
    this.op = detail.op;
    this.adapterCode = detail.adapterCode;
    // Not enumerable: the message quotes what matters, a report need not print it all again.
    Object.defineProperty(this, 'stderr', { value: stderr, enumerable: false });
  }

  // As CommandError's: vitest would print the whole stderr under the message otherwise.
  toJSON(): { code: string; adapter: string; op: string | undefined; adapterCode: string | undefined } {
    return { code: this.code, adapter: this.adapter, op: this.op, adapterCode: this.adapterCode };
  }
}

export function isHarnessError(error: unknown, code?: HarnessErrorCode): error is HarnessError {
  return error instanceof HarnessError && (code === undefined || error.code === code);
}
