// Proves what a CI VM gets from a run: doctor passes, versions, skip reasons and a failing test's namespace
// state reach the JUnit file (the state once), GitHub Actions gets one annotation per failure and a step
// summary, a machine that cannot run says why first and alone, and `--shard=1/2` + `--shard=2/2` cover
// every test exactly once.
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stripVTControlCharacters } from 'node:util';
import { test as plainTest } from 'vitest';
import { EXIT_CANNOT_RUN } from '../../harness/fixtures/cannot-run.ts';
import { DIAGNOSTICS_ERROR, SKIP_REASON, annotateSkipReason } from '../../harness/fixtures/diagnostics.ts';
import { describe, expect, requireKernel } from '../../harness/fixtures/index.ts';
import { collectEnvironment } from '../../harness/os/doctor.ts';
import { execute, isRoot } from '../../harness/os/execute.ts';
import { netnsList } from '../../harness/os/ip.ts';
import { readSession, sessionOfNetns } from '../../harness/os/session.ts';
import { FAILING_TESTS, MARKER } from '../fixtures-failing/markers.ts';
import { scratchDir } from '../support/scratch.ts';
import { NO_CAPS } from '../support/privileges.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const VITEST = join(dirname(createRequire(import.meta.url).resolve('vitest/package.json')), 'vitest.mjs');
const FIXTURE_CONFIG = 'suites/fixtures-failing/vitest.config.ts';
const FIXTURE_FILE = 'suites/fixtures-failing/kernel-failure.fixture.ts';
/** Per child run, and per test that runs children one after another (a unit shard takes 30 s on a busy VM). */
const CHILD_TIMEOUT_MS = 240_000;

// Kernel-gated tests here create no fixture namespace themselves: they skip (or fail in CI) like
// one, before their body runs (an automatic fixture).
const test = plainTest.extend<{ kernel: void }>({
  kernel: [async ({ skip, annotate }, use) => {
    await annotateSkipReason(annotate);
    requireKernel(skip);
    await use();
  }, { auto: true }],
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

/** Variables that point at this run's own reports (or GitHub's): a child run never inherits them. */
const REPORT_ENV = ['GITHUB_ACTIONS', 'GITHUB_STEP_SUMMARY', 'GITHUB_WORKSPACE', 'CTH_REPORT_DIR', 'CTH_BLOB_REPORT', 'CTH_SHARD'];

/**
 * Runs vitest in a child process from the repository root, without this run's report variables;
 * unprivileged ones also without CI. `env` sets variables for the child.
 */
async function childVitest(args: string[], options: { unprivileged?: boolean; env?: Record<string, string> } = {}) {
  const unset = [...REPORT_ENV, ...(options.unprivileged ? ['CI'] : [])].flatMap((name) => ['-u', name]);
  const set = Object.entries(options.env ?? {}).map(([name, value]) => `${name}=${value}`);
  const argv = ['env', ...unset, ...set, process.execPath, VITEST, ...args];
  return execute(options.unprivileged ? [...NO_CAPS, ...argv] : argv, { checkExitCode: false, timeout: CHILD_TIMEOUT_MS });
}

/** Every `::error` workflow command a run printed, with its properties and message decoded. */
function annotations(stdout: string): Array<{ line: string; props: Record<string, string>; message: string }> {
  const decode = (v: string) => v.replace(/%0A/g, '\n').replace(/%0D/g, '\r').replace(/%3A/g, ':').replace(/%2C/g, ',').replace(/%25/g, '%');
  return stdout.split('\n').filter((l) => l.startsWith('::error')).map((line) => {
    const m = /^::error(?: ([^:]*))?::(.*)$/.exec(line);
    const props = Object.fromEntries((m?.[1] ?? '').split(',').filter(Boolean).map((kv) => {
      const i = kv.indexOf('=');
      return [kv.slice(0, i), decode(kv.slice(i + 1))];
    }));
    return { line, props, message: decode(m?.[2] ?? '') };
  });
}

function occurrences(text: string, part: string): number {
  return text.split(part).length - 1;
}

/** The text of a JUnit test case a reader sees: every failure's message and body. */
function caseText(c: JUnitCase): string {
  return c.failures.map((f) => `${f.message}\n${f.body}`).join('\n');
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

  test('doctor passes on a machine that runs the kernel suites', async () => {
    const { stdout, exitCode } = await execute([process.execPath, join(ROOT, 'bin/conntrack-harness.js'), 'doctor', '--json'],
      { checkExitCode: false, timeout: 60_000 });
    const report = JSON.parse(stdout) as { ok: boolean; checks: Array<{ name: string; ok: boolean; required: boolean; detail: string }> };
    expect(report.checks.filter((c) => c.required && !c.ok)).toEqual([]);
    expect(report.ok).toBe(true);
    expect(exitCode).toBe(0);
    expect(report.checks.map((c) => c.name)).toEqual(expect.arrayContaining(['root', 'netns:create', 'kernel:ctnetlink', 'kernel:zones', 'kernel:zone-filter', 'node', 'tool:conntrack']));
  });

  test("a failing kernel test's JUnit failure carries its namespace's conntrack table, addresses and ruleset, once", async () => {
    const dir = scratchDir('cth-junit-');
    const junit = join(dir, 'junit.xml');
    const run = await childVitest(['run', '--config', FIXTURE_CONFIG, '--reporter=junit', `--outputFile.junit=${junit}`]);
    expect(run.exitCode, run.stderr).toBe(1);
    const cases = parseJUnit(readFileSync(junit, 'utf8'));
    expect(cases.map((c) => c.name)).toEqual([FAILING_TESTS.assertion, FAILING_TESTS.command]);
    const [withEntry, empty] = cases;
    expect(withEntry!.failures.map((f) => f.type)).toEqual(['AssertionError', DIAGNOSTICS_ERROR]);
    const diagnostics = withEntry!.failures[1]!;
    // The message is one line that says what there is; the body has the sections, once.
    expect(diagnostics.message).toMatch(/^state of netns cth-[a-z0-9-]+ when the test failed: 1 conntrack entry, 2 addresses, nftables ruleset of 2 lines$/);
    const body = diagnostics.body;
    const entry = body.split('\n').find((l) => l.includes(`src=${MARKER.src}`));
    expect(entry, body).toBeDefined();
    expect(entry).toContain(`sport=${MARKER.sport} dport=${MARKER.dport}`);
    expect(entry).toMatch(/ zone=\d+ /);
    expect(body).toContain('--- addresses: ip addr ---');
    expect(body).toMatch(/^1: lo: /m);
    expect(body).toContain(`table inet ${MARKER.nftTable}`);
    expect(body).toMatch(/^kernel \d+\.\d+\S*, node \d+/m);
    expect(occurrences(caseText(withEntry!), `src=${MARKER.src}`)).toBe(1);
    expect(occurrences(caseText(withEntry!), `table inet ${MARKER.nftTable}`)).toBe(1);
    expect(occurrences(caseText(withEntry!), '1: lo: ')).toBe(1);

    // A command that fails: its error says the argv and stderr; an empty table and ruleset are one line each.
    expect(empty!.failures.map((f) => f.type)).toEqual(['CommandError', DIAGNOSTICS_ERROR]);
    expect(empty!.failures[0]!.message).toMatch(new RegExp(`^ip netns exec cth-[a-z0-9-]+ nft list table inet ${MARKER.missingTable}: exit code 1\nstderr:\n`));
    expect(empty!.failures[1]!.message).toMatch(/: conntrack table empty, 2 addresses, nftables ruleset empty$/);
    expect(empty!.failures[1]!.body).toContain('\nconntrack table: empty (conntrack -L -o extended,id)\n');
    expect(empty!.failures[1]!.body.trimEnd()).toMatch(/\nnftables ruleset: empty \(nft list ruleset\)$/);
    expect(empty!.failures[1]!.body).not.toContain('--- conntrack table');
    // The command's output fields are not serialized again under the message (CommandError.toJSON).
    expect(empty!.failures[0]!.body).not.toMatch(/Serialized Error: .*(stdout|argv)/);

    // The child cleaned up after itself: its namespaces and its session are gone.
    const ns = /state of netns (cth-[a-z0-9-]+) when the test failed/.exec(diagnostics.message)?.[1];
    expect(ns).toBeDefined();
    const session = sessionOfNetns(ns!);
    expect((await netnsList()).filter((n) => session !== undefined && n.startsWith(`cth-${session}-`))).toEqual([]);
    expect(readSession(session!)).toBeUndefined();
  });

  test('in GitHub Actions, failing kernel tests give one annotation each, JUnit with the state once, and a step summary', async () => {
    const dir = scratchDir('cth-gha-');
    const summaryFile = join(dir, 'step-summary.md');
    // No --reporter flags: the reporters are the config's, as `npm test` and ci/run.sh get them.
    const run = await childVitest(['run', '--config', FIXTURE_CONFIG], {
      env: { CI: 'true', GITHUB_ACTIONS: 'true', GITHUB_STEP_SUMMARY: summaryFile, CTH_REPORT_DIR: dir },
    });
    expect(run.exitCode, run.stderr).toBe(1);

    const found = annotations(run.stdout);
    expect(found.filter((a) => a.line.startsWith('::error file=')), run.stdout).toHaveLength(2);
    for (const name of Object.values(FAILING_TESTS)) {
      expect(found.filter((a) => a.props.title === `[fixtures-failing] ${FIXTURE_FILE} > ${name}`), run.stdout).toHaveLength(1);
    }
    const [assertion, command] = found;
    // Paths relative to the workspace, where the error was thrown: the assertion in the fixture,
    // the command in execute() (its stack, in the message, goes on to the fixture's line).
    expect(assertion!.props).toMatchObject({ file: FIXTURE_FILE, line: '9' });
    expect(assertion!.message).toMatch(/^AssertionError: deliberate failure/);
    expect(command!.props.file).toBe('harness/os/execute.ts');
    expect(command!.message).toMatch(/^CommandError: ip netns exec \S+ nft list table inet /);
    expect(command!.message).toContain(`${FIXTURE_FILE}:`);
    expect(run.stdout).not.toContain(DIAGNOSTICS_ERROR);

    const cases = parseJUnit(readFileSync(join(dir, 'junit.xml'), 'utf8'));
    expect(cases).toHaveLength(2);
    for (const c of cases) {
      expect(c.failures.filter((f) => f.type === DIAGNOSTICS_ERROR)).toHaveLength(1);
      expect(occurrences(caseText(c), '1: lo: ')).toBe(1);
      expect(occurrences(caseText(c), '--- addresses: ip addr ---')).toBe(1);
    }
    expect(occurrences(caseText(cases[0]!), `src=${MARKER.src}`)).toBe(1);

    const summary = readFileSync(summaryFile, 'utf8');
    expect(summary).toContain('### conntrack-harness tests failed');
    expect(summary).toContain('| 2 | 0 | 2 | 0 | 1 (1 failed) |');
    for (const name of Object.values(FAILING_TESTS)) expect(summary).toContain(`- \`${FIXTURE_FILE}\` › ${name}: `);
    expect(summary).toMatch(/^\*\*Versions\*\*: kernel \d+\.\d+\S*, node \d+\S*, conntrack-tools /m);
  });

  test('skip reasons reach the JUnit file as properties and the step summary (a child run without the capabilities)', async ({ skip }) => {
    skip(!isRoot(), 'dropping capabilities for the child needs root');
    const dir = scratchDir('cth-skip-');
    const junit = join(dir, 'junit.xml');
    const summaryFile = join(dir, 'step-summary.md');
    const run = await childVitest(['run', '--config', FIXTURE_CONFIG, '--reporter=junit', `--outputFile.junit=${junit}`], { unprivileged: true });
    expect(run.exitCode, run.stderr).toBe(0);
    const cases = parseJUnit(readFileSync(junit, 'utf8'));
    expect(cases).toHaveLength(Object.keys(FAILING_TESTS).length);
    for (const c of cases) {
      expect(c.skipped).toBe(true);
      expect(c.properties.find((p) => p.name === SKIP_REASON)?.value).toMatch(/^root: uid 0 but CAP_NET_ADMIN and CAP_SYS_ADMIN not effective.*\(fix: sudo npm test/);
    }
    // The same skips, through the config's reporters with a step summary.
    const again = await childVitest(['run', '--config', FIXTURE_CONFIG], { unprivileged: true, env: { GITHUB_STEP_SUMMARY: summaryFile } });
    expect(again.exitCode, again.stderr).toBe(0);
    const summary = readFileSync(summaryFile, 'utf8');
    expect(summary).toContain('### conntrack-harness tests passed');
    expect(summary).toContain('| 2 | 0 | 0 | 2 | 1 |');
    expect(summary).toMatch(/^\| 2 \| root: uid 0 but CAP_NET_ADMIN and CAP_SYS_ADMIN not effective .*\|$/m);
  });

  test('with CI set and no privileges, the reason is the first thing printed, alone', async ({ skip }) => {
    skip(!isRoot(), 'dropping capabilities for the child needs root');
    const dir = scratchDir('cth-cannot-');
    const summaryFile = join(dir, 'step-summary.md');
    const run = await childVitest(['run', '--config', FIXTURE_CONFIG], {
      unprivileged: true, env: { CI: 'true', GITHUB_STEP_SUMMARY: summaryFile, CTH_REPORT_DIR: dir },
    });
    expect(run.exitCode, `${run.stdout}\n${run.stderr}`).toBe(EXIT_CANNOT_RUN);
    const errLines = run.stderr.split('\n').filter((l) => l.trim() !== '');
    expect(errLines, run.stderr).toHaveLength(1);
    expect(errLines[0]).toMatch(/^conntrack-harness: kernel suites cannot run and CI is set: root: uid 0 but CAP_NET_ADMIN and CAP_SYS_ADMIN not effective .*\(fix: sudo npm test/);
    // stdout has vitest's banner only (printed before the global setup runs).
    const outLines = stripVTControlCharacters(run.stdout).split('\n').filter((l) => l.trim() !== '');
    expect(outLines, run.stdout).toHaveLength(1);
    expect(outLines[0]).toMatch(/^\s*RUN\s+v\d/);
    for (const noise of ['No test files found', 'Unhandled Error', 'global-setup.ts:', 'node_modules/vitest']) {
      expect(`${run.stdout}${run.stderr}`).not.toContain(noise);
    }
    expect(readFileSync(summaryFile, 'utf8')).toMatch(/^### conntrack-harness: kernel suites cannot run\n\nroot: uid 0 but CAP_NET_ADMIN/);
    // No test ran, so no JUnit report has anything in it.
    const junit = join(dir, 'junit.xml');
    expect(existsSync(junit) ? readFileSync(junit, 'utf8') : '').toBe('');
  });

  test('--shard=1/2 and --shard=2/2 together list every test exactly once', { timeout: CHILD_TIMEOUT_MS }, async () => {
    const [all, first, second] = await Promise.all([listTests(), listTests(['--shard=1/2']), listTests(['--shard=2/2'])]);
    expect(all.length).toBeGreaterThan(0);
    expect(first.length).toBeGreaterThan(0);
    expect(second.length).toBeGreaterThan(0);
    expect(first.filter((k) => second.includes(k))).toEqual([]);
    expect(counts([...first, ...second])).toEqual(counts(all));
  });

  test('--shard=1/2 and --shard=2/2 runs of the unit project run every unit test exactly once', { timeout: CHILD_TIMEOUT_MS }, async () => {
    const dir = scratchDir('cth-shard-');
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
  });
});
