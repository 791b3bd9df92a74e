// Events of entries made by real packets, and what their payloads leave out on each kernel: a TCP
// flow gives NEW in SYN_SENT, UPDATEs up to ESTABLISHED with ASSURED, and DESTROY when the client
// deletes it; a UDP flow NEW, then an UPDATE with SEEN_REPLY. Entries of the neighbour zone (same
// namespace) and of the neighbour namespace (same zone number) made meanwhile never appear.
import { release } from 'node:os';
import { ConntrackClient } from '../../harness/conntrack/client.ts';
import type { ConntrackEvent } from '../../harness/conntrack/events.ts';
import { keyString, type ConntrackEntry, type EntryInput, type Family } from '../../harness/conntrack/entry.ts';
import { describe, expect, test } from '../../harness/fixtures/topology.ts';
import { awaitFlowEntry, tcpRecipe, udpRecipe, type TrafficFlow } from '../../harness/protocols/traffic.ts';
import { atLeast } from '../../harness/os/kernel.ts';
import { reader } from '../support/events.ts';

/** Entries a flow's stream must not show: other tuples, in a zone and namespace given by the caller. */
const noise = (zone: number): EntryInput[] => Array.from({ length: 20 }, (_, i) => ({
  protocol: i % 2 === 0 ? 'tcp' : 'udp', src: '10.213.0.1', dst: '10.213.0.2', sport: 61_000 + i, dport: 80, zone,
  ...(i % 2 === 0 ? { state: 'ESTABLISHED' } : {}),
}));

const entryOf = (e: ConntrackEvent): ConntrackEntry => {
  if (e.type === 'overflow') throw new Error('an overflow in a quiet namespace');
  return e.entry;
};

/** Starts a stream in the flow's zone and makes noise next to it; returns the reader and the other namespace's client. */
async function watchFlowZone(client: ConntrackClient, zone: number, neighbourZone: number, neighbourNetns: string) {
  const events = client.events({ zone });
  const other = await ConntrackClient.open({ netns: neighbourNetns });
  try {
    await client.create(noise(neighbourZone));
    await other.create(noise(zone));
  } catch (error) {
    await events.return();
    other.close();
    throw error;
  }
  return { events, collect: reader(events), other };
}

function expectOnlyFlow(seen: readonly ConntrackEvent[], flow: TrafficFlow): void {
  expect(seen.map((e) => keyString(entryOf(e))), 'every event is the flow\'s').toEqual(seen.map(() => keyString(flow.key)));
}

// Linux 5.11 put the TCP state and the timeout into DESTROY events: older kernels send tuples, id,
// zone, status and (with accounting on) counters only.
const DESTROY_HAS_STATE = atLeast(release(), '5.11');

describe('events of real traffic', () => {
  for (const family of ['ipv4', 'ipv6'] as const satisfies readonly Family[]) {
    test(`tcp ${family}: new in SYN_SENT, updates up to ESTABLISHED with ASSURED, destroy when the client deletes it`,
      async ({ topology, client, zone, neighbourZone, neighbourNetns }) => {
        const { events, collect, other } = await watchFlowZone(client, zone, neighbourZone, neighbourNetns.name);
        try {
          const flow = await tcpRecipe('established').start(topology, family);
          const entry = await awaitFlowEntry(client, flow);
          const live = await collect((s) => s.some((e) => e.type === 'update' && entryOf(e).status?.includes('ASSURED')));
          await client.delete([entry]);
          const seen = [...live, ...(await collect((s) => s.some((e) => e.type === 'destroy')))];
          seen.push(...(await collect(() => false, 300)));
          expectOnlyFlow(seen, flow);
          const types = seen.map((e) => e.type);
          expect(types[0]).toBe('new');
          expect(types.at(-1)).toBe('destroy');
          expect(types.slice(1, -1).every((t) => t === 'update'), types.join(',')).toBe(true);
          const first = entryOf(seen[0]!);
          expect(first.state).toBe('SYN_SENT');
          expect(first.status).not.toContain('SEEN_REPLY');
          // An UPDATE carries protoinfo only when the state changed: the states it names go
          // forward to ESTABLISHED; some update brings ASSURED.
          const updates = seen.slice(1, -1).map(entryOf);
          const states = updates.flatMap((e) => (e.state ? [e.state] : []));
          expect(states.at(-1), states.join(',')).toBe('ESTABLISHED');
          const rank = (state: string) => ['SYN_RECV', 'ESTABLISHED'].indexOf(state);
          expect(states.every((state, i) => rank(state) >= 0 && (i === 0 || rank(state) >= rank(states[i - 1]!))), states.join(',')).toBe(true);
          expect(updates.some((e) => e.status?.includes('ASSURED'))).toBe(true);
          expect(updates.every((e) => e.status !== undefined && e.reply !== undefined)).toBe(true);
          // DESTROY: tuples, id and status (DYING set) on every kernel; the TCP state and the
          // timeout left only from 5.11 on (measured on 5.10, 6.1 and 6.18).
          const destroyed = entryOf(seen.at(-1)!);
          expect(destroyed.id).toBe(entry.id);
          expect(destroyed.reply).toEqual(flow.reply);
          expect(destroyed.status).toContain('DYING');
          expect(destroyed.state).toBe(DESTROY_HAS_STATE ? 'ESTABLISHED' : undefined);
          expect(destroyed.timeout === undefined).toBe(!DESTROY_HAS_STATE);
        } finally {
          await events.return();
          other.close();
        }
      });

    test(`udp ${family}: new without SEEN_REPLY, then an update with it`, async ({ topology, client, zone, neighbourZone, neighbourNetns }) => {
      const { events, collect, other } = await watchFlowZone(client, zone, neighbourZone, neighbourNetns.name);
      try {
        const flow = await udpRecipe('replied').start(topology, family);
        await awaitFlowEntry(client, flow);
        const seen = await collect((s) => s.some((e) => e.type === 'update'));
        seen.push(...(await collect(() => false, 300)));
        expectOnlyFlow(seen, flow);
        expect(seen.map((e) => e.type)).toEqual(['new', 'update']);
        expect(entryOf(seen[0]!).status).not.toContain('SEEN_REPLY');
        expect(entryOf(seen[1]!).status).toContain('SEEN_REPLY');
        expect(entryOf(seen[1]!).reply).toEqual(flow.reply);
      } finally {
        await events.return();
        other.close();
      }
    });
  }
});
