// `npm run stress -- --runs N [--workers W] [--shuffle] [--filter PATTERN]`: runs the whole vitest
// suite N times in a row and reports, per run, failures and anything left behind (namespaces of
// dead sessions, socat processes, session records). Exit code 1 if any run failed or leaked.
import { execa } from 'execa';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { netnsList } from '../harness/os/ip.ts';
import { isSessionAlive, readSession, sessionOfNetns } from '../harness/os/session.ts';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '5' },
    workers: { type: 'string', default: '2' },
    shuffle: { type: 'boolean', default: false },
    filter: { type: 'string' },
  },
});

async function leftovers(): Promise<string[]> {
  const leaks: string[] = [];
  for (const name of await netnsList()) {
    const id = sessionOfNetns(name);
    if (!id) continue;
    const record = readSession(id);
    if (!record || !isSessionAlive(record)) leaks.push(`namespace ${name}`);
  }
  const socat = await execa('pgrep', ['-a', 'socat'], { reject: false, timeout: 10_000 });
  for (const line of socat.stdout.split('\n').filter(Boolean)) leaks.push(`process ${line}`);
  return leaks;
}

const runs = Number(values.runs);
const args = ['node_modules/vitest/vitest.mjs', 'run', `--maxWorkers=${values.workers}`, '--reporter=dot'];
if (values.shuffle) args.push('--sequence.shuffle');
if (values.filter) args.push(values.filter);
const before = await leftovers();
if (before.length > 0) console.log(`stress: already present before the first run (not counted): ${before.join(', ')}`);
let failures = 0;
let leaking = 0;
for (let i = 1; i <= runs; i++) {
  const t0 = performance.now();
  const run = await execa(process.execPath, args, { reject: false, all: true, timeout: 1_800_000, env: { CI: 'true' } });
  const seconds = ((performance.now() - t0) / 1000).toFixed(1);
  const summary = /Tests\s+(.*)/.exec(run.all?.replace(/\x1b\[[0-9;]*m/g, '') ?? '')?.[1]?.trim() ?? 'no summary';
  const leaks = (await leftovers()).filter((l) => !before.includes(l));
  if (run.exitCode !== 0) failures++;
  if (leaks.length > 0) leaking++;
  console.log(`run ${i}/${runs}: ${run.exitCode === 0 ? 'pass' : `FAIL (exit ${run.exitCode})`} in ${seconds} s; ${summary}; leaks: ${leaks.length === 0 ? 'none' : leaks.join(', ')}`);
  if (run.exitCode !== 0) console.log(run.all?.split('\n').filter((l) => /FAIL|Error|×/.test(l)).slice(0, 20).join('\n'));
}
console.log(`stress: ${runs} runs, ${failures} failed, ${leaking} leaked (workers ${values.workers}${values.shuffle ? ', shuffled' : ''})`);
process.exitCode = failures > 0 || leaking > 0 ? 1 : 0;
