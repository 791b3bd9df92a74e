// `npm run bench`: the client against the conntrack CLI on the same data in the same run, in a
// fresh namespace per size: create, list a zone, delete by tuple, flush a zone (and, at 1,000,
// one `conntrack -D` process per entry). Prints medians and client/CLI ratios; writes JSON.
import { execa } from 'execa';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { Conntrack } from '../harness/conntrack/client.ts';
import type { EntryInput } from '../harness/conntrack/entry.ts';
import { ConntrackCli } from '../harness/conntrack/oracle.ts';
import { Netns } from '../harness/system/netns.ts';

const { values } = parseArgs({
  options: {
    sizes: { type: 'string', default: '1000,10000,100000' },
    reps: { type: 'string', default: '3' },
    out: { type: 'string', default: 'bench-results/bench.json' },
  },
});
const SIZES = values.sizes.split(',').map(Number);
const REPS = Number(values.reps);
const ZONE = 100;
const NEIGHBOUR = 200;

interface Row {
  size: number;
  operation: string;
  clientMs: number;
  cliMs: number;
  ratio: number;
}

function entriesFor(zone: number, n: number): EntryInput[] {
  return Array.from({ length: n }, (_, i) => ({
    protocol: i % 2 === 0 ? ('udp' as const) : ('tcp' as const),
    src: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`,
    dst: '10.255.0.1',
    sport: 1024 + (i % 50000),
    dport: 53,
    zone,
    timeout: 600,
  }));
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function time(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

async function expectCount(ct: Conntrack, zone: number, n: number, when: string) {
  const got = await ct.count({ zone });
  if (got !== n) throw new Error(`bench: zone ${zone} holds ${got} entries ${when}, expected ${n}`);
}

/** Peak RSS of a separate process that lists the zone with the client (so the bench's own memory does not count). */
async function listPeakRss(netns: string, zone: number, mode: 'list' | 'stream'): Promise<{ mode: string; peakRssMb: number; entries: number }> {
  const child = resolve(dirname(new URL(import.meta.url).pathname), 'bench-list-child.ts');
  const { stdout } = await execa('npx', ['tsx', child, netns, String(zone), mode], { timeout: 120_000 });
  return JSON.parse(stdout.trim().split('\n').pop()!) as { mode: string; peakRssMb: number; entries: number };
}

const rows: Row[] = [];
const memory: Array<{ size: number; mode: string; peakRssMb: number; entries: number }> = [];
const started = performance.now();

for (const n of SIZES) {
  await using ns = await Netns.create();
  const cli = new ConntrackCli({ netns: ns.name, timeout: 300_000 });
  await using ct = await Conntrack.open({ netns: ns.name, timeoutMs: 60_000 });
  await ct.create(entriesFor(NEIGHBOUR, n));
  // One untimed pass so the client is measured warm (JIT), as a long-lived user would see it.
  await ct.list({ zone: NEIGHBOUR });
  const mine = entriesFor(ZONE, n);
  const samples: Record<string, { client: number[]; cli: number[] }> = {};
  const record = (op: string, side: 'client' | 'cli', ms: number) => {
    (samples[op] ??= { client: [], cli: [] })[side].push(ms);
  };
  const reps = n >= 100_000 ? Math.max(1, Math.min(REPS, 2)) : REPS;
  for (let rep = 0; rep < reps; rep++) {
    // create: conntrack -R from a file vs the client's batch
    record('create', 'cli', await time(() => cli.createMany(mine)));
    await expectCount(ct, ZONE, n, 'after conntrack -R');
    // list the zone
    record('list zone', 'cli', await time(() => cli.run(['-L', '-w', String(ZONE)])));
    record('list zone', 'client', await time(() => ct.list({ zone: ZONE })));
    // delete all: conntrack -D -w ZONE vs the client deleting every entry by tuple
    record('delete all', 'cli', await time(() => cli.run(['-D', '-w', String(ZONE)], { extraOkCodes: [1] })));
    await expectCount(ct, ZONE, 0, 'after conntrack -D');
    record('create', 'client', await time(() => ct.create(mine)));
    await expectCount(ct, ZONE, n, 'after client create');
    record('delete all', 'client', await time(() => ct.delete(mine)));
    await expectCount(ct, ZONE, 0, 'after client delete');
    // flush the zone
    await ct.create(mine);
    record('flush zone', 'client', await time(() => ct.flush({ zone: ZONE })));
    await ct.create(mine);
    record('flush zone', 'cli', await time(() => cli.flush({ zone: ZONE })));
    await expectCount(ct, NEIGHBOUR, n, 'in the neighbour zone');
  }
  if (n === 1000) {
    // Neutron's old way: one conntrack -D process per entry (once; it is slow by nature).
    await ct.create(mine);
    record('delete 1 process/entry', 'cli', await time(async () => {
      for (const e of mine) await cli.delete(e);
    }));
    await ct.create(mine);
    record('delete 1 process/entry', 'client', await time(() => ct.delete(mine)));
  }
  if (n >= 100_000) {
    await ct.create(mine);
    memory.push({ size: n, ...(await listPeakRss(ns.name, ZONE, 'list')) });
    memory.push({ size: n, ...(await listPeakRss(ns.name, ZONE, 'stream')) });
    await ct.flush({ zone: ZONE });
  }
  await expectCount(ct, NEIGHBOUR, n, 'at the end');
  for (const [operation, s] of Object.entries(samples)) {
    const clientMs = median(s.client);
    const cliMs = median(s.cli);
    rows.push({ size: n, operation, clientMs, cliMs, ratio: clientMs / cliMs });
  }
}

const fmt = (ms: number) => (ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(1)} ms`);
console.log(`\nconntrack-harness bench (medians of ${REPS} runs; 100,000: of ${Math.min(REPS, 2)}), Linux ${(await import('node:os')).release()}`);
console.log('size     operation                client        conntrack CLI   client/CLI');
for (const r of rows) {
  console.log(`${String(r.size).padEnd(8)} ${r.operation.padEnd(24)} ${fmt(r.clientMs).padStart(10)} ${fmt(r.cliMs).padStart(15)} ${r.ratio.toFixed(3).padStart(12)}`);
}
for (const m of memory) {
  console.log(`peak RSS of a process listing ${m.entries} entries with the client (${m.mode === 'list' ? 'list(): one array' : 'entries(): streamed'}): ${m.peakRssMb.toFixed(0)} MB`);
}
const perEntry = rows.find((r) => r.operation === 'delete 1 process/entry');
if (perEntry) console.log(`delete by tuple vs one conntrack -D per entry: ${(perEntry.cliMs / perEntry.clientMs).toFixed(0)}x faster`);
console.log(`total ${fmt(performance.now() - started)}`);
mkdirSync(dirname(values.out), { recursive: true });
writeFileSync(values.out, `${JSON.stringify({ kernel: (await import('node:os')).release(), reps: REPS, rows, memory }, null, 2)}\n`);
console.log(`wrote ${values.out}`);
