// Helper process of the bench, run compiled (esbuild, by bench.ts) with plain node as a user of
// the package would: one client operation on one zone as the first call of a fresh process (the
// cold figure), with its own peak RSS, so the memory is that of the operation alone.
//   list         list() of the zone: one array
//   stream       entries() of the zone: one datagram at a time
//   dump-delete  list() then delete() of the zone
import { ConntrackClient } from '../harness/conntrack/client.ts';
import { assertZone } from '../harness/conntrack/entry.ts';
import { ValidationError } from '../harness/errors.ts';
import { expectPositionals, scriptArgs } from '../harness/os/args.ts';
import { assertNetnsName } from '../harness/os/names.ts';

const MODES = ['list', 'stream', 'dump-delete'];
const { netns, zone, mode } = scriptArgs({
  name: 'bench-child',
  help: `usage: bench-child NETNS ZONE [${MODES.join('|')}]

Internal to npm run bench (compiled and run by plain node): one client operation on ZONE of
NETNS as the first call of a fresh process; prints { mode, entries, ms, peakRssMb } as JSON.`,
  options: {}, positionals: true,
  check: ({ positionals }) => {
    expectPositionals(positionals, [2, 3], 'NETNS ZONE [MODE]');
    const [netns, zone, mode = 'list'] = positionals as [string, string, string?];
    if (!MODES.includes(mode)) throw new ValidationError('ERR_INVALID_ARGUMENT', 'mode', mode, `MODE must be one of ${MODES.join(', ')}, not ${JSON.stringify(mode)}`);
    return { netns: assertNetnsName(netns), zone: assertZone(/^\d+$/.test(zone) ? Number(zone) : zone, 'ZONE'), mode };
  },
});
const client = await ConntrackClient.open({ netns, timeoutMs: 60_000 });
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
