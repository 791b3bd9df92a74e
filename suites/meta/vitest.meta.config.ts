// Config for meta fixtures: test files that are meant to fail (a broken protocol spec), run by a
// kernel suite in a child vitest to prove the generic suites catch them. Never part of `npm test` directly.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['suites/meta/**/*.fixture.ts'],
    pool: 'forks',
    globalSetup: ['harness/fixtures/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
