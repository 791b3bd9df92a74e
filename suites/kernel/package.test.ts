// The package as another project gets it: `npm pack` (which builds dist/ through `prepare`), the
// tarball installed into a copy of examples/consumer (the project the docs show), and there a
// strict NodeNext `tsc`, the consumer's own root vitest run with the harness's global setup, its
// gating without privileges, and the bin without tsx. Nothing of either run may be left behind.
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll } from 'vitest';
import { describe, expect, test } from '../../harness/fixtures/index.ts';
import { execute, type ExecuteResult } from '../../harness/os/execute.ts';
import { netnsList } from '../../harness/os/ip.ts';
import { SESSION_DIR } from '../../harness/os/session.ts';
import { NO_CAPS } from '../support/privileges.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const require = createRequire(import.meta.url);
const versionOf = (pkg: string) => (require(`${pkg}/package.json`) as { version: string }).version;
const MINUTE = 60_000;

interface PackResult {
  filename: string;
  size: number;
  entryCount: number;
  files: Array<{ path: string }>;
}

let work: string;
let consumer: string;
let packed: PackResult;

/** A command in the consumer project, with a clean environment: not this run's session or CI. */
function inConsumer(argv: string[], env: Record<string, string> = {}, prefix: string[] = []): Promise<ExecuteResult> {
  return execute([...prefix, 'env', '-u', 'CI', '-u', 'CTH_SESSION', '-u', 'VITEST', '-u', 'NODE_OPTIONS', '-u', 'FORCE_COLOR', '-C', consumer,
    'NO_COLOR=1', ...Object.entries(env).map(([k, v]) => `${k}=${v}`), ...argv], { timeout: 5 * MINUTE, checkExitCode: false });
}

function sessionRecords(): string[] {
  try {
    return readdirSync(SESSION_DIR).sort();
  } catch {
    return [];
  }
}

describe('the package, installed by a consumer', () => {
  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'cth-package-'));
    const pack = await execute(['npm', 'pack', '--json', '--pack-destination', work], { timeout: 3 * MINUTE });
    packed = (JSON.parse(pack.stdout.slice(pack.stdout.indexOf('['))) as PackResult[])[0]!;
    consumer = join(work, 'consumer');
    cpSync(join(ROOT, 'examples/consumer'), consumer, { recursive: true });
    // The same vitest, TypeScript and Node types as this repository: npm ci cached them.
    const install = await inConsumer(['npm', 'install', '--prefer-offline', '--no-audit', '--no-fund', '--save-dev', join(work, packed.filename),
      `vitest@${versionOf('vitest')}`, `typescript@${versionOf('typescript')}`, `@types/node@${versionOf('@types/node')}`]);
    if (install.exitCode !== 0) throw new Error(`npm install in the consumer failed: ${install.stderr.slice(-2000)}`);
  }, 10 * MINUTE);

  afterAll(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  test('the tarball holds the build, the bin and the docs, and nothing of the repository\'s own', () => {
    const paths = packed.files.map((f) => f.path);
    const outside = paths.filter((p) => !/^(dist\/.+\.(js|d\.ts)|bin\/conntrack-harness\.js|docs\/.+\.md|adapters\/(protocol\.schema\.json|[\w-]+\/(adapter\.py|README\.md)|common\/[\w-]+\.py)|README\.md|SECURITY\.md|package\.json)$/.test(p));
    expect(outside).toEqual([]);
    for (const entry of ['dist/index.js', 'dist/index.d.ts', 'dist/fixtures/index.js', 'dist/fixtures/global-setup.js', 'dist/fixtures/topology.js', 'dist/protocols/index.js', 'dist/cli.js']) {
      expect(paths, entry).toContain(entry);
    }
  });

  test('no TypeScript loader is installed, and plain node imports the entry points that need no vitest runner', async () => {
    expect(readdirSync(join(consumer, 'node_modules'))).not.toContain('tsx');
    // fixtures and topology call vitest's test.extend: they load inside a vitest run (the test below).
    const entries = ['conntrack-harness', 'conntrack-harness/global-setup', 'conntrack-harness/protocols'];
    const script = `for (const e of ${JSON.stringify(entries)}) { const m = await import(e); console.log(e, Object.keys(m).length); }`;
    const run = await inConsumer(['node', '--input-type=module', '-e', script]);
    expect(run.stderr).toBe('');
    expect(run.exitCode).toBe(0);
    expect(run.stdout.trim().split('\n').map((l) => l.split(' ')[0])).toEqual(entries);
  });

  test('the consumer\'s strict NodeNext tsc passes, the package\'s declarations included (skipLibCheck off)', async () => {
    expect(JSON.parse(readFileSync(join(consumer, 'tsconfig.json'), 'utf8')).compilerOptions).toMatchObject({ strict: true, module: 'NodeNext', skipLibCheck: false });
    const tsc = await inConsumer(['node_modules/.bin/tsc', '--noEmit', '-p', '.']);
    expect(tsc.stdout + tsc.stderr).toBe('');
    expect(tsc.exitCode).toBe(0);
  });

  test('npx conntrack-harness doctor works without tsx', async () => {
    const doctor = await inConsumer(['npx', '--no-install', 'conntrack-harness', 'doctor']);
    expect(doctor.stdout).toContain('doctor: every required check passed');
    expect(doctor.exitCode).toBe(0);
  });

  test('the consumer\'s root vitest run passes with the global setup, and leaves no namespace or session record', async () => {
    const recordsBefore = sessionRecords();
    const run = await inConsumer(['node_modules/.bin/vitest', 'run', '--reporter=verbose'], { CI: 'true' });
    expect(run.exitCode, run.stdout + run.stderr).toBe(0);
    expect(run.stdout).toMatch(/Tests\s+4 passed \(4\)/);
    expect(run.stdout).toContain('a real UDP exchange is tracked in the zone');
    expect(sessionRecords()).toEqual(recordsBefore);
    const mine = new Set((await netnsList()).filter((n) => n.startsWith('cth-')));
    // Only this run's own namespaces (the package suite makes none of its own) may exist.
    expect([...mine].filter((n) => !n.startsWith(`cth-${process.env.CTH_SESSION}-`))).toEqual([]);
  });

  test('without privileges the global setup skips the kernel tests, or fails them when CI is set', async () => {
    const skipped = await inConsumer(['node_modules/.bin/vitest', 'run'], {}, NO_CAPS);
    expect(skipped.exitCode, skipped.stdout + skipped.stderr).toBe(0);
    expect(skipped.stdout).toMatch(/1 passed \| 3 skipped/);
    const failed = await inConsumer(['node_modules/.bin/vitest', 'run'], { CI: 'true' }, NO_CAPS);
    expect(failed.exitCode).not.toBe(0);
    expect(failed.stdout + failed.stderr).toMatch(/cannot run/);
  });
});
