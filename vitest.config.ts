// Two projects: `unit` needs no privileges (codec, validation, parsing); `kernel` needs root and
// runs every test in its own network namespace. globalSetup sweeps namespaces of dead sessions.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['suites/unit/**/*.test.ts'],
          pool: 'forks',
        },
      },
      {
        test: {
          name: 'kernel',
          include: ['suites/kernel/**/*.test.ts'],
          pool: 'forks',
          globalSetup: ['harness/fixtures/global-setup.ts'],
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
    ],
  },
});
