// Deliberately failing traffic tests, run only in a child vitest by suites/kernel/traffic-cleanup.test.ts
// (never by `npm test`): they fail with flows running, and the last test records what survived.
import { writeFileSync } from 'node:fs';
import { describe, expect, test } from '../../harness/fixtures/topology.ts';
import { tcpRecipe, udpRecipe } from '../../harness/protocols/traffic.ts';
import { netnsPids } from '../../harness/os/ip.ts';
import { netnsExists } from '../../harness/os/netns.ts';
import { processStartTime } from '../../harness/os/proc.ts';
import { sessionOfNetns } from '../../harness/os/session.ts';
import type { Topology } from '../../harness/os/topology.ts';
import { notYet, waitFor } from '../../harness/os/wait.ts';

/** Where the parent test wants the report (JSON). */
const REPORT = process.env.CTH_TRAFFIC_FAIL_REPORT;

interface Recorded {
  test: string;
  namespaces: string[];
  /** Every process inside the namespaces when the test failed, with its start time (pid reuse). */
  processes: Array<{ pid: number; startTime: string }>;
}

const recorded: Recorded[] = [];

async function record(name: string, topology: Topology): Promise<void> {
  const namespaces = [topology.inspected.name, topology.peer.name];
  const pids = (await Promise.all(namespaces.map((ns) => netnsPids(ns)))).flat();
  const processes = pids.flatMap((pid) => {
    const startTime = processStartTime(pid);
    return startTime === undefined ? [] : [{ pid, startTime }];
  });
  recorded.push({ test: name, namespaces, processes });
}

describe('traffic tests that fail', () => {
  test('fails an assertion while a TCP and a UDP flow are running', async ({ topology }) => {
    await tcpRecipe('established').start(topology, 'ipv4');
    await udpRecipe('replied').start(topology, 'ipv6');
    await record('assertion', topology);
    expect(topology.processes.processes.filter((p) => p.running).length, 'deliberate failure').toBe(-1);
  });

  test('fails in a wait that never ends', async ({ topology }) => {
    await tcpRecipe('established').start(topology, 'ipv6');
    await record('wait', topology);
    await waitFor(() => notYet('the deliberate nothing'), { what: 'something that never happens', timeoutMs: 300 });
  });

  test('times out with a flow running', { timeout: 3_000 }, async ({ topology }) => {
    await tcpRecipe('established').start(topology, 'ipv4');
    await record('timeout', topology);
    await new Promise(() => {});
  });

  // Runs after the failures' teardowns (tests of a file run in order), before the run ends: so what
  // it sees gone was removed by the fixtures, not by the run's final sweep.
  test('records what the failed tests left', () => {
    const left = recorded.map((r) => ({
      test: r.test,
      processes: r.processes.length,
      namespacesLeft: r.namespaces.filter((ns) => netnsExists(ns)),
      processesAlive: r.processes.filter((p) => processStartTime(p.pid) === p.startTime).map((p) => p.pid),
    }));
    const session = sessionOfNetns(recorded[0]?.namespaces[0] ?? '');
    if (REPORT) writeFileSync(REPORT, JSON.stringify({ session, recorded, left }, null, 2), { mode: 0o600 });
  });
});
