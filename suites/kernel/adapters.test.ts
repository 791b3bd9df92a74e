// The process adapter (harness/conntrack/adapter.ts) against deliberately broken adapters
// (suites/support/adapters/): each failure is a typed error naming the adapter and quoting its
// stderr, and leaves no process and no namespace behind; UNSUPPORTED skips, never passes; and a
// real adapter run with a deliberate bug fails the cases that bug breaks.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openAdapter } from '../../harness/conntrack/adapter.ts';
import { REFERENCE_ADAPTERS } from '../../harness/conntrack/variants.ts';
import { normalizeKey } from '../../harness/conntrack/entry.ts';
import { AdapterError } from '../../harness/errors.ts';
import { describe, expect, requireKernel, test } from '../../harness/fixtures/index.ts';
import { execute } from '../../harness/os/execute.ts';
import { netnsPids } from '../../harness/os/ip.ts';
import { Netns, netnsExists } from '../../harness/os/netns.ts';
import { procStat } from '../../harness/os/proc.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const ADAPTERS = join(ROOT, 'suites', 'support', 'adapters');
const VITEST = join(ROOT, 'node_modules', 'vitest', 'vitest.mjs');
const NFCT_ADAPTER = REFERENCE_ADAPTERS['nfct-ctypes']!;

/** Skips unless the nfct-ctypes adapter can run here (python3 with libnetfilter_conntrack.so.3). */
async function requireNfct(skip: (why: string) => never): Promise<void> {
  if (!existsSync(NFCT_ADAPTER)) skip(`${NFCT_ADAPTER} does not exist`);
  const probe = await execute(['python3', '-c', 'import ctypes; ctypes.CDLL("libnetfilter_conntrack.so.3")'], { checkExitCode: false })
    .catch((error: unknown) => ({ exitCode: -1, stderr: String(error) }));
  if (probe.exitCode !== 0) skip(`python3 with libnetfilter_conntrack.so.3 is needed: ${probe.stderr.trim().split('\n').at(-1)}`);
}

/** Runs `body` with a namespace of its own, then checks nothing runs in it and that it is gone. */
async function inOwnNamespace(body: (ns: Netns) => Promise<void>): Promise<void> {
  const ns = await Netns.create();
  try {
    await body(ns);
    expect(await netnsPids(ns.name), 'processes left in the namespace').toEqual([]);
  } finally {
    await ns.destroy();
  }
  expect(netnsExists(ns.name)).toBe(false);
}

/** The process is gone (reaped, not a zombie): by its pid. */
async function expectGone(pid: number): Promise<void> {
  await expect.poll(() => procStat(pid), { timeout: 5_000 }).toBeUndefined();
}

describe('a broken adapter fails the call with a typed error, and leaves nothing behind', () => {
  const CASES = [
    {
      adapter: 'crash.mjs', code: 'ERR_ADAPTER_CRASHED',
      message: [/^adapter crash: exited with code 3 before answering list \(request 2\)$/m, /^ {2}crash adapter: deliberately exiting with code 3$/m],
    },
    {
      adapter: 'garbage.mjs', code: 'ERR_ADAPTER_PROTOCOL',
      message: [/^adapter garbage: answered list \(request 2\) with a line that is not JSON: "this is not JSON"$/m, /garbage adapter: about to print garbage/],
    },
    {
      adapter: 'bad-schema.mjs', code: 'ERR_ADAPTER_PROTOCOL',
      message: [/^adapter bad-schema: answered list \(request 2\) with a result the schema refuses \(listResult\): \/entries\/0 must have required property/m],
    },
    { adapter: 'hang.mjs', code: 'ERR_ADAPTER_TIMEOUT', message: [/^adapter hang: did not answer list \(request 2\) within 1000 ms; killed$/m] },
  ] as const;

  for (const c of CASES) {
    test(`${c.adapter}: ${c.code}`, async ({ skip }) => {
      requireKernel(skip);
      await inOwnNamespace(async (ns) => {
        const adapter = await openAdapter([join(ADAPTERS, c.adapter)], ns.name, { requestTimeoutMs: 1_000 });
        try {
          expect(adapter.name).toBe(c.adapter.replace('.mjs', ''));
          const error = await adapter.list({ zone: 7 }).then(() => undefined, (e: unknown) => e);
          expect(error).toBeInstanceOf(AdapterError);
          expect(error).toMatchObject({ code: c.code, adapter: adapter.name, op: 'list' });
          for (const m of c.message) expect((error as AdapterError).message).toMatch(m);
          // Gone before close(): it died, or the harness killed it at the failure.
          await expectGone(adapter.pid);
          await expect(adapter.count(), 'a later call').rejects.toBe(error);
        } finally {
          await adapter.close();
        }
        await expectGone(adapter.pid);
      });
    });
  }

  test('an adapter that cannot start is named by its argv and its stderr quoted', async ({ skip }) => {
    requireKernel(skip);
    await inOwnNamespace(async (ns) => {
      const missing = join(ADAPTERS, 'no-such-adapter');
      const error = await openAdapter([missing, '--flag'], ns.name).then(() => undefined, (e: unknown) => e);
      expect(error).toMatchObject({ code: 'ERR_ADAPTER_CRASHED', adapter: `${missing} --flag`, op: 'hello' });
      expect((error as AdapterError).message).toMatch(new RegExp(`^adapter ${missing} --flag: exited with code \\d+ before answering hello \\(request 1\\)\\nstderr:\\n.*${missing}`));
    });
  });
});

describe('UNSUPPORTED', () => {
  test('is thrown with the adapter\'s reason, and an op hello did not offer is never sent', async ({ skip }) => {
    requireKernel(skip);
    await inOwnNamespace(async (ns) => {
      await using adapter = await openAdapter([join(ADAPTERS, 'unsupported.mjs')], ns.name);
      const unsupported = (reason: string) => ({ code: 'ERR_ADAPTER_UNSUPPORTED', adapterCode: 'UNSUPPORTED', message: reason });
      await expect(adapter.list({ zone: 7 })).rejects.toMatchObject(unsupported('the unsupported adapter cannot list (deliberately)'));
      await expect(adapter.delete([{ protocol: 'udp', src: '10.0.0.1', dst: '10.0.0.2', sport: 1, dport: 2 }]))
        .rejects.toMatchObject(unsupported('the unsupported adapter cannot delete (deliberately)'));
      await expect(adapter.update([], { mark: 1 })).rejects.toMatchObject(unsupported('unsupported does not offer update'));
      // It answers count with the number of requests it read: hello, list, count.
      expect(await adapter.count()).toBe(3);
    });
  });
});

describe('an adapter error', () => {
  test('is ERR_ADAPTER_FAILED with the adapter\'s code, thrown, or per entry in delete\'s verdicts', async ({ skip }) => {
    requireKernel(skip);
    await inOwnNamespace(async (ns) => {
      await using adapter = await openAdapter([join(ADAPTERS, 'refuses.mjs')], ns.name);
      const a = { protocol: 'udp', src: '10.0.0.1', dst: '10.0.0.2', sport: 1, dport: 2, zone: 7 } as const;
      const b = { ...a, src: '2001:0db8::0001', dst: '2001:db8::2' };
      await expect(adapter.create([a])).rejects.toMatchObject({ code: 'ERR_ADAPTER_FAILED', adapterCode: 'EEXIST', message: 'adapter refuses: create failed with EEXIST: File exists' });
      const result = await adapter.delete([a, b]);
      expect(result.deleted).toEqual([normalizeKey(a)]);
      expect(result.failed).toEqual([{ entry: normalizeKey(b), error: expect.objectContaining({ code: 'ERR_ADAPTER_FAILED', adapterCode: 'EPERM' }) }]);
    });
  });
});

describe('elapsedMs', () => {
  test('is the adapter\'s own time of the last request when it reports one, else undefined', async ({ skip }) => {
    requireKernel(skip);
    await requireNfct(skip);
    await inOwnNamespace(async (ns) => {
      await using nfct = await openAdapter([NFCT_ADAPTER], ns.name);
      const t0 = performance.now();
      expect(await nfct.list()).toEqual([]);
      const roundTrip = performance.now() - t0;
      expect(nfct.lastElapsedMs).toBeGreaterThanOrEqual(0);
      expect(nfct.lastElapsedMs).toBeLessThanOrEqual(roundTrip);
      // The deliberately unsupported adapter reports none.
      await using plain = await openAdapter([join(ADAPTERS, 'unsupported.mjs')], ns.name);
      expect(await plain.count()).toBe(2);
      expect(plain.lastElapsedMs).toBeUndefined();
    });
  });
});

interface JsonResults {
  testResults: Array<{ assertionResults: Array<{ ancestorTitles: string[]; title: string; status: string; failureMessages: string[] }> }>;
}

/**
 * A child vitest over the udp ipv4 generic cases with `env` choosing the system under test; a
 * clean environment (not this run's session or vitest variables). Returns each case's outcome and the JUnit report.
 */
async function runUdpCases(env: Record<string, string>) {
  const dir = mkdtempSync(join(tmpdir(), 'cth-adapters-'));
  try {
    const results = join(dir, 'results.json');
    const junit = join(dir, 'junit.xml');
    const vars = [`PATH=${process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin'}`, 'LC_ALL=C', ...Object.entries(env).map(([k, v]) => `${k}=${v}`)];
    if (process.env.CI !== undefined) vars.push(`CI=${process.env.CI}`);
    const run = await execute(['env', '-i', '-C', ROOT, ...vars, process.execPath, VITEST, 'run', 'suites/kernel/protocols.test.ts', '-t', '^udp ipv4',
      '--reporter=json', `--outputFile.json=${results}`, '--reporter=junit', `--outputFile.junit=${junit}`], { checkExitCode: false, timeout: 240_000 });
    expect(existsSync(results), `child vitest wrote no results: ${run.stderr.slice(-3000)}`).toBe(true);
    const parsed = JSON.parse(readFileSync(results, 'utf8')) as JsonResults;
    const cases = parsed.testResults.flatMap((f) => f.assertionResults).filter((a) => a.ancestorTitles.some((t) => t.startsWith('udp ipv4 [')));
    expect(cases.length, `udp ipv4 cases run; stderr: ${run.stderr.slice(-3000)}`).toBeGreaterThan(5);
    return { run, cases: new Map(cases.map((a) => [a.title, a])), junit: readFileSync(junit, 'utf8') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('the system under test chosen by CTH_SUT', () => {
  test('an adapter that answers UNSUPPORTED skips every case it cannot do, with its reason', { timeout: 300_000 }, async ({ skip }) => {
    requireKernel(skip);
    const { run, cases, junit } = await runUdpCases({ CTH_SUT: join(ADAPTERS, 'unsupported.mjs') });
    expect(run.exitCode, run.stderr.slice(-3000)).toBe(0);
    expect([...cases.values()].filter((a) => a.status !== 'skipped').map((a) => `${a.title}: ${a.status}`)).toEqual([]);
    // The reasons, as the skip-reason annotations the JUnit report carries.
    const reason = (title: string) => new RegExp(`<testcase[^>]*name="[^"]*${title}"[^>]*>\\s*<skipped/>\\s*<properties>\\s*<property name="skip-reason" value="([^"]*)"`).exec(junit)?.[1];
    expect(reason('lists exactly what was created')).toBe('the unsupported adapter cannot list (deliberately)');
    expect(reason('deletes one entry, the rest stay')).toBe('the unsupported adapter cannot delete (deliberately)');
    expect(reason('updates mark, timeout and status of the chosen entries only')).toBe('unsupported does not offer update');
  });

  test('a deliberately broken adapter (drops the zone on delete) fails the zone cases', { timeout: 300_000 }, async ({ skip }) => {
    requireKernel(skip);
    await requireNfct(skip);

    const { run, cases } = await runUdpCases({ CTH_SUT: NFCT_ADAPTER, CTH_SUT_ARGS: JSON.stringify(['--break', 'drop-zone-on-delete']) });
    expect(run.exitCode, run.stderr.slice(-3000)).toBe(1);
    const status = (title: string) => cases.get(title)?.status;
    expect(status('identical tuples in the neighbour zone survive')).toBe('failed');
    expect(status('lists exactly what was created')).toBe('passed');
  });
});
