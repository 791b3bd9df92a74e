// One error base class for the whole harness: every error has a fixed `name` and a stable `code`
// so callers and tests can branch on it without parsing messages (the undici style).

export type HarnessErrorCode =
  // input validation (thrown before any kernel call)
  | 'ERR_INVALID_ADDRESS'
  | 'ERR_FAMILY_MISMATCH'
  | 'ERR_INVALID_PORT'
  | 'ERR_INVALID_ZONE'
  | 'ERR_INVALID_ICMP'
  | 'ERR_UNKNOWN_PROTOCOL'
  | 'ERR_INVALID_ENTRY'
  | 'ERR_INVALID_NETNS_NAME'
  | 'ERR_NETNS_REQUIRED'
  | 'ERR_NETNS_IS_HOST'
  | 'ERR_INVALID_ARGUMENT'
  | 'ERR_INVALID_FILTER'
  | 'ERR_UNKNOWN_FILTER_KEY'
  // system / commands
  | 'ERR_COMMAND_FAILED'
  | 'ERR_COMMAND_TIMEOUT'
  | 'ERR_COMMAND_NOT_FOUND'
  | 'ERR_NETNS_NOT_FOUND'
  | 'ERR_PREREQUISITE'
  | 'ERR_ORACLE_PARSE'
  | 'ERR_ORACLE_UNSUPPORTED'
  | 'ERR_WAIT_TIMEOUT'
  // the VM runner (npm run test:vm)
  | 'ERR_UNKNOWN_KERNEL'
  | 'ERR_VM_BOOT'
  | 'ERR_VM_TIMEOUT'
  | 'ERR_VM_NO_RESULT'
  | 'ERR_VM_INTERRUPTED'
  // netlink
  | 'ERR_LABELS_UNAVAILABLE'
  | 'ERR_NETLINK_DECODE'
  | 'ERR_NETLINK_ERRNO'
  | 'ERR_NETLINK_SOCKET'
  | 'ERR_NETLINK_TIMEOUT'
  | 'ERR_SOCKET_CLOSED'
  | 'ERR_SOCKET_BUSY'
  | 'ERR_ABORTED'
  // ct.watch()
  | 'ERR_WATCH_FAILED'
  | 'ERR_WATCH_CLOSED';

export class HarnessError extends Error {
  override name = 'HarnessError';
  readonly code: HarnessErrorCode;

  constructor(code: HarnessErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

/** Thrown for bad input, always before anything reaches the kernel or a command. */
export class ValidationError extends HarnessError {
  override name = 'ValidationError';
  /** The offending field, e.g. `src`, `dport`, `zone`, `netns`. */
  readonly field: string;
  readonly value: unknown;

  constructor(code: HarnessErrorCode, field: string, value: unknown, message: string) {
    super(code, message);
    this.field = field;
    this.value = value;
  }
}

export function isHarnessError(error: unknown, code?: HarnessErrorCode): error is HarnessError {
  return error instanceof HarnessError && (code === undefined || error.code === code);
}
