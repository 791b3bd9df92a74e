// The scaffold for a new protocol: one new file and one registry line, in a scratch copy of the
// protocols folder; refuses unknown protocols and duplicates.
import { cpSync, mkdtempSync, readFileSync, rmSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { execute } from '../../harness/os/execute.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function scratch(): string {
  const dir = mkdtempSync(join(tmpdir(), 'cth-newproto-'));
  dirs.push(dir);
  mkdirSync(join(dir, 'harness'), { recursive: true });
  cpSync(new URL('../../harness/protocols', import.meta.url).pathname, join(dir, 'harness', 'protocols'), { recursive: true });
  return dir;
}

const run = (args: string[]) =>
  execute(['npx', 'tsx', 'scripts/new-protocol.ts', ...args], { checkExitCode: false, timeout: 60_000 });

describe('npm run new-protocol', () => {
  test('writes one file and appends one registry line', async () => {
    const dir = scratch();
    const before = readFileSync(join(dir, 'harness/protocols/registry.ts'), 'utf8');
    const { exitCode } = await run(['dccp', '--dir', dir]);
    expect(exitCode).toBe(0);
    const after = readFileSync(join(dir, 'harness/protocols/registry.ts'), 'utf8');
    expect(after).toBe(`${before}export { dccp } from './dccp.ts';\n`);
    const spec = readFileSync(join(dir, 'harness/protocols/dccp.ts'), 'utf8');
    expect(spec).toContain("protocol: 'dccp'");
    expect(spec).toContain('number: 33');
  }, 60_000);

  test('refuses a protocol the entry model does not know, and a duplicate', async () => {
    const dir = scratch();
    const unknown = await run(['quic', '--dir', dir]);
    expect(unknown.exitCode).toBe(1);
    expect(unknown.stderr).toMatch(/does not know protocol "quic"/);
    const dup = await run(['udp', '--dir', dir]);
    expect(dup.exitCode).toBe(1);
    expect(dup.stderr).toMatch(/exists already/);
  }, 60_000);
});
