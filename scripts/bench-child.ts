// Helper process of the bench, run compiled (esbuild, by bench.ts) with plain node as a user of
// the package would: one client operation on one zone as the first call of a fresh process (the
// cold figure), with its own peak RSS, so the memory is that of the operation alone.
//   list         list() of the zone: one array
//   stream       entries() of the zone: one datagram at a time
//   dump-delete  list() then delete() of the zone
import { ConntrackClient } from '../harness/conntrack/client.ts';

const [netns, zoneText, mode = 'list'] = process.argv.slice(2);
const zone = Number(zoneText);
const client = await ConntrackClient.open({ netns: netns!, timeoutMs: 60_000 });
let entries = 0;
const started = performance.now();
if (mode === 'stream') {
  for await (const _ of client.entries({ zone })) entries++;
} else if (mode === 'dump-delete') {
  const listed = await client.list({ zone });
  entries = (await client.delete(listed)).deleted.length;
} else {
  entries = (await client.list({ zone })).length;
}
const ms = performance.now() - started;
client.close();
console.log(JSON.stringify({ mode, entries, ms, peakRssMb: process.resourceUsage().maxRSS / 1024 }));
