// A run that never finishes on its own: it makes two namespaces, a veth pair between them and a
// long-lived process inside, records them in $CTH_MARKER and waits. suites/kernel/crash.test.ts
// kills the vitest process running it and checks nothing is left once a sweep has run.
import { execa } from 'execa';
import { writeFileSync } from 'node:fs';
import { test } from '../../harness/fixtures/index.ts';
import { ipIn } from '../../harness/os/ip.ts';

test('hangs holding namespaces, a veth pair and a process', async ({ netns, neighbourNetns }) => {
  await ipIn(netns.name, ['link', 'add', 'cthk0', 'type', 'veth', 'peer', 'name', 'cthk1', 'netns', neighbourNetns.name]);
  const sleeper = execa('ip', ['netns', 'exec', netns.name, 'sleep', '600'], { timeout: 600_000, reject: false });
  // `ip netns exec` execs into sleep: the pid stays the same.
  writeFileSync(process.env.CTH_MARKER!, JSON.stringify({ namespaces: [netns.name, neighbourNetns.name], sleeper: sleeper.pid }));
  await new Promise(() => {});
}, 600_000);
