// Two projects: `unit` needs no privileges (codec, validation, parsing); `kernel` needs root and
// runs every test in its own network namespace. globalSetup sweeps namespaces of dead sessions.
// Reporters come from the environment (harness/fixtures/reporters.ts): JUnit with CI set, GitHub
// annotations and the step summary in GitHub Actions.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';
import { reportOptions } from './harness/fixtures/reporters.ts';

export default defineConfig({
  test: {
    ...reportOptions(fileURLToPath(new URL('.', import.meta.url))),
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
