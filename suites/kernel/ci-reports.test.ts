// Proves what a CI VM gets from a run: doctor passes, versions, skip reasons and a failing test's namespace
// state reach the JUnit file, and `--shard=1/2` + `--shard=2/2` cover every test exactly once.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test as plainTest } from 'vitest';
import { DIAGNOSTICS_ERROR, SKIP_REASON, annotateSkipReason } from '../../harness/fixtures/diagnostics.ts';
import { describe, expect, requireKernel } from '../../harness/fixtures/index.ts';
import { collectEnvironment } from '../../harness/os/doctor.ts';
import { execute, isRoot } from '../../harness/os/execute.ts';
import { netnsList } from '../../harness/os/ip.ts';
import { readSession, sessionOfNetns } from '../../harness/os/session.ts';
import { MARKER } from '../fixtures-failing/markers.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const VITEST = join(dirname(createRequire(import.meta.url).resolve('vitest/package.json')), 'vitest.mjs');
const FIXTURE_CONFIG = 'suites/fixtures-failing/vitest.config.ts';
const CHILD_TIMEOUT_MS = 240_000;
/** Root without CAP_NET_ADMIN and CAP_SYS_ADMIN: unprivileged for the harness, yet able to read any checkout. */
const NO_CAPS = ['setpriv', '--inh-caps=-net_admin,-sys_admin', '--bounding-set=-net_admin,-sys_admin'];

// Kernel-gated tests here create no fixture namespace themselves: they skip (or fail in CI) like one.
const test = plainTest.extend<{ kernel: void }>({
  kernel: async ({ skip, annotate }, use) => {
    await annotateSkipReason(annotate);
    requireKernel(skip);
    await use();
  },
});

interface JUnitCase {
  name: string;
  skipped: boolean;
  failures: Array<{ type: string; message: string; body: string }>;
  properties: Array<{ name: string; value: string }>;
}

function unescapeXml(text: string): string {
  return text
    .replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&amp;/g, '&');
}

/** Just enough JUnit parsing for vitest's own output (no XML dependency for one test). */
function parseJUnit(xml: string): JUnitCase[] {
  const cases: JUnitCase[] = [];
  for (const m of xml.matchAll(/<testcase\b([^>]*)>([\s\S]*?)<\/testcase>/g)) {
    const attrs = m[1] ?? '';
    const inner = m[2] ?? '';
    cases.push({
      name: unescapeXml(/\bname="([^"]*)"/.exec(attrs)?.[1] ?? ''),
      skipped: /<skipped\s*\/>/.test(inner),
      failures: [...inner.matchAll(/<failure\b([^>]*)>([\s\S]*?)<\/failure>/g)].map((f) => ({
        type: unescapeXml(/\btype="([^"]*)"/.exec(f[1] ?? '')?.[1] ?? ''),
        message: unescapeXml(/\bmessage="([^"]*)"/.exec(f[1] ?? '')?.[1] ?? ''),
        body: unescapeXml(f[2] ?? ''),
      })),
      properties: [...inner.matchAll(/<property name="([^"]*)" value="([^"]*)">/g)].map((p) => ({
        name: unescapeXml(p[1] ?? ''), value: unescapeXml(p[2] ?? ''),
      })),
    });
  }
  return cases;
}

/** Runs vitest in a child process from the repository root (optionally unprivileged, without CI). */
async function childVitest(args: string[], options: { unprivileged?: boolean } = {}) {
  const argv = [process.execPath, VITEST, ...args];
  const full = options.unprivileged ? [...NO_CAPS, 'env', '-u', 'CI', ...argv] : argv;
  return execute(full, { checkExitCode: false, timeout: CHILD_TIMEOUT_MS });
}

interface ListedTest { name: string; file: string; projectName?: string }

async function listTests(extra: string[] = []): Promise<string[]> {
  const { stdout, stderr, exitCode } = await childVitest(['list', '--json', ...extra]);
  if (exitCode !== 0) throw new Error(`vitest list ${extra.join(' ')} exited ${exitCode}: ${stderr}`);
  const json = stdout.slice(stdout.indexOf('['));
  return (JSON.parse(json) as ListedTest[]).map((t) => `${t.projectName ?? ''} | ${t.file} | ${t.name}`);
}

function counts(keys: readonly string[]): Map<string, number> {
  const map = new Map<string, number>();
  for (const k of keys) map.set(k, (map.get(k) ?? 0) + 1);
  return map;
}

describe('CI reports', () => {
  plainTest('kernel and tool versions are recorded in the report', async ({ annotate }) => {
    const env = await collectEnvironment();
    expect(env.kernel).toMatch(/^\d+\.\d+/);
    await annotate(env.kernel, 'kernel');
    await annotate(env.node, 'node');
    for (const [label, version] of Object.entries(env.tools)) await annotate(version ?? 'missing', label);
  });

  plainTest('.github/workflows/ci.yml is the same as ci/github-workflow.yml', () => {
    expect(readFileSync(join(ROOT, '.github/workflows/ci.yml'), 'utf8')).toBe(readFileSync(join(ROOT, 'ci/github-workflow.yml'), 'utf8'));
  });

  test('doctor passes on a machine that runs the kernel suites', async ({ kernel }) => {
    void kernel;
    const { stdout, exitCode } = await execute([process.execPath, join(ROOT, 'bin/conntrack-harness.js'), 'doctor', '--json'],
      { checkExitCode: false, timeout: 60_000 });
    const report = JSON.parse(stdout) as { ok: boolean; checks: Array<{ name: string; ok: boolean; required: boolean; detail: string }> };
    expect(report.checks.filter((c) => c.required && !c.ok)).toEqual([]);
    expect(report.ok).toBe(true);
    expect(exitCode).toBe(0);
    expect(report.checks.map((c) => c.name)).toEqual(expect.arrayContaining(['root', 'netns:create', 'kernel:ctnetlink', 'kernel:zones', 'kernel:zone-filter', 'node', 'tool:conntrack']));
  });

  test("a failing kernel test's JUnit failure carries its namespace's conntrack table, addresses and ruleset", async ({ kernel }) => {
    void kernel;
    const dir = mkdtempSync(join(tmpdir(), 'cth-junit-'));
    try {
      const junit = join(dir, 'junit.xml');
      const run = await childVitest(['run', '--config', FIXTURE_CONFIG, '--reporter=junit', `--outputFile.junit=${junit}`]);
      expect(run.exitCode, run.stderr).toBe(1);
      const cases = parseJUnit(readFileSync(junit, 'utf8'));
      expect(cases).toHaveLength(1);
      const [failed] = cases;
      expect(failed!.failures.map((f) => f.type)).toEqual(['AssertionError', DIAGNOSTICS_ERROR]);
      const diagnostics = failed!.failures[1]!.body;
      const entry = diagnostics.split('\n').find((l) => l.includes(`src=${MARKER.src}`));
      expect(entry, diagnostics).toBeDefined();
      expect(entry).toContain(`sport=${MARKER.sport} dport=${MARKER.dport}`);
      expect(entry).toMatch(/ zone=\d+ /);
      expect(diagnostics).toContain('--- addresses: ip addr ---');
      expect(diagnostics).toMatch(/^1: lo: /m);
      expect(diagnostics).toContain(`table inet ${MARKER.nftTable}`);
      expect(diagnostics).toMatch(/^kernel \d+\.\d+\S*, node \d+/m);
      // The child cleaned up after itself: its namespace and its session are gone.
      const ns = /state of netns (cth-[a-z0-9-]+) when the test failed/.exec(diagnostics)?.[1];
      expect(ns).toBeDefined();
      const session = sessionOfNetns(ns!);
      expect((await netnsList()).filter((n) => session !== undefined && n.startsWith(`cth-${session}-`))).toEqual([]);
      expect(readSession(session!)).toBeUndefined();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('skip reasons reach the JUnit file as properties (a child run without the capabilities)', async ({ kernel, skip }) => {
    void kernel;
    skip(!isRoot(), 'dropping capabilities for the child needs root');
    const dir = mkdtempSync(join(tmpdir(), 'cth-skip-'));
    try {
      const junit = join(dir, 'junit.xml');
      const run = await childVitest(['run', '--config', FIXTURE_CONFIG, '--reporter=junit', `--outputFile.junit=${junit}`], { unprivileged: true });
      expect(run.exitCode, run.stderr).toBe(0);
      const [skipped] = parseJUnit(readFileSync(junit, 'utf8'));
      expect(skipped?.skipped).toBe(true);
      const reason = skipped?.properties.find((p) => p.name === SKIP_REASON)?.value;
      expect(reason).toMatch(/^root: uid 0 but CAP_NET_ADMIN and CAP_SYS_ADMIN not effective.*\(fix: sudo npm test/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('--shard=1/2 and --shard=2/2 together list every test exactly once', async ({ kernel }) => {
    void kernel;
    const [all, first, second] = await Promise.all([listTests(), listTests(['--shard=1/2']), listTests(['--shard=2/2'])]);
    expect(all.length).toBeGreaterThan(0);
    expect(first.length).toBeGreaterThan(0);
    expect(second.length).toBeGreaterThan(0);
    expect(first.filter((k) => second.includes(k))).toEqual([]);
    expect(counts([...first, ...second])).toEqual(counts(all));
  });

  test('--shard=1/2 and --shard=2/2 runs of the unit project run every unit test exactly once', async ({ kernel }) => {
    void kernel;
    const dir = mkdtempSync(join(tmpdir(), 'cth-shard-'));
    try {
      const runShard = async (shard: string) => {
        const out = join(dir, `${shard.replace('/', '-')}.json`);
        const run = await childVitest(['run', '--project', 'unit', `--shard=${shard}`, '--reporter=json', `--outputFile.json=${out}`]);
        expect(run.exitCode, run.stderr).toBe(0);
        const report = JSON.parse(readFileSync(out, 'utf8')) as {
          testResults: Array<{ name: string; assertionResults: Array<{ ancestorTitles: string[]; title: string }> }>;
        };
        return report.testResults.flatMap((file) =>
          file.assertionResults.map((t) => `unit | ${file.name} | ${[...t.ancestorTitles, t.title].join(' > ')}`));
      };
      const [first, second] = [await runShard('1/2'), await runShard('2/2')];
      const all = await listTests(['--project', 'unit']);
      expect(first.length).toBeGreaterThan(0);
      expect(second.length).toBeGreaterThan(0);
      expect(counts([...first, ...second])).toEqual(counts(all));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
