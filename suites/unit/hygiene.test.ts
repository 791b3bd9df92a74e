// Source hygiene the threat model relies on: no shell strings anywhere (argv arrays through execa
// only), and the oracle's temp files are private and removed.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, test } from 'vitest';
import { withPrivateFile } from '../../harness/conntrack/oracle.ts';
import { ERROR_CODES } from '../../harness/errors.ts';

const root = new URL('../..', import.meta.url).pathname;

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) => {
    const path = join(dir, d.name);
    if (d.isDirectory()) return d.name === 'node_modules' || d.name.startsWith('.') ? [] : sources(path);
    return /\.(ts|js|mjs|cjs)$/.test(d.name) ? [path] : [];
  });
}

describe('no shell strings', () => {
  const files = ['harness', 'scripts', 'suites', 'bin', 'ci'].flatMap((d) => (existsSync(join(root, d)) ? sources(join(root, d)) : []));
  const self = new URL(import.meta.url).pathname;
  // Patterns that would run a command through a shell or from one string.
  const FORBIDDEN: Array<[RegExp, string]> = [
    [/shell\s*:\s*true/, 'the shell option'],
    [/\bexecSync\s*\(/, 'child_process.execSync'],
    [/\bexec\s*\(\s*[`'"]/, 'child_process.exec with a string'],
    [/\$`|execaCommand|execaCommandSync/, 'execa template/command strings'],
    [/['"`](?:sh|bash)['"`]\s*,\s*\[\s*['"`]-c['"`]/, 'sh -c'],
    [/['"`](?:SYSTEM|SHELL):/, "socat's SYSTEM:/SHELL: addresses (they run /bin/sh -c)"],
  ];

  test('the scan sees the code', () => {
    expect(files.length).toBeGreaterThan(20);
    expect(files.some((f) => f.endsWith('harness/os/execute.ts'))).toBe(true);
  });

  for (const [pattern, what] of FORBIDDEN) {
    test(`no ${what}`, () => {
      const hits = files.filter((f) => f !== self && pattern.test(readFileSync(f, 'utf8'))).map((f) => relative(root, f));
      expect(hits).toEqual([]);
    });
  }
});

describe('temp files', () => {
  test('are 0600 while used and gone afterwards, also when the command fails', async () => {
    let seen = '';
    await withPrivateFile('-I -p udp\n', async (path) => {
      seen = path;
      expect(statSync(path).mode & 0o777).toBe(0o600);
      expect(readFileSync(path, 'utf8')).toBe('-I -p udp\n');
    });
    expect(existsSync(seen)).toBe(false);
    await expect(withPrivateFile('x', async (path) => {
      seen = path;
      throw new Error('boom');
    })).rejects.toThrow('boom');
    expect(existsSync(seen)).toBe(false);
  });
});

describe('the oracle stays independent of the system under test', () => {
  test('oracle.ts runs no code of the client, codec, filter, probe or netlink layer (types aside)', () => {
    const source = readFileSync(join(root, 'harness/conntrack/oracle.ts'), 'utf8');
    // Every runtime import and re-export, relative or bare.
    const runtime = [...source.matchAll(/^(?:import|export)\s+(?!type\s)[^;]*?from\s+'([^']+)'/gms)].map((m) => m[1]);
    expect(runtime.sort()).toEqual(['../errors.ts', '../os/execute.ts', '../os/names.ts', '../os/prerequisites.ts', '../os/versions.ts', './address.ts', './entry.ts', 'node:fs/promises', 'tmp']);
  });
});

describe('errors: one module, each class bound to its codes', () => {
  const harness = sources(join(root, 'harness'));
  const codes = ERROR_CODES as Record<string, readonly string[]>;

  test('no code belongs to two classes', () => {
    const all = Object.values(codes).flat();
    expect(all.length).toBe(new Set(all).size);
  });

  test('every thrown code is one its class owns, and every class is defined in harness/errors.ts', () => {
    const wrong: string[] = [];
    for (const file of harness) {
      const text = readFileSync(file, 'utf8');
      for (const m of text.matchAll(/new (\w+Error)\(\s*'(ERR_\w+)'/g)) {
        if (!codes[m[1]!]?.includes(m[2]!)) wrong.push(`${relative(root, file)}: new ${m[1]}('${m[2]}')`);
      }
      if (!file.endsWith('harness/errors.ts') && /class \w+ extends (HarnessError|Base)\b/.test(text)) wrong.push(`${relative(root, file)} defines an error class`);
      if (/throw new Error\(/.test(text)) wrong.push(`${relative(root, file)} throws a plain Error`);
    }
    expect(wrong).toEqual([]);
  });

  test('every class of the table is exported with that name', async () => {
    const errors = await import('../../harness/errors.ts') as Record<string, unknown>;
    for (const name of Object.keys(codes)) expect(typeof errors[name], name).toBe('function');
  });
});
