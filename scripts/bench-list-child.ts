// Helper process of the bench: lists one zone with the client and prints its own peak RSS, so the
// memory figure is that of a process doing just the list.
import { Conntrack } from '../harness/conntrack/client.ts';

const [netns, zone] = process.argv.slice(2);
const ct = await Conntrack.open({ netns: netns!, timeoutMs: 60_000 });
const entries = await ct.list({ zone: Number(zone) });
ct.close();
console.log(JSON.stringify({ entries: entries.length, peakRssMb: process.resourceUsage().maxRSS / 1024 }));
