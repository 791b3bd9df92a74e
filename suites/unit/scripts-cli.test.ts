// The command line of every script and of the bin's commands: --help exits 0 with a usage text,
// a bad argument exits 2 with one line on stderr and no stack, and neither gets as far as the
// kernel. Also: `sweep` refuses a non-root user in one line, and `stress` counts only the
// processes its own runs started.
import { execa, type ResultPromise } from 'execa';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { EXIT_FAILED, EXIT_OK, EXIT_USAGE, runCli, SWEEP_NEEDS_ROOT, type CliIO } from '../../harness/cli.ts';
import { isRoot } from '../../harness/os/execute.ts';
import { findExecutable } from '../../harness/os/prerequisites.ts';
import { processesOfRun, RUN_MARKER } from '../../scripts/stress.ts';

const root = new URL('../..', import.meta.url).pathname;
const TIMEOUT_MS = 60_000;

const NOT_COMMANDS: Record<string, string> = {
  'new-protocol.ts': 'its own suite (new-protocol.test.ts) covers it',
  'bench-measure.ts': 'a module the bench and its children import, not a command',
};
const scripts = readdirSync(join(root, 'scripts')).filter((f) => f.endsWith('.ts') && !(f in NOT_COMMANDS)).sort();

// Where real work cannot start: a PATH with nothing on it (no ip, conntrack, sudo, python3; node
// runs by its absolute path), so a script that reached for the kernel would fail with exit 1 and
// a CommandError, and a session directory of the test's own, which must stay empty.
let sandbox: string;
let env: Record<string, string>;
beforeAll(() => {
  sandbox = mkdtempSync(join(tmpdir(), 'cth-scripts-cli-'));
  mkdirSync(join(sandbox, 'empty-bin'));
  env = { PATH: join(sandbox, 'empty-bin'), CTH_SESSION_DIR: join(sandbox, 'sessions') };
});
afterAll(() => {
  // Nothing registered a session: no script got past its arguments.
  const sessions = join(sandbox, 'sessions');
  expect(existsSync(sessions) ? readdirSync(sessions) : []).toEqual([]);
  rmSync(sandbox, { recursive: true, force: true });
});

function runScript(script: string, args: readonly string[]) {
  return execa(process.execPath, ['--import', 'tsx', join('scripts', script), ...args], { cwd: root, env, reject: false, timeout: TIMEOUT_MS });
}

/** Exactly one non-empty line, and no stack frame in it. */
function expectOneLine(stderr: string): void {
  expect(stderr).toMatch(/^[^\n]+\n?$/);
  expect(stderr).not.toMatch(/^\s+at /m);
}

test('the scripts are found', () => {
  expect(scripts).toEqual(expect.arrayContaining(['bench.ts', 'stress.ts', 'sweep.ts', 'doctor.ts', 'compare.ts', 'test-vm.ts', 'bench-child.ts']));
});

describe.concurrent.each(scripts)('scripts/%s', (script) => {
  test('--help exits 0 with a usage text on stdout', async () => {
    const r = await runScript(script, ['--help']);
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/usage/i);
    expect(r.exitCode).toBe(EXIT_OK);
  }, TIMEOUT_MS);

  test('an unknown option exits 2 with one line on stderr', async () => {
    const r = await runScript(script, ['--no-such-option']);
    expectOneLine(r.stderr);
    expect(r.stderr).toContain("'--no-such-option'");
    expect(r.stdout).toBe('');
    expect(r.exitCode).toBe(EXIT_USAGE);
  }, TIMEOUT_MS);
});

describe.concurrent('bad values exit 2 with one line naming the argument', () => {
  const cases: Array<[string, string[], string]> = [
    ['bench.ts', ['--sizes', 'abc'], '--sizes'],
    ['bench.ts', ['--sizes', '1000,-5'], '--sizes'],
    ['bench.ts', ['--reps', '0'], '--reps'],
    ['bench.ts', ['--sizes'], '--sizes'],
    ['stress.ts', ['--runs', 'many'], '--runs'],
    ['stress.ts', ['--workers', '1.5'], '--workers'],
    ['compare.ts', ['lots'], 'PER_PROTOCOL'],
    ['conntrack-tools.ts', [], 'VERSION'],
    ['conntrack-tools.ts', ['9.9'], '9.9'],
    ['test-vm.ts', ['--kernel', '4.19'], '4.19'],
    ['test-vm.ts', ['--kernel', '6.1', '--timeout-minutes', 'ten'], '--timeout-minutes'],
    ['sweep.ts', ['extra'], 'extra'],
    ['bench-child.ts', ['cth-abcdef-1', 'zone'], 'ZONE'],
    ['bench-events-child.ts', ['cth-abcdef-1', '5'], 'NETNS ZONE N'],
  ];
  test.each(cases)('%s %j', async (script, args, named) => {
    const r = await runScript(script, args);
    expectOneLine(r.stderr);
    expect(r.stderr).toContain(named);
    expect(r.stderr).toMatch(/\(see --help\)$/);
    expect(r.exitCode).toBe(EXIT_USAGE);
  }, TIMEOUT_MS);
});

function capture(): CliIO & { out: string; err: string } {
  const io = { out: '', err: '', stdout: (t: string) => { io.out += t; }, stderr: (t: string) => { io.err += t; } };
  return io;
}

describe('conntrack-harness (runCli, in-process)', () => {
  test('--help and help exit 0 with the usage', async () => {
    for (const argv of [['--help'], ['-h'], ['help']]) {
      const io = capture();
      expect(await runCli(argv, io), argv.join(' ')).toBe(EXIT_OK);
      expect(io.out).toMatch(/^Usage: conntrack-harness <command>/);
      expect(io.err).toBe('');
    }
  });

  for (const name of ['doctor', 'sweep', 'list']) {
    test(`${name} --help exits 0; an unknown option exits 2 with one line`, async () => {
      const help = capture();
      expect(await runCli([name, '--help'], help)).toBe(EXIT_OK);
      expect(help.out).toMatch(new RegExp(`^Usage: conntrack-harness ${name}`));
      const bad = capture();
      expect(await runCli([name, '--no-such-option'], bad)).toBe(EXIT_USAGE);
      expectOneLine(bad.err);
      expect(bad.err).toBe(`conntrack-harness ${name}: Unknown option '--no-such-option' (see --help)\n`);
      expect(bad.out).toBe('');
    });
  }

  test('bad commands and values exit 2 with one line, before anything runs', async () => {
    const cases: Array<[string[], string]> = [
      [['--no-such-option'], 'conntrack-harness: unknown option "--no-such-option" (see --help)'],
      [['frobnicate'], 'conntrack-harness: unknown command "frobnicate" (see --help)'],
      [['help', 'frobnicate'], 'conntrack-harness: unknown command "frobnicate" (see --help)'],
      [['list'], 'conntrack-harness list: list needs --netns NAME (see --help)'],
      [['list', '--netns'], "conntrack-harness list: Option '--netns <value>' argument missing (see --help)"],
      [['list', '--netns', 'cth-abcdef-1', '--zone', 'five'], 'conntrack-harness list: --zone must be an integer 0..65535, got "five" (see --help)'],
      [['doctor', 'now'], "conntrack-harness doctor: Unexpected argument 'now' (see --help)"],
    ];
    for (const [argv, line] of cases) {
      const io = capture();
      expect(await runCli(argv, io), argv.join(' ')).toBe(EXIT_USAGE);
      expect(io.err, argv.join(' ')).toBe(`${line}\n`);
    }
  });
});

describe('sweep without root', () => {
  // As root, the test drops to nobody with setpriv (the checkout is world-readable); as anyone
  // else it is unprivileged already. The uid decides, as sweep itself does (see SWEEP_NEEDS_ROOT).
  const asRoot = isRoot();
  const setpriv = findExecutable('setpriv');
  const asNobody = (argv: string[]) => (asRoot ? [setpriv!, '--reuid=65534', '--regid=65534', '--clear-groups', ...argv] : argv);

  test.skipIf(asRoot && !setpriv).each([
    ['npm run sweep', [process.execPath, '--import', 'tsx', 'scripts/sweep.ts']],
    ['conntrack-harness sweep', [process.execPath, '--import', 'tsx', '--input-type=module', '-e',
      "const { runCli } = await import('./harness/cli.ts'); process.exitCode = await runCli(['sweep']);"]],
  ])('%s says it needs root in one line and exits 1', async (_, argv) => {
    const [file, ...args] = asNobody(argv);
    const r = await execa(file!, args, { cwd: root, env, reject: false, timeout: TIMEOUT_MS });
    expect(r.stderr).toBe(SWEEP_NEEDS_ROOT);
    expect(r.stdout).toBe('');
    expect(r.exitCode).toBe(EXIT_FAILED);
  }, TIMEOUT_MS);
});

describe('stress counts only its own runs\' processes', () => {
  test('a process carrying the run\'s marker counts, also once reparented; a socat of someone else does not', async () => {
    const runId = `test-${process.pid}-${Date.now()}`;
    // socat copying a stdin we hold open: alive until the test ends, no socket anywhere.
    const socat = (extra: Record<string, string>) => execa('socat', ['-u', 'STDIN', 'OPEN:/dev/null'], { stdin: 'pipe', env: extra, reject: false });
    const started: ResultPromise[] = [];
    let orphan: number | undefined;
    try {
      const foreign = socat({ [RUN_MARKER]: 'someone-else' });
      const unmarked = socat({});
      const own = socat({ [RUN_MARKER]: runId });
      started.push(foreign, unmarked, own);
      // A grandchild whose parent exits at once, as a leaked process's worker would: it is
      // reparented (init or a subreaper) and only the inherited marker still ties it to the run.
      const parent = await execa(process.execPath, ['-e',
        "const c = require('node:child_process').spawn('sleep', ['30'], { detached: true, stdio: 'ignore' }); c.unref(); console.log(c.pid);"],
      { env: { [RUN_MARKER]: runId }, timeout: TIMEOUT_MS });
      orphan = Number(parent.stdout.trim());
      const pids = processesOfRun(runId).map((p) => p.pid);
      expect(pids.sort()).toEqual([own.pid!, orphan].sort());
      expect(processesOfRun(runId).find((p) => p.pid === own.pid)?.command).toBe('socat -u STDIN OPEN:/dev/null');
      for (const other of [foreign, unmarked]) expect(pids).not.toContain(other.pid);
      expect(processesOfRun(`${runId}-2`)).toEqual([]);
    } finally {
      for (const p of started) p.kill('SIGKILL');
      await Promise.all(started);
      if (orphan !== undefined) {
        try {
          process.kill(orphan, 'SIGKILL');
        } catch {
          // gone already
        }
      }
    }
  });
});
