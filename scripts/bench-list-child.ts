// Helper process of the bench: lists one zone with the client (as an array with `list`, or as a
// stream with `entries`) and prints its own peak RSS, so the memory figure is that of the list alone.
import { Conntrack } from '../harness/conntrack/client.ts';

const [netns, zone, mode = 'list'] = process.argv.slice(2);
const ct = await Conntrack.open({ netns: netns!, timeoutMs: 60_000 });
let entries = 0;
if (mode === 'stream') {
  for await (const _ of ct.entries({ zone: Number(zone) })) entries++;
} else {
  entries = (await ct.list({ zone: Number(zone) })).length;
}
ct.close();
console.log(JSON.stringify({ mode, entries, peakRssMb: process.resourceUsage().maxRSS / 1024 }));
