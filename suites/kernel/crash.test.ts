// Crash safety, for real: a vitest run holding namespaces, a veth pair and a process is killed by
// SIGINT, SIGTERM and SIGKILL; once the next run's sweep has happened nothing of it is left (its
// session record is gone at once but after SIGKILL), and
// the namespaces of this (live) run are never swept.
import { execa } from 'execa';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from '../../harness/fixtures/index.ts';
import { netnsExists } from '../../harness/os/netns.ts';
import { readSession, sessionOfNetns, sweep } from '../../harness/os/session.ts';
import { notYet, ready, waitFor } from '../../harness/os/wait.ts';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('crash safety', () => {
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGKILL'] as const) {
    test(`a run killed by ${signal} leaves nothing once the next sweep ran`, async ({ netns }) => {
      const dir = mkdtempSync(join(tmpdir(), 'cth-crash-'));
      const marker = join(dir, 'marker.json');
      // The vitest process itself (not npx), in its own process group so stray workers can be reaped.
      const run = execa(process.execPath, ['node_modules/vitest/vitest.mjs', 'run', '--config', 'suites/meta/vitest.meta.config.ts', 'suites/meta/hang.fixture.ts'], {
        env: { CTH_MARKER: marker, CTH_SESSION: '', GITHUB_ACTIONS: '', GITHUB_STEP_SUMMARY: '' }, detached: true, reject: false, timeout: 120_000, all: true,
      });
      try {
        const held = await waitFor(() => (existsSync(marker) ? ready(JSON.parse(readFileSync(marker, 'utf8')) as { namespaces: string[]; sleeper: number })
          : notYet(`no marker yet; run output so far: ${run.all ?? ''}`)), { what: 'the hanging run to create its namespaces', timeoutMs: 60_000 });
        expect(held.namespaces.every(netnsExists)).toBe(true);
        process.kill(run.pid!, signal);
        await run;
        // SIGKILL gives the run no chance to clean up: the sweep below has real work to do. Any
        // other ending removes the run's session record on the way out (signal-exit).
        const sessionId = sessionOfNetns(held.namespaces[0]!)!;
        if (signal === 'SIGKILL') {
          expect(held.namespaces.filter(netnsExists)).toEqual(held.namespaces);
          expect(readSession(sessionId), 'the killed run\'s session record').toBeDefined();
        } else {
          expect(readSession(sessionId), `the session record of a run ended by ${signal}`).toBeUndefined();
        }
        await sweep(); // what the next run's globalSetup (or `npm run sweep`) does
        expect(readSession(sessionId), 'the session record after the sweep').toBeUndefined();
        expect(held.namespaces.filter(netnsExists)).toEqual([]);
        await waitFor(() => (alive(held.sleeper) ? notYet(`pid ${held.sleeper} alive`) : ready(true)), { what: 'the process inside to be gone', timeoutMs: 10_000 });
        const { stdout } = await execa('ip', ['-o', 'link', 'show'], { timeout: 10_000 });
        expect(stdout).not.toMatch(/cthk[01]/);
        // This run is alive: its namespace survived the sweep.
        expect(netnsExists(netns.name)).toBe(true);
      } finally {
        try {
          process.kill(-run.pid!, 'SIGKILL');
        } catch {
          // group already gone
        }
        await run;
        rmSync(dir, { recursive: true, force: true });
      }
    }, 120_000);
  }
});
