// Config for the child vitest runs of suites/kernel/ci-reports.test.ts: only the deliberately failing
// kernel fixtures, which the main config's include globs never pick up.
// Its reporters are chosen as the main config's are (from CI, GITHUB_ACTIONS, GITHUB_STEP_SUMMARY).
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';
import { reportOptions } from '../../harness/fixtures/reporters.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));

export default defineConfig({
  test: {
    name: 'fixtures-failing',
    root,
    ...reportOptions(root),
    include: ['suites/fixtures-failing/kernel-failure.fixture.ts'],
    pool: 'forks',
    globalSetup: ['harness/fixtures/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
