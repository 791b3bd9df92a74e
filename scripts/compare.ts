// `npm run compare`: in a namespace of its own, with counters and timestamps switched on, builds a
// table of every protocol of the registry (created with conntrack-tools), NAT entries, directional
// zones and status flags (created with the client), and a real TCP flow with the FTP helper; then
// compares ConntrackClient.list with conntrack-tools field by field (text, XML and save output) and the set
// of entries both select, unfiltered and for every filter of crossCheckFilters; prints a per-field
// summary; finally deletes a subset with the client and checks that exactly the rest is left.
// Exit code 1 on any difference.
import { ConntrackClient } from '../harness/conntrack/client.ts';
import { addTallies, crossCheck, describeDifference, type CrossCheckReport, type FieldTally } from '../harness/conntrack/crosscheck.ts';
import { crossCheckExtras, crossCheckFilters, crossCheckHelperFlow } from '../harness/conntrack/crosscheck-table.ts';
import { keyString } from '../harness/conntrack/entry.ts';
import { ConntrackOracle } from '../harness/conntrack/oracle.ts';
import { mixedSamples, oracleArgsOf } from '../harness/protocols/index.ts';
import { expectPositionals, positiveInt, scriptArgs } from '../harness/os/args.ts';
import { Netns } from '../harness/os/netns.ts';
import { ProcessGroup } from '../harness/os/processes.ts';
import { writeSysctl } from '../harness/os/topology.ts';

const HELP = `usage: npm run compare [-- PER_PROTOCOL]

Builds a table in a namespace of its own (root): PER_PROTOCOL samples of every protocol of the
registry (default 50, made with conntrack -I), NAT, zone and flag entries (made with the client)
and one FTP helper flow; compares the client's listing with conntrack-tools field by field,
unfiltered and for every cross-check filter, then deletes a third with the client and checks the
rest. Prints a per-field summary.

  -h, --help   show this help

Exit codes: 0 no difference, 1 a difference (or a failure), 2 bad usage.`;

const perProtocol = scriptArgs({
  name: 'compare', help: HELP, options: {}, positionals: true,
  check: ({ positionals }) => {
    expectPositionals(positionals, [0, 1], 'at most one PER_PROTOCOL count');
    return positionals[0] === undefined ? 50 : positiveInt('PER_PROTOCOL', positionals[0]);
  },
});
const zones = { zone: 4242, origZone: 4343, replyZone: 4444 };
const { zone } = zones;
await using ns = await Netns.create();
await using processes = new ProcessGroup();
// Before any entry exists: counters and timestamps are attached when an entry is created.
await writeSysctl(ns, 'net.netfilter.nf_conntrack_acct', 1);
await writeSysctl(ns, 'net.netfilter.nf_conntrack_timestamp', 1);
const oracle = new ConntrackOracle({ netns: ns.name });
await using client = await ConntrackClient.open({ netns: ns.name });

const samples = mixedSamples(zone, perProtocol);
await oracle.createMany(samples, oracleArgsOf);
const extras = crossCheckExtras(zones);
await client.create(extras);
await crossCheckHelperFlow(ns, processes, oracle);
const total = samples.length + extras.length + 1;
console.log(`table: ${samples.length} registry samples (conntrack -I), ${extras.length} NAT/zone/flag entries (client), 1 helper flow; ` +
  'nf_conntrack_acct=1 nf_conntrack_timestamp=1');

let failed = false;
const reports: CrossCheckReport[] = [];
const all = await crossCheck(client, oracle);
reports.push(all);
if (all.compared !== total) {
  console.log(`unfiltered: the client listed ${all.compared} entries, ${total} were created`);
  failed = true;
}
console.log(`${'filter'.padEnd(58)} client  conntrack -L  differences`);
for (const filter of [{}, ...crossCheckFilters(zones)]) {
  const report = Object.keys(filter).length === 0 ? all : await crossCheck(client, oracle, filter);
  if (report !== all) reports.push(report);
  // A filter that selects nothing, or everything, proves nothing about filtering.
  const vacuous = Object.keys(filter).length > 0 && (report.oracleListed === 0 || report.oracleListed === all.oracleListed);
  if (vacuous) failed = true;
  console.log(`${JSON.stringify(filter).padEnd(58)} ${String(report.compared).padStart(6)}  ${String(report.oracleListed).padStart(12)}  ` +
    `${String(report.differences.length).padStart(11)}${vacuous ? '  (selects nothing or everything)' : ''}`);
}

const summary: Record<string, FieldTally> = {};
for (const r of reports) addTallies(summary, r);
console.log(`\n${'field'.padEnd(24)} ${'compared'.padStart(9)} ${'differences'.padStart(11)}`);
for (const [field, t] of Object.entries(summary).sort(([a], [b]) => a.localeCompare(b))) {
  console.log(`${field.padEnd(24)} ${String(t.compared).padStart(9)} ${String(t.differences).padStart(11)}`);
}
const differences = reports.flatMap((r) => r.differences.map((d) => ({ ...d, filter: r.filter })));
console.log(`\n${reports.length} cross-checks (unfiltered + ${reports.length - 1} filters), ` +
  `${Object.values(summary).reduce((n, t) => n + t.compared, 0)} comparisons: ${differences.length} difference(s)`);
for (const d of differences.slice(0, 30)) {
  console.log(`  ${JSON.stringify(d.filter)} ${describeDifference(d)}`);
}
const explained = reports.flatMap((r) => r.explained.map((x) => ({ ...x, filter: r.filter })));
if (explained.length > 0) console.log(`${explained.length} set difference(s) predicted by the CLI's own rule (not counted):`);
for (const x of explained) console.log(`  ${JSON.stringify(x.filter)} ${x.entry}: listed by the ${x.listedBy} only; ${x.why}`);

const listed = await client.list({ zone });
const subset = listed.filter((_, i) => i % 3 === 0);
const expected = new Set(listed.filter((_, i) => i % 3 !== 0).map(keyString));
const result = await client.delete(subset);
const left = new Set((await oracle.list({ zone })).map(keyString));
const missing = [...expected].filter((k) => !left.has(k));
const extra = [...left].filter((k) => !expected.has(k));
console.log(`deleted ${result.deleted.length}/${subset.length} (notFound ${result.notFound.length}, failed ${result.failed.length}); ` +
  `left ${left.size}, expected ${expected.size}: ${missing.length} missing, ${extra.length} unexpected`);
const ok = !failed && differences.length === 0 && missing.length === 0 && extra.length === 0 && result.deleted.length === subset.length;
console.log(ok ? 'compare: OK' : 'compare: DIFFERENCES FOUND');
process.exitCode = ok ? 0 : 1;

