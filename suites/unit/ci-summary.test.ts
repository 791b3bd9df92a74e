// The step summary's Markdown, appendStepSummary() and annotation paths, without a CI run (the
// whole path, with a child vitest run, is in suites/kernel/ci-reports.test.ts).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, test, vi } from 'vitest';
import { isHarnessError } from '../../harness/errors.ts';
import { annotationPath } from '../../harness/fixtures/reporters.ts';
import { appendStepSummary, renderRunSummary, type RunSummary } from '../../harness/fixtures/summary.ts';
import { scratchDir } from '../support/scratch.ts';

afterEach(() => {
  vi.unstubAllEnvs();
});

const RUN: RunSummary = {
  passed: 40, failed: 1, skipped: 3, files: { total: 12, failed: 1 },
  failures: [{ file: 'suites/kernel/udp.test.ts', name: 'udp > a | b <x>', error: 'AssertionError: expected 1 to be 2\nmore' }],
  skips: [{ reason: 'root: not root (fix: sudo npm test)', tests: 3 }],
  unhandledErrors: 0, versions: 'kernel 6.1.0, node 20.19.0, conntrack-tools 1.4.7', scope: 'shard 2/3', interrupted: false,
};

describe('step summary', () => {
  test('counts, failures (first line, escaped), skip reasons and versions', () => {
    expect(renderRunSummary(RUN)).toBe([
      '### conntrack-harness tests failed (shard 2/3)',
      '',
      '| tests | passed | failed | skipped | files |',
      '|--:|--:|--:|--:|--:|',
      '| 44 | 40 | 1 | 3 | 12 (1 failed) |',
      '',
      '#### Failed',
      '',
      '- `suites/kernel/udp.test.ts` › udp &gt; a \\| b &lt;x&gt;: AssertionError: expected 1 to be 2',
      '',
      '#### Skipped',
      '',
      '| tests | reason |',
      '|--:|:--|',
      '| 3 | root: not root (fix: sudo npm test) |',
      '',
      '**Versions**: kernel 6.1.0, node 20.19.0, conntrack-tools 1.4.7',
    ].join('\n'));
  });

  test('a green run has no failure or skip section', () => {
    const text = renderRunSummary({ ...RUN, failed: 0, failures: [], skips: [], skipped: 0, files: { total: 12, failed: 0 }, scope: undefined });
    expect(text).toMatch(/^### conntrack-harness tests passed\n/);
    expect(text).toContain('| 40 | 40 | 0 | 0 | 12 |');
    expect(text).not.toContain('####');
  });

  test('appendStepSummary appends to $GITHUB_STEP_SUMMARY, does nothing without it, and fails typed', () => {
    const dir = scratchDir('cth-summary-');
    vi.stubEnv('GITHUB_STEP_SUMMARY', '');
    expect(appendStepSummary('| bench |')).toBe(false);
    const file = join(dir, 'summary.md');
    vi.stubEnv('GITHUB_STEP_SUMMARY', file);
    expect(appendStepSummary('one')).toBe(true);
    expect(appendStepSummary('two\n\n')).toBe(true);
    expect(readFileSync(file, 'utf8')).toBe('one\n\ntwo\n\n');
    vi.stubEnv('GITHUB_STEP_SUMMARY', join(dir, 'missing', 'summary.md'));
    let caught: unknown;
    try {
      appendStepSummary('three');
    } catch (error) {
      caught = error;
    }
    expect(isHarnessError(caught, 'ERR_STEP_SUMMARY')).toBe(true);
  });
});

describe('annotation paths', () => {
  test('relative to GITHUB_WORKSPACE when the file is inside it, else to the root', () => {
    vi.stubEnv('GITHUB_WORKSPACE', '/home/runner/work/cth/cth');
    expect(annotationPath('/elsewhere', '/home/runner/work/cth/cth/suites/a.test.ts')).toBe('suites/a.test.ts');
    expect(annotationPath('/mnt/repo', '/mnt/repo/harness/os/execute.ts')).toBe('harness/os/execute.ts');
    vi.stubEnv('GITHUB_WORKSPACE', '');
    expect(annotationPath('/mnt/repo', '/tmp/other.ts')).toBe('/tmp/other.ts');
  });
});
