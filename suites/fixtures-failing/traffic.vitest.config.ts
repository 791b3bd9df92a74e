// Config for the child vitest run of suites/kernel/traffic-cleanup.test.ts: runs only the
// deliberately failing traffic file, which the main config's globs never pick up.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    name: 'fixtures-failing-traffic',
    root: fileURLToPath(new URL('../..', import.meta.url)),
    include: ['suites/fixtures-failing/traffic-fail.ts'],
    pool: 'forks',
    globalSetup: ['harness/fixtures/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
