// The oracle on every conntrack-tools version at hand: the machine's own `conntrack` and each
// version fetched by `npm run conntrack-tools` (setup.sh fetches 1.4.6 and 1.4.8). Each filter is
// checked against a hand-written set over one known table, so a version whose CLI ignores an option
// (1.4.6 lists IPv4 only without -f) fails here, not silently in a cross-check. The oracle's own
// zone re-check is proven with a CLI that drops -w, as older conntrack-tools did with -w 0.
import { fileURLToPath } from 'node:url';
import { normalizeKey, type EntryInput } from '../../harness/conntrack/entry.ts';
import type { ConntrackFilter } from '../../harness/conntrack/filter.ts';
import { ConntrackOracle } from '../../harness/conntrack/oracle.ts';
import { expectSameEntries } from '../../harness/fixtures/assertions.ts';
import { describe, expect, test } from '../../harness/fixtures/index.ts';
import { CONNTRACK_TOOLS_VERSIONS, fetchedConntrackTools } from '../../harness/matrix/conntrack-tools.ts';
import { inCI } from '../../harness/os/prerequisites.ts';

const WITHOUT_ZONE = fileURLToPath(new URL('../support/conntrack-without-zone.mjs', import.meta.url));

/** The table: A-F by name, in the test's zone `z` or zone 0, both families, marks, a status and states. */
function table(z: number) {
  return {
    A: { protocol: 'udp', src: '10.31.0.1', dst: '10.31.0.2', sport: 1000, dport: 53, zone: z, mark: 1 },
    B: { protocol: 'udp', src: '10.31.0.1', dst: '10.31.0.2', sport: 1000, dport: 53, zone: 0, mark: 2 },
    C: { protocol: 'tcp', src: '10.31.0.1', dst: '10.31.0.3', sport: 1001, dport: 80, zone: z, mark: 3, state: 'ESTABLISHED', status: ['SEEN_REPLY', 'ASSURED'] },
    D: { protocol: 'udp', src: '2001:db8:31::1', dst: '2001:db8:31::2', sport: 1000, dport: 53, zone: z, mark: 1 },
    E: { protocol: 'tcp', src: '2001:db8:31::1', dst: '2001:db8:31::3', sport: 1001, dport: 80, zone: 0, mark: 4, state: 'SYN_SENT' },
    F: { protocol: 'icmp', src: '10.31.0.1', dst: '10.31.0.2', icmpType: 8, icmpCode: 0, icmpId: 7, zone: z },
  } satisfies Record<string, EntryInput>;
}
type Name = keyof ReturnType<typeof table>;

/** Each filter and the names it selects. */
function filterCases(z: number): Array<[ConntrackFilter, Name[]]> {
  return [
    [{}, ['A', 'B', 'C', 'D', 'E', 'F']],
    [{ zone: 0 }, ['B', 'E']],
    [{ zone: z }, ['A', 'C', 'D', 'F']],
    [{ zone: z, family: 'ipv6' }, ['D']],
    [{ family: 'ipv6' }, ['D', 'E']],
    [{ protocol: 'udp' }, ['A', 'B', 'D']],
    [{ zone: 0, protocol: 'tcp' }, ['E']],
    [{ src: '10.31.0.1' }, ['A', 'B', 'C', 'F']],
    [{ dst: '2001:db8:31::3' }, ['E']],
    [{ mark: 1 }, ['A', 'D']],
    [{ status: ['ASSURED'] }, ['C']],
    [{ protocol: 'tcp', state: 'SYN_SENT' }, ['E']],
    [{ zone: z, protocol: 'udp', dport: 53 }, ['A', 'D']],
  ];
}

const BINARIES = [
  { label: 'conntrack from PATH', binary: 'conntrack' },
  ...fetchedConntrackTools().map(({ version, binary }) => ({ label: `conntrack-tools ${version} (fetched)`, binary })),
];

for (const { label, binary } of BINARIES) {
  describe(`the oracle with ${label}`, () => {
    test('every filter lists exactly its entries of a known table, and deleteMatching and delete remove exactly theirs', async ({ client, netns, zone }) => {
      const oracle = new ConntrackOracle({ netns: netns.name, binary });
      const entries = table(zone);
      const pick = (names: readonly Name[]) => names.map((n) => normalizeKey(entries[n]));
      await client.create(Object.values(entries));
      for (const [filter, names] of filterCases(zone)) {
        const what = `conntrack-tools ${await oracle.version()}, ${JSON.stringify(filter)}`;
        expectSameEntries(await oracle.list(filter), pick(names), what);
        expect(await oracle.count(filter), `${what}: count`).toBe(names.length);
      }
      expect(await oracle.deleteMatching({ zone: 0 }), 'deleteMatching of zone 0 (one entry per family)').toBe(2);
      expect(await oracle.delete(entries.D)).toBe(1);
      expect(await oracle.delete(entries.D), 'a second delete finds nothing').toBe(0);
      expectSameEntries(await client.list(), pick(['A', 'C', 'F']), 'left, as the client lists them');
    });
  });
}

describe('the oracle\'s own zone filter', () => {
  test('holds when the CLI ignores -w: a conntrack that drops its zone option still gives exact zone listings', async ({ client, netns, zone }) => {
    const entries = table(zone);
    await client.create(Object.values(entries));
    const oracle = new ConntrackOracle({ netns: netns.name, binary: WITHOUT_ZONE });
    // The stand-in really ignores the zone: its raw output of -w 0 holds all six entries.
    const { stdout } = await oracle.run(['-L', '-w', '0', '-o', 'extended']);
    expect(stdout.trim().split('\n')).toHaveLength(6);
    expectSameEntries(await oracle.list({ zone: 0 }), [entries.B, entries.E].map(normalizeKey), 'zone 0');
    expectSameEntries(await oracle.list({ zone, protocol: 'udp' }), [entries.A, entries.D].map(normalizeKey), 'the test zone, UDP');
    expectSameEntries(await oracle.listXml({ zone: 0 }), [entries.B, entries.E].map(normalizeKey), 'zone 0, XML');
  });
});

describe('the conntrack-tools matrix', () => {
  const wanted = (process.env.CTH_CONNTRACK_TOOLS ?? '1.4.6 1.4.8').split(/\s+/).filter(Boolean);
  test.skipIf(!inCI())(`has every version setup.sh fetches (${wanted.join(', ')}) when CI is set`, () => {
    const fetched = fetchedConntrackTools().map((t) => t.version as string);
    expect(wanted.every((v) => (CONNTRACK_TOOLS_VERSIONS as string[]).includes(v)), `known versions: ${CONNTRACK_TOOLS_VERSIONS.join(', ')}`).toBe(true);
    expect(wanted.filter((v) => !fetched.includes(v)), 'missing: npm run conntrack-tools -- VERSION').toEqual([]);
  });
});
