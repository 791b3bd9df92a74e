import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // Gates the kernel tests (skip, or fail when CI is set, on a machine that cannot run them),
    // sweeps what dead runs left, and owns this run's namespaces.
    globalSetup: ['conntrack-harness/global-setup'],
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
