// The one way the harness runs a command: argv arrays through execa, a timeout on every call, and
// typed errors. Options mirror Neutron's `execute(run_as_root, check_exit_code, extra_ok_codes)`.
import { execa, ExecaError } from 'execa';
import { HarnessError, ValidationError, CommandError } from '../errors.ts';
import { assertNotHostNetns } from './hostguard.ts';
import { assertNetnsName } from './names.ts';

export interface ExecuteOptions {
  /** Prefix `sudo -n` when the process is not already root. Default false. */
  runAsRoot?: boolean;
  /** Throw a CommandError on a non-zero exit code not listed in `extraOkCodes`. Default true. */
  checkExitCode?: boolean;
  /** Exit codes that count as success besides 0 (e.g. `conntrack -D` exits 1 when nothing matched). */
  extraOkCodes?: readonly number[];
  /** Run inside this named network namespace (`ip netns exec NAME ...`). */
  netns?: string;
  /** Milliseconds before the command is killed. Default 30 s; there is always one. */
  timeout?: number;
  /** Written to the command's stdin. */
  input?: string;
}

export interface ExecuteResult {
  argv: readonly string[];
  exitCode: number;
  stdout: string;
  stderr: string;
}

export const DEFAULT_TIMEOUT_MS = 30_000;

export function isRoot(): boolean {
  return process.getuid?.() === 0;
}

/** The argv that really runs, with the `sudo -n` and `ip netns exec` prefixes applied. */
export function effectiveArgv(argv: readonly string[], options: ExecuteOptions = {}): string[] {
  if (argv.length === 0 || argv.some((a) => typeof a !== 'string')) {
    throw new ValidationError('ERR_INVALID_ARGUMENT', 'argv', argv, 'execute() needs a non-empty argv array of strings');
  }
  let full = [...argv];
  if (options.netns !== undefined) {
    assertNotHostNetns(assertNetnsName(options.netns));
    full = ['ip', 'netns', 'exec', options.netns, ...full];
  }
  if (options.runAsRoot && !isRoot()) full = ['sudo', '-n', ...full];
  return full;
}

export async function execute(argv: readonly string[], options: ExecuteOptions = {}): Promise<ExecuteResult> {
  const full = effectiveArgv(argv, options);
  const timeout = options.timeout ?? DEFAULT_TIMEOUT_MS;
  const [file, ...args] = full as [string, ...string[]];
  let exitCode: number;
  let stdout: string;
  let stderr: string;
  try {
    const result = await execa(file, args, {
      timeout,
      reject: false,
      stripFinalNewline: false,
      input: options.input,
      stdin: options.input === undefined ? 'ignore' : 'pipe',
      env: { LC_ALL: 'C' },
      killSignal: 'SIGKILL',
    });
    if (result.timedOut) {
      throw new CommandError('ERR_COMMAND_TIMEOUT', full, {
        reason: `timed out after ${timeout} ms`, stdout: result.stdout, stderr: result.stderr
      });
    }
    if (result.failed && result.exitCode === undefined) {
      const notFound = (result.cause as NodeJS.ErrnoException | undefined)?.code === 'ENOENT';
      throw new CommandError(notFound ? 'ERR_COMMAND_NOT_FOUND' : 'ERR_COMMAND_FAILED', full, {
        reason: notFound ? 'command not found' : (result.shortMessage ?? 'failed to start')
      });
    }
    exitCode = result.exitCode ?? -1;
    stdout = String(result.stdout ?? "");
    stderr = String(result.stderr ?? "");
    if ((options.checkExitCode ?? true) && exitCode !== 0 && !(options.extraOkCodes ?? []).includes(exitCode)) {
      throw new CommandError('ERR_COMMAND_FAILED', full, {
        reason: `exit code ${exitCode}`, exitCode, stdout, stderr
      });
    }
  } catch (error) {
    if (error instanceof HarnessError) throw error;
    throw new CommandError('ERR_COMMAND_FAILED', full, {
      reason: error instanceof ExecaError ? error.shortMessage : String(error)
    });
  }
  return { argv: full, exitCode, stdout, stderr };
}
