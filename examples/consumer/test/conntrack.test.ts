// A consumer's own kernel tests: a fresh namespace and random zones per test from the fixtures,
// the harness's ctnetlink client beside the conntrack CLI, and a real flow over veth.
import { ConntrackClient, isHarnessError, normalizeKey, type EntryInput } from 'conntrack-harness';
import { describe, expect, expectSameEntries, test } from 'conntrack-harness/fixtures';
import { PROTOCOL_SPECS } from 'conntrack-harness/protocols';
import { awaitFlowEntry, test as trafficTest, udpRecipe } from 'conntrack-harness/topology';

describe('my conntrack tests', () => {
  test('entries created in my zone are listed there, by the client and by conntrack -L', async ({ client, oracle, zone, neighbourZone }) => {
    const mine: EntryInput[] = [1, 2, 3].map((i) => ({ protocol: 'udp', src: `10.0.0.${i}`, dst: '10.0.1.1', sport: 4000 + i, dport: 53, zone }));
    await client.create(mine);
    await client.create(mine.map((e) => ({ ...e, zone: neighbourZone })));
    expectSameEntries(await client.list({ zone }), mine.map((e) => normalizeKey(e)));
    expectSameEntries(await oracle.list({ zone }), await client.list({ zone }));
    expect(await client.deleteMatching({ zone })).toBe(3);
    expect(await client.count({ zone: neighbourZone })).toBe(3);
  });

  test('bad input is a typed error before any kernel call', async ({ netns }) => {
    await using client = await ConntrackClient.open({ netns: netns.name });
    const error = await client.create([{ protocol: 'udp', src: '10.0.0.1', dst: 'not-an-address', sport: 1, dport: 2, zone: 1 }]).catch((e: unknown) => e);
    expect(isHarnessError(error, 'ERR_INVALID_ADDRESS')).toBe(true);
  });

  test('the protocol registry is there', () => {
    expect(PROTOCOL_SPECS.map((s) => s.name)).toContain('udp');
  });
});

trafficTest('a real UDP exchange is tracked in the zone', async ({ topology, client, zone }) => {
  const flow = await udpRecipe('replied').start(topology, 'ipv4');
  const entry = await awaitFlowEntry(client, flow);
  expect(entry.zone).toBe(zone);
  expect(entry.status).toContain('SEEN_REPLY');
});
