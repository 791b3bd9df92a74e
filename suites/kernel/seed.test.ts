// The seed's five tests (Neutron's netlink_lib functional test), done right: a fresh namespace and
// a random non-default zone per test, exact sets, and identical tuples in a neighbour zone and a
// neighbour namespace that must survive every operation.
import type { ConntrackKey, EntryInput } from '../../harness/conntrack/entry.ts';
import { normalizeKey } from '../../harness/conntrack/entry.ts';
import { ConntrackClient } from '../../harness/conntrack/client.ts';
import { ConntrackOracle } from '../../harness/conntrack/oracle.ts';
import { expectSameEntries } from '../../harness/fixtures/assertions.ts';
import { describe, expect } from '../../harness/fixtures/index.ts';
import { CLIENT_IMPLEMENTATION, conformanceBlock, IMPLEMENTATIONS, implementationTest, skipWhenUnsupported, UNDER_TEST, type ImplementationContext } from '../../harness/fixtures/implementations.ts';

const FAMILIES = {
  ipv4: { a: '1.1.1.1', b: '2.2.2.2', icmp: 'icmp', echo: 8 },
  ipv6: { a: '2001:db8::1', b: '2001:db8::2', icmp: 'icmpv6', echo: 128 },
} as const;

function seedEntries(family: keyof typeof FAMILIES, zone: number): { icmp: EntryInput; tcp: EntryInput; udp: EntryInput } {
  const f = FAMILIES[family];
  return {
    icmp: { protocol: f.icmp, src: f.a, dst: f.b, icmpType: f.echo, icmpCode: 0, icmpId: 3333, zone },
    tcp: { protocol: 'tcp', src: f.a, dst: f.b, sport: 1, dport: 2, state: 'ESTABLISHED', zone },
    udp: { protocol: 'udp', src: f.a, dst: f.b, sport: 4, dport: 5, zone },
  };
}

// Who puts the entries in: the oracle (`conntrack -I`), or the client itself (then every check
// still goes through the oracle too, so the client cannot pass by agreeing with itself).
const CREATORS = {
  oracle: (netns: string) => ({ create: (entries: EntryInput[]) => new ConntrackOracle({ netns }).createMany(entries) }),
  client: (netns: string) => ({
    async create(entries: EntryInput[]) {
      await using client = await ConntrackClient.open({ netns });
      await client.create(entries);
    },
  }),
};

// Every implementation, and the one CTH_SUT chose when it is none of them (an adapter).
const MATRIX = [...IMPLEMENTATIONS, ...UNDER_TEST.filter((v) => !IMPLEMENTATIONS.includes(v))].flatMap((variant) =>
  (variant === CLIENT_IMPLEMENTATION ? (['oracle', 'client'] as const) : (['oracle'] as const)).map((creator) => ({ variant, creator })),
);

for (const { variant, creator } of MATRIX) {
  const test = implementationTest(variant);
  for (const family of ['ipv4', 'ipv6'] as const) {
    describe(`seed suite [${variant.name}, created by ${creator}] ${family}`, conformanceBlock({ implementation: variant.name, protocol: `seed, created by ${creator}`, family }), () => {
      // Creates the three entries in the zone, the neighbour zone and the neighbour namespace
      // (through the oracle, `conntrack -I`), and returns a checker for "exactly these are left".
      async function seed({ oracle, zone, neighbourZone, neighbourNetns, implementation }: ImplementationContext) {
        const mine = seedEntries(family, zone);
        const neighbour = Object.values(seedEntries(family, neighbourZone));
        const elsewhere = Object.values(mine);
        await CREATORS[creator](oracle.netns).create([...Object.values(mine), ...neighbour]);
        const otherOracle = new ConntrackOracle({ netns: neighbourNetns.name });
        await CREATORS[creator](neighbourNetns.name).create(elsewhere);
        const keys = {
          icmp: normalizeKey(mine.icmp), tcp: normalizeKey(mine.tcp), udp: normalizeKey(mine.udp),
        };
        async function expectLeft(left: ConntrackKey[]) {
          expectSameEntries(await implementation.list({ zone }), left, 'zone, as the system under test lists it');
          expectSameEntries(await oracle.list({ zone }), left, 'zone, as the oracle lists it');
          expectSameEntries(await oracle.list({ zone: neighbourZone }), neighbour.map((e) => normalizeKey(e)), 'neighbour zone');
          expectSameEntries(await otherOracle.list(), elsewhere.map((e) => normalizeKey(e)), 'neighbour namespace');
        }
        return { keys, expectLeft };
      }

      test('lists the ICMP, TCP and UDP entries of its zone', async ({ implementation, oracle, zone, neighbourZone, neighbourNetns, netns, skip, annotate }) => skipWhenUnsupported({ skip, annotate }, async () => {
        const ctx = { implementation, oracle, zone, neighbourZone, neighbourNetns, netns };
        const { keys, expectLeft } = await seed(ctx);
        const listed = await ctx.implementation.list({ zone: ctx.zone });
        expect(listed).toHaveLength(3);
        const tcp = listed.find((e) => e.protocol === 'tcp');
        expect(tcp?.state).toBe('ESTABLISHED');
        expect(listed.every((e) => e.zone === ctx.zone)).toBe(true);
        await expectLeft([keys.icmp, keys.tcp, keys.udp]);
      }));

      for (const which of ['icmp', 'tcp', 'udp'] as const) {
        test(`deletes the ${which.toUpperCase()} entry and nothing else`, async ({ implementation, oracle, zone, neighbourZone, neighbourNetns, netns, skip, annotate }) => skipWhenUnsupported({ skip, annotate }, async () => {
          const ctx = { implementation, oracle, zone, neighbourZone, neighbourNetns, netns };
          const { keys, expectLeft } = await seed(ctx);
          const result = await ctx.implementation.delete([keys[which]]);
          expectSameEntries(result.deleted, [keys[which]], 'reported deleted');
          expect(result.notFound).toEqual([]);
          expect(result.failed).toEqual([]);
          await expectLeft(Object.values(keys).filter((k) => k !== keys[which]));
        }));
      }

      test('deletes all three at once', async ({ implementation, oracle, zone, neighbourZone, neighbourNetns, netns, skip, annotate }) => skipWhenUnsupported({ skip, annotate }, async () => {
        const ctx = { implementation, oracle, zone, neighbourZone, neighbourNetns, netns };
        const { keys, expectLeft } = await seed(ctx);
        const result = await ctx.implementation.delete([keys.icmp, keys.tcp, keys.udp]);
        expectSameEntries(result.deleted, [keys.icmp, keys.tcp, keys.udp], 'reported deleted');
        expect(result.notFound).toEqual([]);
        expect(result.failed).toEqual([]);
        await expectLeft([]);
      }));
    });
  }
}
