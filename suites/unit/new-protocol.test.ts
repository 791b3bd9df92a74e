// The scaffold for a new protocol: one new file and one registry line, in a scratch copy of the
// protocols folder; refuses unknown protocols and duplicates; bad arguments get one line and exit
// 2. Without the kernel (--no-probe): the probe itself is covered by suites/kernel/new-protocol.test.ts.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { execute } from '../../harness/os/execute.ts';
import { GENERIC_CASES } from '../../harness/protocols/spec.ts';
import { scratchProject } from '../support/scratch.ts';

const run = (args: string[]) =>
  execute([process.execPath, '--import', 'tsx', 'scripts/new-protocol.ts', ...args], { checkExitCode: false, timeout: 60_000 });

describe('npm run new-protocol', () => {
  test('writes one file and appends one registry line', async () => {
    const dir = scratchProject('cth-newproto-');
    const before = readFileSync(join(dir, 'harness/protocols/registry.ts'), 'utf8');
    const { exitCode, stdout } = await run(['dccp', '--dir', dir, '--no-probe']);
    expect(exitCode).toBe(0);
    expect(stdout.trim().split('\n')).toHaveLength(2);
    const after = readFileSync(join(dir, 'harness/protocols/registry.ts'), 'utf8');
    expect(after).toBe(`${before}export { dccp } from './dccp.ts';\n`);
    const spec = readFileSync(join(dir, 'harness/protocols/dccp.ts'), 'utf8');
    expect(spec).toContain("protocol: 'dccp'");
    expect(spec).toContain('number: 33');
    expect(spec).not.toMatch(/^\s*unsupported:/m);
  }, 60_000);

  test('refuses a protocol the entry model does not know, and a duplicate', async () => {
    const dir = scratchProject('cth-newproto-');
    const unknown = await run(['quic', '--dir', dir]);
    expect(unknown.exitCode).toBe(2);
    expect(unknown.stderr).toMatch(/does not know protocol "quic"/);
    expect(unknown.stderr.trim().split('\n')).toHaveLength(1);
    const dup = await run(['udp', '--dir', dir, '--no-probe']);
    expect(dup.exitCode).toBe(1);
    expect(dup.stderr).toMatch(/exists already/);
    expect(existsSync(join(dir, 'harness/protocols/quic.ts'))).toBe(false);
  }, 60_000);

  test('--help prints the usage and exits 0', async () => {
    const { exitCode, stdout, stderr } = await run(['--help']);
    expect(exitCode).toBe(0);
    expect(stdout).toMatch(/^usage: npm run new-protocol -- <name>/);
    expect(stdout).toContain('--no-probe');
    expect(stderr).toBe('');
  }, 60_000);

  test.each([
    [['dccp', '--bogus'], /Unknown option '--bogus'/],
    [['Dccp'], /name must be lowercase/],
    [[], /expected one <name>/],
    [['dccp', 'udp'], /expected one <name>/],
    [['dccp', '--dir'], /--dir/],
    [['dccp', '--dir', '/nonexistent-cth'], /has no harness\/protocols\/registry\.ts/],
  ])('%j: one line on stderr, no stack, exit 2', async (args, message) => {
    const { exitCode, stdout, stderr } = await run(args);
    expect(exitCode).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toMatch(message);
    expect(stderr.trim().split('\n')).toHaveLength(1);
    expect(stderr).not.toMatch(/\n\s+at /);
  }, 60_000);
});

describe('the probe\'s list of generic cases', () => {
  test('is exactly the cases harness/fixtures/generic.ts runs', () => {
    const source = readFileSync(new URL('../../harness/fixtures/generic.ts', import.meta.url), 'utf8');
    const run = [...source.matchAll(/caseTest\(test, spec, '([a-z-]+)'/g)].map((m) => m[1]);
    expect([...GENERIC_CASES].sort()).toEqual(run.sort());
  });
});
