// `npm run stress -- [--runs N] [--workers W] [--shuffle] [--filter PATTERN]`: runs the whole vitest
// suite N times in a row and reports, per run, failures and what that run left behind: its
// namespaces, its session record, its processes (socat and the like). Anything else on the
// machine, another run's or a person's, is not counted. Exit code 1 if any run failed or leaked.
import { execa } from 'execa';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, realpathSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { positiveInt, scriptArgs } from '../harness/os/args.ts';
import { netnsList } from '../harness/os/ip.ts';
import { processStartTime } from '../harness/os/proc.ts';
import { listSessions, readSession, sessionOfNetns } from '../harness/os/session.ts';
import { notYet, ready, waitFor } from '../harness/os/wait.ts';

const HELP = `usage: npm run stress -- [--runs N] [--workers W] [--shuffle] [--filter PATTERN]

Runs the whole vitest suite (CI=true) N times in a row and prints, per run, its result and what it
left behind: namespaces of its session, its session record, processes it started. Needs root, as
the kernel suites do.

  --runs N          how many runs (default 5)
  --workers W       vitest --maxWorkers (default 2)
  --shuffle         vitest --sequence.shuffle
  --filter PATTERN  only test files matching PATTERN (vitest's file filter)
  -h, --help        show this help

Exit codes: 0 every run passed and left nothing, 1 a run failed or leaked, 2 bad usage.`;

/** The variable each run's vitest gets; every process below it inherits it. */
export const RUN_MARKER = 'CTH_STRESS_RUN';

/**
 * The live processes started by stress run `runId`: those whose environment holds
 * CTH_STRESS_RUN=<runId>. Why the environment: it is inherited through every fork and exec
 * (vitest's workers, execa's children, `ip netns exec`, socat's forks) and fixed at exec, so it
 * still names the run after the process was reparented to init because its worker died (the very
 * case of a leak, where walking parent pids finds nothing) and after its namespace was deleted
 * under it (where a namespace name finds nothing). No one else's process carries it. Blind spot:
 * `sudo` resets the environment, so a non-root run's sudo'd children are not seen (nor could a
 * non-root stress read their /proc/<pid>/environ); the kernel suites run as root.
 */
export function processesOfRun(runId: string): Array<{ pid: number; command: string }> {
  const marker = `${RUN_MARKER}=${runId}`;
  const found: Array<{ pid: number; command: string }> = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    try {
      if (!readFileSync(`/proc/${name}/environ`, 'utf8').split('\0').includes(marker)) continue;
      found.push({ pid: Number(name), command: readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0').join(' ').trim() });
    } catch {
      // gone while we looked, or not ours to read (another user's): not this run's either way
    }
  }
  return found;
}

/** What run `runId` (whose vitest registered `sessions`) left behind once its vitest exited. */
async function leftovers(runId: string, sessions: ReadonlySet<string>): Promise<string[]> {
  const leaks: string[] = [];
  for (const name of await netnsList()) {
    const id = sessionOfNetns(name);
    if (id !== undefined && sessions.has(id)) leaks.push(`namespace ${name}`);
  }
  for (const id of sessions) if (readSession(id)) leaks.push(`session record ${id}`);
  // A process SIGKILLed by vitest's exit hook may still be going: what is there after a second counts.
  const gone = () => {
    const left = processesOfRun(runId);
    return left.length === 0 ? ready(left) : notYet(`${left.length} process(es) left`);
  };
  const processes = await waitFor(gone, { what: `the processes of run ${runId} to exit`, timeoutMs: 1000 }).catch(() => processesOfRun(runId));
  for (const p of processes) leaks.push(`process ${p.pid} ${p.command}`);
  return leaks;
}

async function main(): Promise<number> {
  const { runs, workers, shuffle, filter } = scriptArgs({
    name: 'stress', help: HELP,
    options: {
      runs: { type: 'string', default: '5' },
      workers: { type: 'string', default: '2' },
      shuffle: { type: 'boolean', default: false },
      filter: { type: 'string' },
    },
    check: ({ values }) => ({
      runs: positiveInt('--runs', values.runs), workers: positiveInt('--workers', values.workers),
      shuffle: values.shuffle, filter: values.filter,
    }),
  });
  const args = ['node_modules/vitest/vitest.mjs', 'run', `--maxWorkers=${workers}`, '--reporter=dot'];
  if (shuffle) args.push('--sequence.shuffle');
  if (filter) args.push(filter);
  const stressId = randomBytes(3).toString('hex');
  let failures = 0;
  let leaking = 0;
  for (let i = 1; i <= runs; i++) {
    console.log(`stress: run ${i} of ${runs} started`);
    const runId = `${stressId}-${i}`;
    const t0 = performance.now();
    const child = execa(process.execPath, args, { reject: false, all: true, timeout: 1_800_000, env: { CI: 'true', [RUN_MARKER]: runId } });
    // The session vitest's globalSetup registers is owned by this child's pid (and start time):
    // collected while it runs, since a clean run removes its record at the end.
    const startTime = child.pid === undefined ? undefined : processStartTime(child.pid);
    const sessions = new Set<string>();
    const collect = () => {
      for (const r of listSessions()) if (r.pid === child.pid && r.startTime === startTime) sessions.add(r.id);
    };
    const watching = setInterval(collect, 500);
    const run = await child;
    clearInterval(watching);
    collect();
    const seconds = ((performance.now() - t0) / 1000).toFixed(1);
    const summary = /Tests\s+(.*)/.exec(run.all?.replace(/\x1b\[[0-9;]*m/g, '') ?? '')?.[1]?.trim() ?? 'no summary';
    const leaks = await leftovers(runId, sessions);
    if (run.exitCode !== 0) failures++;
    if (leaks.length > 0) leaking++;
    console.log(`run ${i} of ${runs}: ${run.exitCode === 0 ? 'pass' : `FAIL (exit ${run.exitCode})`} in ${seconds} s; ${summary}; leaks: ${leaks.length === 0 ? 'none' : leaks.join(', ')}`);
    if (run.exitCode !== 0) console.log(run.all?.split('\n').filter((l) => /FAIL|Error|×/.test(l)).slice(0, 20).join('\n'));
  }
  console.log(`stress: ${runs} runs, ${failures} failed, ${leaking} leaked (workers ${workers}${shuffle ? ', shuffled' : ''})`);
  return failures > 0 || leaking > 0 ? 1 : 0;
}

// Run only as a script: the test suite imports processesOfRun from here.
const invoked = (() => {
  try {
    return process.argv[1] !== undefined && realpathSync(process.argv[1]) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
})();
if (invoked) process.exitCode = await main();
