// `npm run compare`: in a namespace of its own, creates entries of every protocol with
// conntrack-tools, compares Conntrack.list with `conntrack -L -o xml` field by field, deletes a
// subset with the client and checks that exactly the rest is left. Exit code 1 on any difference.
import { Conntrack } from '../harness/conntrack/client.ts';
import { crossCheck } from '../harness/conntrack/crosscheck.ts';
import { keyString } from '../harness/conntrack/entry.ts';
import { ConntrackCli } from '../harness/conntrack/oracle.ts';
import { mixedSamples, oracleArgsOf } from '../harness/protocols/index.ts';
import { Netns } from '../harness/system/netns.ts';

const zone = 4242;
const perProtocol = Number(process.argv[2] ?? 50);
await using ns = await Netns.create();
const oracle = new ConntrackCli({ netns: ns.name });
const entries = mixedSamples(zone, perProtocol);
await oracle.createMany(entries, oracleArgsOf);
await using ct = await Conntrack.open({ netns: ns.name });

const report = await crossCheck(ct, oracle, { zone });
console.log(`compared ${report.compared} entries (${entries.length} created) field by field: ${report.differences.length} difference(s)`);
for (const d of report.differences.slice(0, 20)) console.log(`  ${d.entry}: ${d.field} client=${JSON.stringify(d.client)} oracle=${JSON.stringify(d.oracle)}`);

const listed = await ct.list({ zone });
const subset = listed.filter((_, i) => i % 3 === 0);
const expected = new Set(listed.filter((_, i) => i % 3 !== 0).map(keyString));
const result = await ct.delete(subset);
const left = new Set((await oracle.list({ zone })).map(keyString));
const missing = [...expected].filter((k) => !left.has(k));
const extra = [...left].filter((k) => !expected.has(k));
console.log(`deleted ${result.deleted.length}/${subset.length} (notFound ${result.notFound.length}, failed ${result.failed.length}); ` +
  `left ${left.size}, expected ${expected.size}: ${missing.length} missing, ${extra.length} unexpected`);
const ok = report.differences.length === 0 && report.compared === entries.length && missing.length === 0 && extra.length === 0 &&
  result.deleted.length === subset.length;
console.log(ok ? 'compare: OK' : 'compare: DIFFERENCES FOUND');
process.exitCode = ok ? 0 : 1;
