// Proves that failing traffic tests leave nothing behind: a child vitest runs deliberately failing
// tests (assertion, wait timeout, test timeout) with flows running; then none of their namespaces or processes remain.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, requireKernel, test } from '../../harness/fixtures/index.ts';
import { execute } from '../../harness/os/execute.ts';
import { netnsList } from '../../harness/os/ip.ts';
import { procStat } from '../../harness/os/proc.ts';
import { currentSession, readSession } from '../../harness/os/session.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const VITEST = join(ROOT, 'node_modules', 'vitest', 'vitest.mjs');
const CONFIG = join(ROOT, 'suites', 'fixtures-failing', 'traffic.vitest.config.ts');

interface FailReport {
  session: string;
  recorded: Array<{ test: string; namespaces: string[]; processes: Array<{ pid: number; startTime: string }> }>;
  left: Array<{ test: string; processes: number; namespacesLeft: string[]; processesAlive: number[] }>;
}

interface JsonResults {
  testResults: Array<{ assertionResults: Array<{ title: string; status: string; failureMessages: string[] }> }>;
}

/** True when `pid` is the very process recorded (same start time) and not a zombie. */
function stillRunning(pid: number, startTime: string): boolean {
  const fields = procStat(pid);
  return fields !== undefined && fields[0] !== 'Z' && fields[19] === startTime;
}

describe('traffic cleanup', () => {
  test('failing traffic tests leave no namespace and no process behind', { timeout: 180_000 }, async ({ skip }) => {
    requireKernel(skip);
    const dir = mkdtempSync(join(tmpdir(), 'cth-traffic-fail-'));
    try {
      const reportFile = join(dir, 'report.json');
      const resultsFile = join(dir, 'results.json');
      const junitFile = join(dir, 'junit.xml');
      // A clean environment: not this run's session, not this worker's vitest variables.
      const env = [`PATH=${process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin'}`, 'LC_ALL=C', `CTH_TRAFFIC_FAIL_REPORT=${reportFile}`];
      if (process.env.CI !== undefined) env.push(`CI=${process.env.CI}`);
      const run = await execute(
        ['env', '-i', ...env, process.execPath, VITEST, 'run', '--config', CONFIG, '--reporter=json', `--outputFile.json=${resultsFile}`,
          '--reporter=junit', `--outputFile.junit=${junitFile}`],
        { checkExitCode: false, timeout: 150_000 },
      );
      expect(run.exitCode, `child vitest: ${run.stderr.slice(-2000)}`).toBe(1);

      const results = JSON.parse(readFileSync(resultsFile, 'utf8')) as JsonResults;
      const outcome = new Map(results.testResults.flatMap((f) => f.assertionResults).map((a) => [a.title, a]));
      const assertion = outcome.get('fails an assertion while a TCP and a UDP flow are running')?.failureMessages.join('\n');
      expect(assertion).toMatch(/deliberate failure/);
      // The topology fixture attached the inspected namespace's state: one line in the message, the
      // sections (live flows, the zone's ruleset) in the report's body.
      expect(assertion).toMatch(/state of topology\.inspected cth-\S+ when the test failed: [1-9]\d* conntrack entr(y|ies), \d+ addresses, nftables ruleset of [1-9]\d* lines/);
      const junit = readFileSync(junitFile, 'utf8');
      const failedCase = /<testcase[^>]*name="[^"]*fails an assertion while a TCP and a UDP flow are running"[^>]*>([\s\S]*?)<\/testcase>/.exec(junit)?.[1] ?? '';
      const inspected = /<failure message="state of topology\.inspected[^"]*"[^>]*>([\s\S]*?)<\/failure>/.exec(failedCase)?.[1] ?? '';
      expect(inspected, junit.slice(0, 3000)).toMatch(/--- conntrack table[\s\S]*(tcp|udp) /);
      expect(inspected).toMatch(/table inet cth/);
      expect(outcome.get('fails in a wait that never ends')?.failureMessages.join('\n'))
        .toMatch(/WaitTimeoutError: timed out after \d+ ms .*waiting for something that never happens; last seen: the deliberate nothing/);
      expect(outcome.get('times out with a flow running')?.status).toBe('failed');
      expect(outcome.get('records what the failed tests left')?.status).toBe('passed');

      const report = JSON.parse(readFileSync(reportFile, 'utf8')) as FailReport;
      expect(report.session).toMatch(/^[a-z0-9]{6}$/);
      expect(report.session).not.toBe(currentSession().id);
      expect(report.recorded.map((r) => r.test)).toEqual(['assertion', 'wait', 'timeout']);
      for (const r of report.recorded) {
        // listener, its forked child for the connection, client (x2 flows in the first test)
        expect(r.processes.length, `${r.test}: processes running when it failed`).toBeGreaterThanOrEqual(3);
      }
      // Right after each failed test's teardown, inside the child run: the fixtures removed it all.
      expect(report.left).toEqual(report.recorded.map((r) => ({
        test: r.test, processes: r.processes.length, namespacesLeft: [], processesAlive: [],
      })));
      // And after the child run ended: no namespace of its session, no process, no session record.
      expect((await netnsList()).filter((name) => name.startsWith(`cth-${report.session}-`))).toEqual([]);
      const alive = report.recorded.flatMap((r) => r.processes).filter((p) => stillRunning(p.pid, p.startTime));
      expect(alive).toEqual([]);
      expect(readSession(report.session)).toBeUndefined();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
