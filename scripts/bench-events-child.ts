// Helper process of the bench: the client as an event listener of its own, as `conntrack -E` is.
// Subscribes to NEW events of one zone, prints `ready`, counts until `n` arrived or nothing came for
// QUIET_MS, and prints what it received, the overflows, when the last event came (ms since the
// epoch, to compare with the bench process's clock) and its event loop's longest gap meanwhile.
import { openEvents } from '../harness/conntrack/events.ts';

const QUIET_MS = 1500;
const [netns, zone, n] = process.argv.slice(2).map((a, i) => (i === 0 ? a : Number(a))) as [string, number, number];
const events = openEvents(netns, { zone, types: ['new'] });
let received = 0;
let overflows = 0;
let lastAt = 0;
let maxGapMs = 0;
let tick = performance.now();
const timer = setInterval(() => {
  const now = performance.now();
  maxGapMs = Math.max(maxGapMs, now - tick);
  tick = now;
}, 1);
let quiet: NodeJS.Timeout | undefined;
const rearm = () => {
  clearTimeout(quiet);
  quiet = setTimeout(() => void events.return(), received === 0 ? 30_000 : QUIET_MS);
};
rearm();
console.log('ready');
for await (const event of events) {
  if (event.type === 'overflow') {
    overflows++;
    continue;
  }
  received++;
  lastAt = performance.timeOrigin + performance.now();
  if (received === n) break;
  if (received === 1 || received % 256 === 0) rearm();
}
clearTimeout(quiet);
clearInterval(timer);
console.log(JSON.stringify({ received, overflows, lastAt, maxGapMs }));
