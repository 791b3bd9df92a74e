// NAT entries made by real packets: an nft dnat (output) or snat (postrouting) rule in the inspected
// namespace rewrites a TCP or UDP flow to the peer, and the client must list the entry with the
// translated reply tuple and NAT status, filter it by NAT kind like the CLI, and delete only it.
import { expectSameEntries } from '../../harness/fixtures/assertions.ts';
import { describe, expect, test } from '../../harness/fixtures/topology.ts';
import { keyString, normalizeKey, type ConntrackEntry, type ConntrackTuple, type Family } from '../../harness/conntrack/entry.ts';
import { oracleArgsOf } from '../../harness/protocols/index.ts';
import { tcpRecipe } from '../../harness/protocols/traffic.ts';
import {
  awaitFlowEntry, entriesOf, FLOW_WAIT_MS, randomClientPort, randomServerPort, startEchoServer, type TrafficFlow,
} from '../../harness/protocols/traffic.ts';
import { natRuleset, Topology, TOPOLOGY_NAT_ADDRESSES, type NatRule } from '../../harness/os/topology.ts';

type Protocol = 'tcp' | 'udp';
type NatKind = 'snat' | 'dnat';

const FAMILIES: readonly Family[] = ['ipv4', 'ipv6'];
const PROTOCOLS: readonly Protocol[] = ['tcp', 'udp'];

interface NatFlow extends TrafficFlow {
  rule: NatRule;
  /** The client's socket as the server sees it (after SNAT), for the `ss` check in the peer. */
  seenByServer: { address: string; port: number };
}

function hostPort(family: Family, address: string, port: number): string {
  return family === 'ipv6' ? `[${address}]:${port}` : `${address}:${port}`;
}

/** A port in `pick`'s range that is none of `taken`. */
function otherPort(pick: () => number, ...taken: number[]): number {
  for (;;) {
    const port = pick();
    if (!taken.includes(port)) return port;
  }
}

/**
 * One TCP (held open) or UDP (one datagram echoed) flow through a NAT rule: the echo server listens
 * on the peer's address, the socat client in `inspected` sends to the DNAT'd address (dnat) or to the
 * peer from a source port that the snat rule maps to the spare address and another port (snat).
 */
async function startNatFlow(topology: Topology, family: Family, protocol: Protocol, kind: NatKind): Promise<NatFlow> {
  const client = topology.address(family, 'inspected');
  const server = topology.address(family, 'peer');
  const port = randomServerPort();
  const sport = randomClientPort();
  let rule: NatRule;
  let target: { address: string; port: number };
  if (kind === 'dnat') {
    // The client sends to an address nobody has, on another port; output DNAT sends it to the server.
    target = { address: TOPOLOGY_NAT_ADDRESSES[family].dnat, port: otherPort(randomServerPort, port) };
    rule = { kind, family, protocol, match: target, to: { address: server, port } };
  } else {
    target = { address: server, port };
    rule = { kind, family, protocol, match: { address: client, port: sport }, to: { address: TOPOLOGY_NAT_ADDRESSES[family].snat, port: otherPort(randomClientPort, sport) } };
  }
  await topology.nat([rule]);
  await startEchoServer(topology, family, protocol, port);
  const socat = topology.spawn('inspected',
    ['socat', '-', `${protocol.toUpperCase()}${family === 'ipv4' ? '4' : '6'}:${hostPort(family, target.address, target.port)},sourceport=${sport}`],
    { stdin: true });
  const line = `cth-nat-${sport}\n`;
  await socat.write(line);
  await socat.waitForOutput(line, FLOW_WAIT_MS);

  const key = normalizeKey({ protocol, src: client, dst: target.address, sport, dport: target.port, zone: topology.zone });
  // The reply tuple is what the answer really looks like on the wire: from the server's real
  // address and port (dnat), to the address and port the source was rewritten to (snat).
  const reply: ConntrackTuple = kind === 'dnat'
    ? { src: server, dst: client, sport: port, dport: sport }
    : { src: server, dst: rule.to.address, sport: port, dport: rule.to.port! };
  const nat = kind === 'dnat' ? 'DST_NAT' : 'SRC_NAT';
  const notNat = kind === 'dnat' ? 'SRC_NAT' : 'DST_NAT';
  return {
    description: `${protocol} ${family} ${hostPort(family, client, sport)} -> ${hostPort(family, target.address, target.port)} through ${kind} ${JSON.stringify(rule.to)}`,
    key,
    reply,
    ...(protocol === 'tcp' ? { state: 'ESTABLISHED' } : {}),
    // Both NAT hooks ran for the flow's first packet, so both manips are done, the one without a
    // rule with a null binding: *_NAT_DONE are both set, only the rule's own kind is *_NAT.
    statusIncludes: ['CONFIRMED', 'SEEN_REPLY', nat, 'SRC_NAT_DONE', 'DST_NAT_DONE', ...(protocol === 'tcp' ? ['ASSURED'] : [])],
    statusExcludes: [notNat, ...(protocol === 'udp' ? ['ASSURED'] : [])],
    client: socat,
    rule,
    seenByServer: kind === 'dnat' ? { address: client, port: sport } : { address: rule.to.address, port: rule.to.port! },
  };
}

/** The entry, field by field: original tuple and zone, the exact reply tuple, state and status. */
function expectNatEntry(entry: ConntrackEntry, flow: NatFlow, zone: number): void {
  const what = flow.description;
  expect(entry, what).toMatchObject({ ...flow.key, zone });
  expect(entry.zone, `${what}: zone`).toBe(zone);
  expect(entry.reply, `${what}: reply tuple`).toEqual(flow.reply);
  expect(entry.state, `${what}: TCP state`).toBe(flow.state);
  for (const flag of flow.statusIncludes) expect(entry.status, `${what}: status has ${flag}`).toContain(flag);
  for (const flag of flow.statusExcludes) expect(entry.status, `${what}: status lacks ${flag}`).not.toContain(flag);
}

/** `listed` is exactly `entries`: same original tuples and zones, reply tuples and kernel ids. */
function expectExactly(listed: readonly ConntrackEntry[], entries: readonly ConntrackEntry[], what: string): void {
  const view = (e: ConntrackEntry) => ({ key: keyString(e), reply: e.reply, id: e.id });
  const order = (a: { key: string }, b: { key: string }) => a.key.localeCompare(b.key);
  expect(listed.map(view).sort(order), what).toEqual(entries.map(view).sort(order));
}

/** The server's side of the flow, as `ss` in the peer shows it: from the (translated) client. */
async function expectServerSaw(topology: Topology, family: Family, flow: NatFlow): Promise<void> {
  const args = ['ss', '-H', '-n', family === 'ipv4' ? '-4' : '-6', flow.key.protocol === 'tcp' ? '-t' : '-u', '-a'];
  const { stdout } = await topology.peer.exec(args, { timeout: 15_000 });
  const server = hostPort(family, flow.reply.src, flow.reply.sport!);
  const peer = hostPort(family, flow.seenByServer.address, flow.seenByServer.port);
  const lines = stdout.split('\n').map((l) => l.trim().split(/\s+/));
  // Columns: State Recv-Q Send-Q Local Peer ...
  expect(lines.some((cols) => cols[3] === server && cols[4] === peer), `peer socket ${server} <- ${peer} in:\n${stdout}`).toBe(true);
}

for (const family of FAMILIES) {
  for (const protocol of PROTOCOLS) {
    for (const kind of ['dnat', 'snat'] as const) {
      const nat = kind === 'dnat' ? 'dst' : 'src';
      const other = kind === 'dnat' ? 'src' : 'dst';
      describe(`nat traffic ${kind} ${protocol} ${family}`, () => {
        test(`the entry has the translated reply tuple and ${kind === 'dnat' ? 'DST_NAT' : 'SRC_NAT'}; nat: '${nat}' lists exactly it, as the CLI does`,
          async ({ topology, client, oracle, zone }) => {
            const flow = await startNatFlow(topology, family, protocol, kind);
            const entry = await awaitFlowEntry(client, flow);
            expectNatEntry(entry, flow, zone);
            // The server saw the real addresses: the translation happened on the wire.
            await expectServerSaw(topology, family, flow);

            // The reply direction found the same entry: the whole table is this one NAT entry.
            expectExactly(await client.list(), [entry], 'the inspected namespace table, all zones');
            expectExactly(await client.list({ nat }), [entry], `client.list({ nat: '${nat}' })`);
            expectExactly(await client.list({ nat: 'any' }), [entry], 'client.list({ nat: \'any\' })');
            expect(await client.list({ nat: other }), `client.list({ nat: '${other}' })`).toEqual([]);
            expectExactly(await client.list({ zone, family, protocol, nat }), [entry], 'the zone, family, protocol and NAT kind');
            // The CLI decides NAT from the tuples (reply source != original destination, reply
            // destination != original source), the client from the status bits: they must agree.
            expectExactly(await oracle.list({ nat }), [entry], `conntrack -L --${nat}-nat`);
            expectExactly(await oracle.list({ nat: 'any' }), [entry], 'conntrack -L --any-nat');
            expect(await oracle.list({ nat: other }), `conntrack -L --${other}-nat`).toEqual([]);
          });
      });
    }
  }

  describe(`nat traffic delete ${family}`, () => {
    test('deleting the DNAT entry removes exactly it: the SNAT and plain flows, and its copy in the neighbour zone, stay',
      async ({ topology, client, oracle, zone, neighbourZone }) => {
        const dnat = await startNatFlow(topology, family, 'tcp', 'dnat');
        const snat = await startNatFlow(topology, family, 'tcp', 'snat');
        const plain = await tcpRecipe('established').start(topology, family);
        const dnatEntry = await awaitFlowEntry(client, dnat);
        const snatEntry = await awaitFlowEntry(client, snat);
        const plainEntry = await awaitFlowEntry(client, plain);
        expectNatEntry(dnatEntry, dnat, zone);
        expectNatEntry(snatEntry, snat, zone);
        expect(plainEntry.reply).toEqual(plain.reply);
        for (const flag of ['SRC_NAT', 'DST_NAT']) expect(plainEntry.status, `plain flow lacks ${flag}`).not.toContain(flag);

        // The same DNAT entry in the neighbour zone, made by the CLI with the same binding.
        await oracle.createMany([{
          ...dnat.key, zone: neighbourZone, state: 'ESTABLISHED', dnat: { address: dnat.rule.to.address, port: dnat.rule.to.port },
        }], oracleArgsOf);
        const copy = (await client.list({ zone: neighbourZone }))[0]!;
        expect(copy.reply, 'the neighbour copy\'s reply tuple').toEqual(dnat.reply);

        const before = await client.list();
        expectSameEntries(before, [dnat.key, snat.key, plain.key, copy], 'the namespace table before the delete');
        expectExactly(await client.list({ zone, nat: 'dst' }), [dnatEntry], 'the zone\'s DNAT entries');
        expectExactly(await client.list({ zone, nat: 'src' }), [snatEntry], 'the zone\'s SNAT entries');
        expectExactly(await client.list({ nat: 'dst' }), [dnatEntry, copy], 'every DNAT entry');
        expectExactly(await oracle.list({ nat: 'dst' }), [dnatEntry, copy], 'every DNAT entry, as the oracle lists them');
        expectExactly(await oracle.list({ nat: 'src' }), [snatEntry], 'every SNAT entry, as the oracle lists them');

        const result = await client.delete([dnat.key]);
        expectSameEntries(result.deleted, [dnat.key], 'reported deleted');
        expect(result.notFound).toEqual([]);
        expect(result.failed).toEqual([]);

        const after = await client.list();
        expectExactly(after, before.filter((e) => keyString(e) !== keyString(dnat.key)), 'the namespace table after the delete');
        expect(entriesOf(after, dnat.key), 'the DNAT entry').toEqual([]);
        expectExactly(await oracle.list(), after, 'the namespace table after the delete, as the oracle lists it');
        expectExactly(await client.list({ nat: 'dst' }), [copy], 'DNAT entries after the delete');
        expectExactly(await client.list({ nat: 'src' }), [snatEntry], 'SNAT entries after the delete');
        const again = await client.delete([dnat.key]);
        expectSameEntries(again.notFound, [dnat.key], 'a second delete reports it not found');
        expect(again.deleted).toEqual([]);
      });
  });
}

describe('nat rules', () => {
  const good: NatRule = { kind: 'dnat', family: 'ipv4', protocol: 'tcp', match: { address: '10.213.0.9', port: 8080 }, to: { address: '10.213.0.2', port: 80 } };

  test('render into nat chains at output -100 and postrouting 100 of the topology\'s table', () => {
    const snat: NatRule = { kind: 'snat', family: 'ipv6', protocol: 'udp', match: { address: 'fd00:c7::1', port: 4000 }, to: { address: 'fd00:c7::3' } };
    expect(natRuleset([good, snat])).toBe([
      'table inet cth {',
      '  chain nat_out {',
      '    type nat hook output priority -100; policy accept;',
      '    ip daddr 10.213.0.9 tcp dport 8080 dnat ip to 10.213.0.2:80',
      '  }',
      '  chain nat_post {',
      '    type nat hook postrouting priority 100; policy accept;',
      '    ip6 saddr fd00:c7::1 udp sport 4000 snat ip6 to fd00:c7::3',
      '  }',
      '}',
      '',
    ].join('\n'));
  });

  test('are all validated before any command runs: one bad rule loads none', async ({ topology, zone }) => {
    const before = await topology.ruleset();
    const addresses = async () => (await topology.inspected.exec(['ip', '-br', 'addr'], { timeout: 15_000 })).stdout;
    const addressesBefore = await addresses();
    const snat: NatRule = { kind: 'snat', family: 'ipv4', protocol: 'tcp', match: { address: '10.213.0.1', port: 4000 }, to: { address: '10.213.0.3' } };
    const bad: Array<[unknown, string]> = [
      [{ ...good, kind: 'masquerade' }, 'nat[1].kind'],
      [{ ...good, family: 'ipv6' }, 'nat[1].match.address'],
      [{ ...good, to: { address: '192.0.2.1', port: 80 } }, 'nat[1].to.address'],
      [{ ...good, to: { address: '10.213.0.1', port: 80 } }, 'nat[1].to.address'],
      [{ ...good, match: { address: '10.213.0.9' } }, 'nat[1].match.port'],
      [{ ...good, match: { address: '10.213.0.9', port: 70000 } }, 'nat[1].match.port'],
      [{ ...good, comment: 'x' }, 'nat[1].comment'],
      [{ ...snat, to: { address: '10.213.0.2' } }, 'nat[1].to.address'],
      [{ ...snat, match: { address: '10.213.0.3', port: 4000 } }, 'nat[1].match.address'],
    ];
    for (const [rule, field] of bad) {
      await expect(topology.nat([snat, rule as NatRule]), JSON.stringify(rule)).rejects.toMatchObject({ name: 'ValidationError', field });
    }
    await expect(Topology.create({ zone, nat: [bad[0]![0] as NatRule] })).rejects.toMatchObject({ name: 'ValidationError', field: 'nat[0].kind' });
    expect(await topology.ruleset(), 'the ruleset').toBe(before);
    expect(await addresses(), 'the addresses (no spare address added)').toBe(addressesBefore);
    expect(topology.natRules).toEqual([]);
  });
});
