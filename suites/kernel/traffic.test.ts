// Entries made by real packets: every traffic recipe of the registry x family runs over a veth
// topology whose zone is set by nft, and the system under test (CTH_SUT, default the client) must
// list and delete them as the kernel made them; the TCP pick-up cases check the kernel itself.
import { readFileSync } from 'node:fs';
import { ConntrackClient } from '../../harness/conntrack/client.ts';
import { keyString, type ConntrackEntry, type ConntrackKey, type EntryInput } from '../../harness/conntrack/entry.ts';
import { expectSameEntries } from '../../harness/fixtures/assertions.ts';
import { conformanceBlock, ORACLE_IMPLEMENTATION, skipWhenUnsupported, UNDER_TEST, type ImplementationVariant } from '../../harness/fixtures/implementations.ts';
import { describe, expect, test, trafficImplementationTest } from '../../harness/fixtures/topology.ts';
import { PROTOCOL_SPECS } from '../../harness/protocols/index.ts';
import { awaitFlowEntry, entriesOf, type TrafficFlow } from '../../harness/protocols/traffic.ts';
import { readSysctl, writeSysctl, type Topology } from '../../harness/os/topology.ts';

const TCP_LOOSE = 'net.netfilter.nf_conntrack_tcp_loose';

type StatusFlags = Pick<TrafficFlow, 'statusIncludes' | 'statusExcludes'>;

/** Checks one listed entry against what the recipe says the kernel must show (its flags in `flags`' terms). */
function expectFlowEntry(entry: ConntrackEntry, flow: TrafficFlow, zone: number, what: string, flags: StatusFlags = flow): void {
  expect(entry, what).toMatchObject({ ...flow.key, zone });
  expect(entry.reply, `${what}: reply tuple`).toEqual(flow.reply);
  expect(entry.state, `${what}: TCP state`).toBe(flow.state);
  for (const flag of flags.statusIncludes) expect(entry.status, `${what}: status has ${flag}`).toContain(flag);
  for (const flag of flags.statusExcludes) expect(entry.status, `${what}: status lacks ${flag}`).not.toContain(flag);
}

/**
 * The recipe's status flags in the terms `variant` lists them: kernel flag names, or for the CLI
 * the two words `-o extended` prints, ASSURED and UNREPLIED (a flow without SEEN_REPLY).
 */
function statusTerms(variant: ImplementationVariant, flow: TrafficFlow): StatusFlags {
  if (variant !== ORACLE_IMPLEMENTATION) return flow;
  const cli = (flags: readonly string[], other: readonly string[]) => [
    ...(flags.includes('ASSURED') ? ['ASSURED'] : []), ...(other.includes('SEEN_REPLY') ? ['UNREPLIED'] : []),
  ];
  return { statusIncludes: cli(flow.statusIncludes, flow.statusExcludes), statusExcludes: cli(flow.statusExcludes, flow.statusIncludes) };
}

/** The oracle must see the same entry: same tuple, reply, state, id, and the same flags in its terms. */
function expectOracleAgrees(oracleEntries: ConntrackEntry[], entry: ConntrackEntry): void {
  const [seen, ...more] = entriesOf(oracleEntries, entry);
  expect(more, 'the oracle lists the flow once').toEqual([]);
  expect(seen, 'the oracle lists the flow').toBeDefined();
  expect(seen!.reply).toEqual(entry.reply);
  expect(seen!.state).toBe(entry.state);
  expect(seen!.id).toBe(entry.id);
  expect(seen!.status?.includes('ASSURED'), 'oracle ASSURED = client ASSURED').toBe(entry.status?.includes('ASSURED'));
  expect(seen!.status?.includes('UNREPLIED'), 'oracle UNREPLIED = client lacks SEEN_REPLY').toBe(!entry.status?.includes('SEEN_REPLY'));
}

/** The peer namespace has no ruleset that needs conntrack, so it tracks nothing at all. */
async function expectPeerTracksNothing(topology: Topology): Promise<void> {
  await using peer = await ConntrackClient.open({ netns: topology.peer.name });
  expect(await peer.list(), 'peer namespace table').toEqual([]);
}

/** An oracle-made copy of the flow's key with some fields changed (TCP copies are ESTABLISHED). */
function copyOf(key: ConntrackKey, changes: Partial<ConntrackKey>): EntryInput {
  return { ...key, ...(key.protocol === 'tcp' ? { state: 'ESTABLISHED' } : {}), ...changes };
}

/** The tuple next to the flow's (next source port or ICMP id): it must survive deleting the flow. */
function nextTo(key: ConntrackKey): Partial<ConntrackKey> {
  return key.icmpId !== undefined ? { icmpId: (key.icmpId % 65_535) + 1 } : { sport: (key.sport! % 65_535) + 1 };
}

for (const spec of PROTOCOL_SPECS) {
  for (const recipe of spec.traffic ?? []) {
    for (const family of recipe.families.filter((f) => spec.families.includes(f))) {
      for (const variant of UNDER_TEST) {
        const underTest = trafficImplementationTest(variant);
        describe(`traffic ${spec.name} ${recipe.name} ${family} [${variant.name}]`,
          conformanceBlock({ implementation: variant.name, protocol: spec.name, family, recipe: recipe.name }), () => {
          underTest('lists the flow in its zone with its state, status and reply tuple',
            async ({ topology, implementation, oracle, zone, skip, annotate }) => skipWhenUnsupported({ skip, annotate }, async () => {
              const flow = await recipe.start(topology, family);
              const entry = await awaitFlowEntry(implementation, flow);
              expectFlowEntry(entry, flow, zone, flow.description, statusTerms(variant, flow));
              // Both hooks set the zone: the reply direction found the same entry, so the whole
              // namespace table is this one entry (nothing in zone 0, no second entry for replies).
              const all = await implementation.list();
              expectSameEntries(all, [flow.key], 'the inspected namespace table, all zones');
              const filtered = await implementation.list({ zone, family, protocol: spec.protocol });
              expectSameEntries(filtered, [flow.key], 'the zone, filtered by family and protocol');
              expect(filtered[0]?.id).toBe(entry.id);
              // The CLI as the system under test is the oracle itself: nothing to cross-check.
              if (variant !== ORACLE_IMPLEMENTATION) expectOracleAgrees(await oracle.list({ zone }), entry);
              await expectPeerTracksNothing(topology);
            }));

          underTest('deleting the flow\'s entry removes exactly it',
            async ({ topology, implementation, oracle, client, zone, neighbourZone, skip, annotate }) => skipWhenUnsupported({ skip, annotate }, async () => {
              const flow = await recipe.start(topology, family);
              const entry = await awaitFlowEntry(implementation, flow);
              // Identical tuple in the neighbour zone, a neighbouring tuple in the same zone: both stay.
              const neighbours = [copyOf(flow.key, nextTo(flow.key)), copyOf(flow.key, { zone: neighbourZone })];
              await oracle.createMany(neighbours, spec.oracleArgs);
              const before = await implementation.list();
              expect(entriesOf(before, flow.key)).toEqual([expect.objectContaining({ id: entry.id })]);

              const result = await implementation.delete([flow.key]);
              expectSameEntries(result.deleted, [flow.key], 'reported deleted');
              expect(result.notFound).toEqual([]);
              expect(result.failed).toEqual([]);

              const after = await implementation.list();
              const flowKey = keyString(flow.key);
              expectSameEntries(after, before.filter((e) => keyString(e) !== flowKey), 'the namespace table after the delete');
              expect(after.map((e) => e.id)).not.toContain(entry.id);
              // Checked by the other side: the oracle, or the client when the CLI is under test.
              const checker = variant === ORACLE_IMPLEMENTATION ? client : oracle;
              expectSameEntries(await checker.list(), after, 'the namespace table, as the other side lists it');
              expect(after).toHaveLength(2);
              // Gone means gone: a second delete finds nothing.
              const again = await implementation.delete([flow.key]);
              expectSameEntries(again.notFound, [flow.key], 'a second delete reports it not found');
              expect(again.deleted).toEqual([]);
              await expectPeerTracksNothing(topology);
            }));
        });
      }

      // The kernel's own behaviour, seen through the harness's client whatever CTH_SUT is.
      if (spec.protocol === 'tcp' && recipe.live) {
        describe(`traffic ${spec.name} ${recipe.name} ${family}, kernel pick-up`, () => {
          for (const loose of [1, 0] as const) {
            test(`a live flow whose entry was deleted is ${loose ? '' : 'not '}re-created by its next packet (${TCP_LOOSE}=${loose} in the namespace)`,
              async ({ topology, client, oracle, zone }) => {
                const hostBefore = readFileSync(`/proc/sys/${TCP_LOOSE.replaceAll('.', '/')}`, 'utf8').trim();
                await writeSysctl(topology.inspected, TCP_LOOSE, loose);
                const flow = await recipe.start(topology, family);
                expectFlowEntry(await awaitFlowEntry(client, flow), flow, zone, flow.description);
                expect((await client.delete([flow.key])).deleted).toHaveLength(1);
                expect(entriesOf(await client.list({ zone }), flow.key), 'entry right after the delete').toEqual([]);

                // One more request and its echo: both directions crossed the inspected namespace's hooks.
                await flow.exchange!();
                const now = await readSysctl(topology.inspected, TCP_LOOSE);
                expect(now).toBe(String(loose));
                if (Number(now) !== 0) {
                  // Picked up mid-stream from the client's data segment: a new ESTABLISHED entry
                  // that has seen the answer. ASSURED needs a packet after SEEN_REPLY (the client's
                  // ACK of the answer, maybe delayed), so it is not asserted yet.
                  // (Its kernel id may equal the deleted one's: ids hash the object's address and
                  // tuple, and the freed object is often reused. Absent above, present now is the proof.)
                  const picked = await awaitFlowEntry(client, flow);
                  expectFlowEntry(picked, { ...flow, statusIncludes: ['CONFIRMED', 'SEEN_REPLY'] }, zone,
                    'the entry re-created by the next packet');
                  // The next exchange's first segment comes after SEEN_REPLY: now it is ASSURED.
                  await flow.exchange!();
                  const assured = await awaitFlowEntry(client, flow);
                  expect(assured.id).toBe(picked.id);
                  expectFlowEntry(assured, flow, zone, 'the re-created entry after one more exchange');
                  expectSameEntries(await client.list(), [flow.key], 'the namespace table after the pick-up');
                  expectOracleAgrees(await oracle.list({ zone }), assured);
                } else {
                  // Without loose pick-up a segment that is not a SYN makes no entry, in either
                  // direction; the packets still pass (nothing drops INVALID here).
                  expect(await client.list(), 'the namespace table after the next packets').toEqual([]);
                  expect(await oracle.list(), 'the namespace table, as the oracle lists it').toEqual([]);
                }
                // The setting was the namespace's own: the host's value did not move.
                expect(readFileSync(`/proc/sys/${TCP_LOOSE.replaceAll('.', '/')}`, 'utf8').trim()).toBe(hostBefore);
                await expectPeerTracksNothing(topology);
              });
          }
        });
      }
    }
  }
}
