// `npm run conformance -- --sut <client|cli|nfct-ctypes|pyroute2|PATH>`: runs the seed and generic
// suites against one implementation (CTH_SUT, docs/adapters.md) through vitest's node API, and
// writes what each case did, per protocol and family, to reports/conformance-<name>.json and .md.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Reporter, TestCase, TestModule } from 'vitest/node';
import { startVitest } from 'vitest/node';
import { firstErrorLine, skipReason } from '../harness/fixtures/summary.ts';
import { collectEnvironment, describeEnvironment } from '../harness/os/doctor.ts';
import { EXIT_FAILED, EXIT_OK, scriptArgs } from '../harness/os/args.ts';
import { ValidationError } from '../harness/errors.ts';
import { implementationVariant, implementationVersion, parseAdapterArgs, REFERENCE_ADAPTERS } from '../harness/conntrack/variants.ts';
import type { ConformanceMeta } from '../harness/fixtures/implementations.ts';

const SUITES = ['suites/kernel/seed.test.ts', 'suites/kernel/protocols.test.ts', 'suites/kernel/traffic.test.ts'];

const HELP = `usage: npm run conformance -- --sut <client|cli|nfct-ctypes|pyroute2|PATH> [--args JSON] [--out DIR]

Runs the seed, generic and traffic suites against one conntrack implementation (root): the harness's
client, the conntrack CLI, a reference adapter (adapters/), or any adapter executable speaking the
protocol of docs/adapters.md. Writes DIR/conformance-<name>.json and .md (default DIR: reports):
every case per protocol and family, passed, failed (with the first difference) or skipped (with
the reason).

  --sut S      what to test (required)
  --args JSON  extra argv for an adapter, a JSON array (CTH_SUT_ARGS); the report's name gets them
  --out DIR    where the report goes (default reports)
  -h, --help   show this help

Exit codes: 0 every case passed or was skipped, 1 a case failed, 2 bad usage.`;

const { sut, variant, name, out, args } = scriptArgs({
  name: 'conformance',
  help: HELP,
  options: { sut: { type: 'string' }, args: { type: 'string' }, out: { type: 'string', default: 'reports' } },
  check: ({ values }) => {
    const chosen = values.sut;
    if (!chosen) throw new ValidationError('ERR_INVALID_ARGUMENT', '--sut', chosen, `--sut is required: client, cli, ${Object.keys(REFERENCE_ADAPTERS).join(', ')} or the path of an adapter`);
    const args = parseAdapterArgs(values.args, '--args');
    // They go into the report's file name.
    if (!args.every((a) => /^[\w.=-]+$/.test(a))) {
      throw new ValidationError('ERR_INVALID_ARGUMENT', '--args', values.args, '--args must be plain words, e.g. ["--api","conntrack"]');
    }
    const variant = implementationVariant(chosen, args, '--sut');
    // An adapter's report is named as its suites are (its file's name, or its directory's for adapter.*).
    const base = variant.argv ? variant.name.replace(/\.[a-z]+$/, '') : chosen;
    return { sut: chosen, variant, name: [base, ...args.map((a) => a.replace(/^-+/, ''))].join('-'), out: values.out, args };
  },
});

interface CaseResult {
  /** The describe block's name: `udp ipv4 [client]`, `seed suite [client, created by oracle] ipv4`. */
  group: string;
  case: string;
  protocol: string;
  family: string;
  implementation: string;
  state: 'passed' | 'failed' | 'skipped';
  /** The first difference of a failure, or the reason of a skip. */
  detail?: string;
}

/**
 * A test's conformance case, from its describe block's meta (conformanceBlock); undefined for a
 * test that is not one. A traffic recipe goes into the case's name.
 */
function resultOf(test: TestCase): CaseResult | undefined {
  if (test.parent.type !== 'suite') return undefined;
  const where = (test.parent.meta() as { conformance?: ConformanceMeta }).conformance;
  if (!where) return undefined;
  const { state } = test.result();
  const name = test.name.replace(/ \(skipped: .*\)$/, '');
  const base = {
    group: test.parent.fullName, case: where.recipe === undefined ? name : `traffic (${where.recipe}): ${name}`,
    protocol: where.protocol, family: where.family, implementation: where.implementation,
  };
  if (state === 'failed') return { ...base, state, detail: firstErrorLine(test).split('\n')[0] };
  if (state === 'skipped') return { ...base, state, detail: skipReason(test) };
  return { ...base, state: 'passed' };
}

/** The implementation's version; an adapter that cannot say hello gets the reason: its report is still written. */
async function versionOf(): Promise<string> {
  try {
    return await implementationVersion(variant);
  } catch (error) {
    return `${name} (version unknown: ${error instanceof Error ? error.message.split('\n')[0] : String(error)})`;
  }
}

const results: CaseResult[] = [];
const collector: Reporter = {
  onTestRunEnd(modules: ReadonlyArray<TestModule>) {
    for (const module of modules) {
      for (const test of module.children.allTests()) {
        const result = resultOf(test);
        if (result) results.push(result);
      }
    }
  },
};

process.env.CTH_SUT = variant.argv?.[0] ?? sut;
if (args.length > 0) process.env.CTH_SUT_ARGS = JSON.stringify(args);
console.error(`conformance: ${SUITES.join(', ')} against ${(variant.argv ?? [sut]).join(' ')}`);
const vitest = await startVitest('test', SUITES, { run: true, watch: false, project: ['kernel'], reporters: ['dot', collector] });
await vitest.close();

// The rows of this implementation: the seed suite also runs the client and the CLI beside it.
const mine = results.filter((r) => r.implementation === variant.name);
const count = (state: CaseResult['state']) => mine.filter((r) => r.state === state).length;
const report = {
  sut: name, implementation: variant.name, version: await versionOf(), command: (variant.argv ?? [sut]).join(' '), environment: describeEnvironment(await collectEnvironment()),
  date: new Date().toISOString(), passed: count('passed'), failed: count('failed'), skipped: count('skipped'), cases: mine,
};

const columns = [...new Set(mine.map((r) => `${r.protocol} ${r.family}`))];
const rows = [...new Set(mine.map((r) => r.case))];
const cell = (c: string, col: string) => {
  const r = mine.find((x) => x.case === c && `${x.protocol} ${x.family}` === col);
  return !r ? '' : r.state === 'passed' ? 'pass' : r.state === 'failed' ? '**FAIL**' : 'skip';
};
const md = [
  `## Conformance: ${name} (${report.version})`,
  '',
  `${report.passed} passed, ${report.failed} failed, ${report.skipped} skipped; ${report.environment}; ${report.date.slice(0, 10)}`,
  '',
  `| case | ${columns.join(' | ')} |`,
  `|---|${columns.map(() => '---').join('|')}|`,
  ...rows.map((c) => `| ${c} | ${columns.map((col) => cell(c, col)).join(' | ')} |`),
  '',
  ...(report.failed > 0 ? ['Failures (the first difference):', '', ...mine.filter((r) => r.state === 'failed').map((r) => `- ${r.protocol} ${r.family}, ${r.case}: ${r.detail}`), ''] : []),
  ...(report.skipped > 0 ? ['Skips:', '', ...[...new Set(mine.filter((r) => r.state === 'skipped').map((r) => r.detail))].map((why) => `- ${mine.filter((r) => r.state === 'skipped' && r.detail === why).length} cases: ${why}`), ''] : []),
].join('\n');

mkdirSync(out, { recursive: true });
writeFileSync(join(out, `conformance-${name}.json`), `${JSON.stringify(report, null, 2)}\n`);
writeFileSync(join(out, `conformance-${name}.md`), `${md}\n`);
console.log(`conformance ${name}: ${report.passed} passed, ${report.failed} failed, ${report.skipped} skipped; wrote ${join(out, `conformance-${name}.md`)} and .json`);
process.exitCode = report.failed > 0 || mine.length === 0 ? EXIT_FAILED : EXIT_OK;
