// Background processes (socat listeners, held-open clients) owned by a fixture: spawned with execa
// inside a namespace as argv, each in its own process group, and all SIGKILLed and awaited on dispose.
import type { ChildProcess } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { execa, type ResultPromise } from 'execa';
import { HarnessError, CommandError } from '../errors.ts';
import { effectiveArgv } from './execute.ts';
import { assertNetnsName } from './names.ts';
import { procStat } from './proc.ts';
import { Changes, notYet, ready, waitFor } from './wait.ts';

export interface SpawnOptions {
  /** The namespace to run in (`ip netns exec NAME ...`). Required: nothing runs in the host namespace. */
  netns: string;
  /** Give the process a stdin pipe (for clients fed by `write()`); otherwise stdin is /dev/null. */
  stdin?: boolean;
  /** The process is SIGKILLed after this many ms if nobody killed it before. Default 5 min. */
  lifetimeMs?: number;
}

export interface ExitStatus {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
}

const DEFAULT_LIFETIME_MS = 300_000;
const EXIT_WAIT_MS = 10_000;

/** Process groups spawnInGroup() started and releaseGroup() has not ended: SIGKILLed synchronously if this process exits first. */
const liveGroups = new Set<number>();
let exitHookInstalled = false;

/**
 * Starts `argv` (as effectiveArgv() made it) detached: a session and process group of its own, so
 * one kill(-pgid) also reaches whatever it forks. execa's own cleanup is off for detached
 * processes; the group is tracked instead, SIGKILLed if this process exits before releaseGroup().
 * An undefined pid means it did not start: the caller says so in its own terms.
 */
export function spawnInGroup(argv: readonly string[], options: { stdin: 'pipe' | 'ignore'; timeout?: number }): ResultPromise {
  const [file, ...args] = argv as [string, ...string[]];
  const subprocess = execa(file, args, {
    detached: true,
    stdin: options.stdin,
    stdout: 'pipe',
    stderr: 'pipe',
    buffer: false,
    reject: false,
    ...(options.timeout === undefined ? {} : { timeout: options.timeout }),
    killSignal: 'SIGKILL',
    env: { LC_ALL: 'C' },
  });
  if (subprocess.pid !== undefined) {
    liveGroups.add(subprocess.pid);
    if (!exitHookInstalled) {
      exitHookInstalled = true;
      process.once('exit', () => {
        for (const pgid of liveGroups) killGroup(pgid);
      });
    }
  }
  return subprocess;
}

/**
 * Ends a group spawnInGroup() started, once its leader has exited (or would not): SIGKILLs what is
 * left of it, since forked children can outlive the leader, and stops tracking it. Only a group
 * with members is killed: a pgid with members cannot be reused, so this never reaches another process.
 */
export function releaseGroup(pgid: number): void {
  if (groupMembers(pgid).length > 0) killGroup(pgid);
  liveGroups.delete(pgid);
}

/** SIGKILLs process group `pgid`; call it only while its leader has not been reaped (or through releaseGroup()). */
export function killGroup(pgid: number): void {
  try {
    process.kill(-pgid, 'SIGKILL');
  } catch {
    // the group is gone already
  }
}

/** Pids whose process group is `pgid` (field 5 of /proc/<pid>/stat); zombies only if asked. */
function groupMembers(pgid: number, withZombies = false): number[] {
  const members: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const fields = procStat(name); // undefined: exited while we looked
    if (fields && (withZombies || fields[0] !== 'Z') && Number(fields[2]) === pgid) members.push(Number(name));
  }
  return members;
}

/** `promise`, or `fallback` once `ms` have passed (the timer is cleared either way). */
export async function within<T, F>(promise: Promise<T>, ms: number, fallback: F): Promise<T | F> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([promise, new Promise<F>((resolve) => { timer = setTimeout(resolve, ms, fallback); })]);
  } finally {
    clearTimeout(timer);
  }
}

export class OwnedProcess {
  readonly argv: readonly string[];
  readonly netns: string;
  readonly pid: number;
  /** Resolves when the process has exited (never rejects). */
  readonly exited: Promise<ExitStatus>;
  #child: ChildProcess;
  #stdout = '';
  #stderr = '';
  #exit: ExitStatus | undefined;
  #settled: Promise<unknown>;
  /** Output and exit: what wakes waitForOutput/waitForExit. */
  readonly #changes = new Changes();

  /** @internal use ProcessGroup.spawn() */
  constructor(argv: readonly string[], options: SpawnOptions) {
    this.netns = assertNetnsName(options.netns);
    const full = effectiveArgv(argv, { netns: this.netns, runAsRoot: true });
    this.argv = full;
    // In a process group of its own, so kill() also reaches forked children (socat `fork`).
    const subprocess = spawnInGroup(full, { stdin: options.stdin ? 'pipe' : 'ignore', timeout: options.lifetimeMs ?? DEFAULT_LIFETIME_MS });
    this.#child = subprocess;
    this.#settled = subprocess.then(() => undefined, () => undefined);
    if (subprocess.pid === undefined) {
      throw new CommandError('ERR_COMMAND_FAILED', full, { reason: 'process did not start' });
    }
    this.pid = subprocess.pid;
    subprocess.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      this.#stdout += chunk;
      this.#changes.announce();
    });
    subprocess.stderr?.setEncoding('utf8').on('data', (chunk: string) => { this.#stderr += chunk; });
    subprocess.stdin?.on('error', () => {}); // EPIPE when the process died first: reported by write()
    this.exited = new Promise<ExitStatus>((resolve) => {
      const done = (exitCode: number | null, signal: NodeJS.Signals | null) => {
        this.#exit ??= { exitCode, signal };
        resolve(this.#exit);
        this.#changes.announce();
      };
      if (subprocess.exitCode !== null || subprocess.signalCode !== null) done(subprocess.exitCode, subprocess.signalCode);
      subprocess.once('exit', done);
      subprocess.once('error', () => done(subprocess.exitCode, subprocess.signalCode));
    });
  }

  get stdout(): string {
    return this.#stdout;
  }

  get stderr(): string {
    return this.#stderr;
  }

  /** Undefined while running. */
  get exitStatus(): ExitStatus | undefined {
    return this.#exit;
  }

  get running(): boolean {
    return this.#exit === undefined;
  }

  describe(): string {
    const status = this.#exit ? `exited (code ${this.#exit.exitCode}, signal ${this.#exit.signal})` : 'running';
    const err = this.#stderr.trim();
    return `${this.argv.join(' ')} [pid ${this.pid}, ${status}]${err ? `, stderr: ${err.slice(-400)}` : ''}`;
  }

  /** Writes to the process's stdin (spawned with `stdin: true`). */
  async write(text: string): Promise<void> {
    const stdin = this.#child.stdin;
    if (!stdin || !this.running || stdin.writableEnded) {
      throw new HarnessError('ERR_PROCESS_STDIN_CLOSED', `cannot write to ${this.describe()}: stdin is not open`);
    }
    await new Promise<void>((resolve, reject) => {
      stdin.write(text, (error) => (error ? reject(new HarnessError('ERR_PROCESS_STDIN_CLOSED',
        `writing to ${this.describe()} failed: ${error.message}`, { cause: error })) : resolve()));
    });
  }

  /** Closes stdin: the client sees EOF (socat then shuts its connection down cleanly). */
  endInput(): void {
    this.#child.stdin?.end();
  }

  /** Waits until stdout contains `text`; fails at once if the process exits without printing it. */
  async waitForOutput(text: string, timeoutMs = 10_000): Promise<void> {
    await waitFor(() => {
      if (this.#stdout.includes(text)) return ready(undefined);
      if (!this.running) {
        throw new HarnessError('ERR_PROCESS_EXITED', `${this.describe()} exited before printing ${JSON.stringify(text)}`);
      }
      return notYet(`stdout ${JSON.stringify(this.#stdout.slice(-200))} from ${this.describe()}`);
    }, { what: `${JSON.stringify(text)} on the stdout of ${this.argv.join(' ')}`, timeoutMs, wakeup: this.#changes.next });
  }

  /** Waits (bounded) for the process to exit by itself and returns how it exited. */
  async waitForExit(timeoutMs = 10_000): Promise<ExitStatus> {
    return waitFor(() => (this.#exit ? ready(this.#exit) : notYet(this.describe())),
      { what: `${this.argv.join(' ')} to exit`, timeoutMs, wakeup: this.#changes.next });
  }

  /** SIGKILLs the whole process group and waits until the process has exited. */
  async kill(): Promise<void> {
    if (this.running) {
      // Forked children first, while the leader lives to reap them (socat does on SIGCHLD): killed
      // together, an orphaned child stays a zombie until pid 1 gets round to it. Best effort.
      const children = groupMembers(this.pid).filter((pid) => pid !== this.pid);
      if (children.length > 0) {
        for (const pid of children) {
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            // gone already
          }
        }
        await waitFor(() => {
          const left = groupMembers(this.pid, true).filter((pid) => children.includes(pid));
          return left.length === 0 ? ready(undefined) : notYet(`pids ${left.join(', ')} still there`);
        }, { what: `forked children of ${this.argv.join(' ')} to be reaped`, timeoutMs: 2_000 }).catch(() => {});
      }
      killGroup(this.pid);
    }
    const exited = await within(this.exited.then(() => true), EXIT_WAIT_MS, false);
    // Forked children can outlive a leader that exited by itself.
    releaseGroup(this.pid);
    if (!exited) {
      throw new HarnessError('ERR_PROCESS_STUCK', `${this.describe()} did not exit within ${EXIT_WAIT_MS} ms of SIGKILL`);
    }
    // Let execa close its streams before the object is dropped.
    await within(this.#settled, 1000, undefined);
  }
}

/** The processes one fixture started; `killAll()` (or dispose) ends every one of them. */
export class ProcessGroup implements AsyncDisposable {
  readonly #processes: OwnedProcess[] = [];

  spawn(argv: readonly string[], options: SpawnOptions): OwnedProcess {
    const child = new OwnedProcess(argv, options);
    this.#processes.push(child);
    return child;
  }

  get processes(): readonly OwnedProcess[] {
    return this.#processes;
  }

  /** SIGKILLs every process (and its group) and awaits each exit; throws only after trying all. */
  async killAll(): Promise<void> {
    const results = await Promise.allSettled(this.#processes.map((p) => p.kill()));
    const failures = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => r.reason as unknown);
    if (failures.length > 0) throw new AggregateError(failures, `${failures.length} owned process(es) did not exit`);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.killAll();
  }
}
