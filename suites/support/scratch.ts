// Scratch folders of a test, removed when the test ends however it ends (onTestFinished): no
// try/finally and no afterEach list in the test files. Call them inside a test body (not a
// concurrent one: onTestFinished there must come from the test's own context).
import { cpSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { onTestFinished } from 'vitest';

const HARNESS = fileURLToPath(new URL('../../harness', import.meta.url));

/** A new empty folder `<tmpdir>/<prefix>XXXXXX`, removed when the running test finishes. */
export function scratchDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/**
 * A scratch project for `npm run new-protocol -- --dir`: a copy of harness/protocols (the script
 * writes there) and links to the rest of harness/, so a spec it writes imports as the suites' would.
 */
export function scratchProject(prefix: string): string {
  const dir = scratchDir(prefix);
  mkdirSync(join(dir, 'harness'));
  for (const entry of readdirSync(HARNESS)) {
    const from = join(HARNESS, entry);
    const to = join(dir, 'harness', entry);
    if (entry === 'protocols') cpSync(from, to, { recursive: true });
    else symlinkSync(from, to, lstatSync(from).isDirectory() ? 'dir' : 'file');
  }
  return dir;
}
