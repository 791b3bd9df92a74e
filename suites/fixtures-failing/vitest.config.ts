// Config for the child vitest runs of suites/kernel/ci-reports.test.ts: only the deliberately failing
// kernel fixture, which the main config's include globs never pick up.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    name: 'fixtures-failing',
    root: fileURLToPath(new URL('../..', import.meta.url)),
    include: ['suites/fixtures-failing/kernel-failure.fixture.ts'],
    pool: 'forks',
    globalSetup: ['harness/fixtures/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
