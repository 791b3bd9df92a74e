// Helper process of the bench (compiled and run with plain node, like bench-child.ts): the client
// as an event listener of its own, as `conntrack -E` is. Subscribes to NEW events of one zone,
// prints `ready`, counts until `n` arrived or nothing came for QUIET_MS, and prints what it
// received, the overflows, when the last event came (ms since the epoch, to compare with the bench
// process's clock) and its event loop's longest gap meanwhile.
import { assertZone } from '../harness/conntrack/entry.ts';
import { openEvents } from '../harness/conntrack/events.ts';
import { expectPositionals, positiveInt, scriptArgs } from '../harness/os/args.ts';
import { assertNetnsName } from '../harness/os/names.ts';
import { gapMeter } from './bench-measure.ts';

const QUIET_MS = 1500;
const { netns, zone, n } = scriptArgs({
  name: 'bench-events-child',
  help: `usage: bench-events-child NETNS ZONE N

Internal to npm run bench (compiled and run by plain node): listens for NEW events of ZONE in
NETNS, prints "ready", counts until N arrived or none came for ${QUIET_MS} ms, and prints
{ received, overflows, lastAt, maxGapMs } as JSON.`,
  options: {}, positionals: true,
  check: ({ positionals }) => {
    expectPositionals(positionals, 3, 'NETNS ZONE N');
    const [netns, zone, n] = positionals as [string, string, string];
    return { netns: assertNetnsName(netns), zone: assertZone(/^\d+$/.test(zone) ? Number(zone) : zone, 'ZONE'), n: positiveInt('N', n) };
  },
});
const events = openEvents(netns, { zone, types: ['new'] });
let received = 0;
let overflows = 0;
let lastAt = 0;
const gaps = gapMeter();
// The stream ends 30 s without a first event, or QUIET_MS after the last one.
const end = () => void events.return();
let quiet = setTimeout(end, 30_000);
console.log('ready');
for await (const event of events) {
  if (event.type === 'overflow') {
    overflows++;
    continue;
  }
  received++;
  lastAt = performance.timeOrigin + performance.now();
  if (received === n) break;
  if (received === 1) {
    clearTimeout(quiet);
    quiet = setTimeout(end, QUIET_MS);
  } else {
    quiet.refresh();
  }
}
clearTimeout(quiet);
console.log(JSON.stringify({ received, overflows, lastAt, maxGapMs: gaps.stop() }));
