// Tests of the test machinery: a broken protocol spec makes the generic suites fail (they cannot
// pass vacuously), and vitest's name filter selects exactly one protocol's suites.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execute } from '../../harness/os/execute.ts';
import { describe, expect, test } from '../../harness/fixtures/index.ts';
import { PROTOCOL_SPECS } from '../../harness/protocols/index.ts';

interface JsonReport {
  numTotalTests: number;
  numFailedTests: number;
  numPassedTests: number;
  testResults: Array<{ assertionResults: Array<{ fullName: string; status: string; failureMessages: string[] }> }>;
}

describe('meta', () => {
  test('a spec with wrong identity fields makes every generic case fail', async ({ netns }) => {
    void netns; // requires the kernel like the suites it runs
    const dir = mkdtempSync(join(tmpdir(), 'cth-meta-'));
    try {
      const out = join(dir, 'report.json');
      await execute(['npx', 'vitest', 'run', '--config', 'suites/meta/vitest.meta.config.ts', 'suites/meta/broken-spec.fixture.ts', '--reporter=json', `--outputFile=${out}`],
        { checkExitCode: false, timeout: 180_000 });
      const report = JSON.parse(readFileSync(out, 'utf8')) as JsonReport;
      const results = report.testResults.flatMap((r) => r.assertionResults);
      const cases = results.filter((r) => r.status !== 'skipped');
      expect(cases.length).toBeGreaterThanOrEqual(9 * 2);
      expect(cases.filter((r) => r.status === 'passed').map((r) => r.fullName)).toEqual([]);
      // It fails because the spec is wrong, not for some unrelated reason.
      for (const r of cases) {
        expect(r.failureMessages.join('\n')).toMatch(/distinct by the spec's identity fields/);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("`-t '^udp '` selects exactly the UDP suites, both families", async ({ netns }) => {
    void netns;
    const { stdout } = await execute(['npx', 'vitest', 'list', '--project', 'kernel', '-t', '^udp ', '--json'], { timeout: 120_000 });
    const names = (JSON.parse(stdout) as Array<{ name: string }>).map((t) => t.name);
    const udp = PROTOCOL_SPECS.find((s) => s.name === 'udp')!;
    expect(names.length).toBeGreaterThanOrEqual(9 * udp.families.length);
    expect(names.every((n) => n.startsWith('udp '))).toBe(true);
    expect(new Set(names.map((n) => n.split(' ')[1]))).toEqual(new Set(udp.families));
  });
});
