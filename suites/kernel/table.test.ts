// The conntrack table beyond list/delete: generic protocols in a deleteMatching, every filter compared with
// what `conntrack -L <same filter>` prints, unknown filter keys refused before anything is sent,
// NAT, directional zones, statistics, counters and timestamps, labels.
import { ConntrackClient } from '../../harness/conntrack/client.ts';
import { keyString, normalizeKey, type ConntrackEntry, type EntryInput } from '../../harness/conntrack/entry.ts';
import type { ConntrackFilter } from '../../harness/conntrack/filter.ts';
import { expectSameEntries, keySet } from '../../harness/fixtures/assertions.ts';
import { describe, expect, randomZone, test } from '../../harness/fixtures/index.ts';
import { mixedSamples } from '../../harness/protocols/index.ts';
import { oracleArgsOf } from '../../harness/protocols/index.ts';
import { codeOfAsync as codeOf } from '../support/codes.ts';


const keys = (entries: readonly EntryInput[]) => entries.map((e) => normalizeKey(e));

describe('generic protocols', () => {
  test('deleteMatching of a zone holding one IGMP and one UDP entry returns 2 and leaves it empty', async ({ client, oracle, zone, neighbourZone }) => {
    const entries: EntryInput[] = [
      { protocol: 'igmp', src: '198.51.100.1', dst: '224.0.0.22', zone },
      { protocol: 'udp', src: '198.51.100.1', dst: '203.0.113.1', sport: 1000, dport: 53, zone },
    ];
    await oracle.createMany([...entries, ...entries.map((e) => ({ ...e, zone: neighbourZone }))]);
    expectSameEntries(await client.list({ zone }), keys(entries), 'both listed by the client');
    expect(await client.count({ zone })).toBe(2);
    expect(await client.deleteMatching({ zone })).toBe(2);
    expect(await oracle.list({ zone })).toEqual([]);
    expect(await oracle.count({ zone: neighbourZone })).toBe(2);
  });

  test('protocol 200 is reported by number in both families, and refuses ports', async ({ client, oracle, zone }) => {
    const entries: EntryInput[] = [
      { protocol: 200, src: '198.51.100.1', dst: '203.0.113.1', zone },
      { protocol: 200, src: '2001:db8::1', dst: '2001:db8::2', zone },
    ];
    await oracle.createMany(entries);
    const listed = await client.list({ zone, protocol: 200 });
    expect(listed.map((e) => [e.family, e.protocol]).sort()).toEqual([['ipv4', 200], ['ipv6', 200]]);
    expect(listed.every((e) => e.sport === undefined && e.reply?.src === e.dst)).toBe(true);
    expect(await codeOf(() => client.create([{ ...entries[0]!, sport: 1 }]))).toBe('ERR_INVALID_ENTRY');
  });
});

describe('filters', () => {
  test('an unknown filter key or a bad value is refused before anything is sent, by every filter user', async ({ client, oracle, zone }) => {
    const entries = mixedSamples(zone, 1);
    await oracle.createMany(entries, oracleArgsOf);
    const bad = { zone, mark: 0x1200, bogus: 1 } as unknown as ConntrackFilter;
    expect(await codeOf(() => client.list(bad))).toBe('ERR_UNKNOWN_FILTER_KEY');
    expect(await codeOf(() => client.count(bad))).toBe('ERR_UNKNOWN_FILTER_KEY');
    expect(await codeOf(() => client.entries(bad).next())).toBe('ERR_UNKNOWN_FILTER_KEY');
    expect(await codeOf(() => client.deleteMatching(bad))).toBe('ERR_UNKNOWN_FILTER_KEY');
    expect(await codeOf(() => client.deleteMatching({}))).toBe('ERR_INVALID_FILTER');
    expect(await codeOf(() => client.list({ zone, mark: { value: 0x12, mask: 0x0f } }))).toBe('ERR_INVALID_FILTER');
    expect(await codeOf(() => client.list({ zone, status: ['SOMETIMES' as never] }))).toBe('ERR_INVALID_FILTER');
    expect(await codeOf(() => client.list({ src: '10.0.0.0/33' }))).toBe('ERR_INVALID_ADDRESS');
    expect(await codeOf(() => client.list({ src: '10.0.0.1', dst: '2001:db8::1' }))).toBe('ERR_FAMILY_MISMATCH');
    expect(await codeOf(() => client.update(entries.slice(0, 1), { mark: 1, colour: 'red' } as never))).toBe('ERR_INVALID_ARGUMENT');
    // Filters that hold for every entry by construction are no criterion for deleteMatching.
    expect(await codeOf(() => client.deleteMatching({ mark: { value: 0, mask: 0 } }))).toBe('ERR_INVALID_FILTER');
    expect(await codeOf(() => client.deleteMatching({ src: '0.0.0.0/0' }))).toBe('ERR_INVALID_FILTER');
    expect(await codeOf(() => client.create([{ ...entries[0]!, status: ['ASURED'] }]))).toBe('ERR_INVALID_ENTRY');
    expect(await codeOf(() => ConntrackClient.open({ netns: oracle.netns, kernelFilters: { zones: true } as never }))).toBe('ERR_INVALID_ARGUMENT');
    // The oracle refuses the same way: a bare `conntrack -D` would empty the table.
    expect(await codeOf(() => oracle.deleteMatching({}))).toBe('ERR_INVALID_FILTER');
    expect(await codeOf(() => oracle.deleteMatching(bad))).toBe('ERR_UNKNOWN_FILTER_KEY');
    expectSameEntries(await oracle.list({ zone }), keys(entries), 'the table is untouched');
  });

  test('every filter selects exactly what conntrack -L selects, with and without kernel filtering', async ({ netns, client, oracle, zone }) => {
    const origZone = randomZone([zone]);
    const replyZone = randomZone([zone, origZone]);
    const mixed = mixedSamples(zone, 3);
    const extra: EntryInput[] = [
      { protocol: 'udp', src: '10.7.0.1', dst: '10.7.0.2', sport: 4000, dport: 53, zone, snat: { address: '10.7.9.9' } },
      { protocol: 'tcp', src: '10.7.0.1', dst: '10.7.0.2', sport: 4001, dport: 80, zone, dnat: { address: '10.7.8.8', port: 8080 } },
      { protocol: 'udp', src: '10.7.1.1', dst: '10.7.1.2', sport: 4002, dport: 53, origZone },
      { protocol: 'udp', src: '10.7.2.1', dst: '10.7.2.2', sport: 4003, dport: 53, replyZone },
      { protocol: 'igmp', src: '10.7.3.1', dst: '224.0.0.22', zone },
      { protocol: 200, src: '2001:db8:7::1', dst: '2001:db8:7::2', zone },
      { protocol: 'tcp', src: '198.51.7.1', dst: '203.0.113.1', sport: 1025, dport: 53, zone, state: 'SYN_SENT' },
    ];
    await oracle.createMany(mixed, oracleArgsOf);
    await oracle.createMany(extra);
    const all = await oracle.list();
    await using userSpace = await ConntrackClient.open({ netns: netns.name, kernelFilters: { zone: false, mark: false, status: false, tuple: false } });
    // Every kernel filter asked for whatever the probe said: on this kernel it must not matter.
    await using kernelSide = await ConntrackClient.open({ netns: netns.name, kernelFilters: { zone: true, mark: true, status: true, tuple: true } });
    const cases: ConntrackFilter[] = [
      { zone },
      { zone, family: 'ipv6' },
      { zone, protocol: 'tcp' },
      { zone, protocol: 'udp', dport: 53 },
      { zone, protocol: 'tcp', sport: 1025 },
      { zone, src: '198.51.0.0/16' },
      { src: '10.7.0.0/16' },
      { src: '2001:db8::/64', zone },
      { dst: '203.0.113.1' },
      { zone, dst: '2001:db8:ffff::1' },
      { zone, mark: 1007 },
      { zone, mark: { value: 7, mask: 0xff } },
      { zone, status: ['ASSURED'] },
      { zone, status: ['SEEN_REPLY', 'ASSURED'], family: 'ipv4' },
      { zone, protocol: 'tcp', state: 'ESTABLISHED' },
      { zone, protocol: 'tcp', state: 'SYN_SENT' },
      { family: 'ipv4', protocol: 'tcp', sport: 1025 },
      { family: 'ipv6', protocol: 'udp', dport: 53, zone },
      { family: 'ipv4', protocol: 'igmp' },
      { family: 'ipv4', protocol: 'udp', src: '10.7.0.1' },
      { nat: 'src' },
      { nat: 'dst' },
      { nat: 'any' },
      { replyDst: '10.7.9.9' },
      { replySrc: '10.7.8.8' },
      { origZone },
      { replyZone },
      { zone: 0 },
      { protocol: 'igmp' },
      { protocol: 200 },
    ];
    for (const filter of cases) {
      const what = JSON.stringify(filter);
      const want = keySet(await oracle.list(filter));
      expect(want.length, `${what} selects something`).toBeGreaterThan(0);
      expect(want.length, `${what} leaves something out`).toBeLessThan(all.length);
      expect(keySet(await client.list(filter)), `${what}: client (kernel filters ${JSON.stringify(client.kernelFilters)}) vs conntrack -L`).toEqual(want);
      expect(keySet(await userSpace.list(filter)), `${what}: client filtering in user space only vs conntrack -L`).toEqual(want);
      expect(keySet(await kernelSide.list(filter)), `${what}: client asking the kernel for every filter vs conntrack -L`).toEqual(want);
      expect(await client.count(filter), `${what}: count`).toBe(want.length);
    }
  });

  test('deleteMatching with a filter removes exactly what conntrack -L lists for it', async ({ client, oracle, zone }) => {
    await oracle.createMany(mixedSamples(zone, 3), oracleArgsOf);
    const filter: ConntrackFilter = { zone, status: ['ASSURED'], family: 'ipv6' };
    const doomed = await oracle.list(filter);
    const rest = (await oracle.list({ zone })).filter((e) => !keySet(doomed).includes(keyString(e)));
    expect(doomed.length).toBeGreaterThan(0);
    expect(await client.deleteMatching(filter)).toBe(doomed.length);
    expectSameEntries(await oracle.list({ zone }), rest, 'what deleteMatching left');
  });
});

describe('update', () => {
  test('a mark with a mask changes the masked bits only, value bits outside the mask included', async ({ client, oracle, zone }) => {
    const e: EntryInput = { protocol: 'udp', src: '10.13.0.1', dst: '10.13.0.2', sport: 1, dport: 2, zone, mark: 0x1234 };
    await client.create([e]);
    expect((await client.update([e], { mark: 0x0f0f, markMask: 0x00ff })).updated).toHaveLength(1);
    expect((await oracle.get(e))?.mark).toBe(0x120f);
    expect((await client.update([e], { mark: 0xffff_0000 })).updated).toHaveLength(1);
    expect((await oracle.get(e))?.mark).toBe(0xffff_0000);
  });
});

describe('NAT, directional zones, explicit reply tuples', () => {
  test('snat/dnat on create: the kernel rewrites the reply tuple and sets the NAT flags', async ({ client, oracle, zone }) => {
    const snat: EntryInput = { protocol: 'udp', src: '10.8.0.1', dst: '10.8.0.2', sport: 5000, dport: 53, zone, snat: { address: '10.8.9.9', port: 6000 } };
    const dnat: EntryInput = { protocol: 'tcp', src: '2001:db8:8::1', dst: '2001:db8:8::2', sport: 5001, dport: 80, zone, dnat: { address: '2001:db8:8::80', port: 8080 } };
    await client.create([snat, dnat]);
    const s = await client.get(snat);
    expect(s?.reply).toEqual({ src: '10.8.0.2', dst: '10.8.9.9', sport: 53, dport: 6000 });
    expect([...(s?.status ?? [])].sort()).toEqual(['CONFIRMED', 'DST_NAT_DONE', 'SRC_NAT', 'SRC_NAT_DONE']);
    const d = await client.get(dnat);
    expect(d?.reply).toEqual({ src: '2001:db8:8::80', dst: '2001:db8:8::1', sport: 8080, dport: 5001 });
    expect([...(d?.status ?? [])].sort()).toEqual(['CONFIRMED', 'DST_NAT', 'DST_NAT_DONE', 'SRC_NAT_DONE']);
    for (const [mine, nat] of [[s, 'src'], [d, 'dst']] as const) {
      const listed = await oracle.list({ zone, nat });
      expect(listed.map((e) => e.reply), `conntrack -L --${nat}-nat`).toEqual([mine?.reply]);
    }
  });

  test('an explicit reply tuple is kept as given and is not NAT', async ({ client, oracle, zone }) => {
    const entry: EntryInput = { protocol: 'tcp', src: '10.9.0.1', dst: '10.9.0.2', sport: 1000, dport: 80, zone, reply: { src: '10.9.0.3', dst: '10.9.0.4', sport: 8080, dport: 3000 } };
    await client.create([entry]);
    const [listed] = await oracle.list({ zone });
    expect(listed?.reply).toEqual(entry.reply);
    const got = await client.get(entry);
    expect(got?.status).toEqual(['CONFIRMED']);
    expect(await oracle.count({ zone, nat: 'any' })).toBe(0);
    expect(await client.count({ zone, nat: 'any' })).toBe(0);
  });

  test('directional zones: created, listed, got and deleted by their key; one zone per entry', async ({ client, oracle }) => {
    const origZone = randomZone();
    const replyZone = randomZone([origZone]);
    const o: EntryInput = { protocol: 'udp', src: '10.10.0.1', dst: '10.10.0.2', sport: 1, dport: 2, origZone };
    const r: EntryInput = { protocol: 'udp', src: '10.10.0.1', dst: '10.10.0.2', sport: 3, dport: 4, replyZone };
    await client.create([o, r]);
    expect((await oracle.list({ origZone })).map((e) => [e.origZone, e.zone])).toEqual([[origZone, 0]]);
    expect((await oracle.list({ replyZone })).map((e) => [e.replyZone, e.zone])).toEqual([[replyZone, 0]]);
    expect((await client.get(o))?.origZone).toBe(origZone);
    expect(await client.get({ ...o, origZone: undefined })).toBeUndefined();
    expect((await client.delete([o])).deleted).toHaveLength(1);
    expectSameEntries(await oracle.list(), keys([r]), 'the reply-zone entry stays');
    expect(await codeOf(() => client.create([{ ...o, zone: 5 }]))).toBe('ERR_INVALID_ZONE');
    expect(await codeOf(() => client.create([{ ...o, replyZone }]))).toBe('ERR_INVALID_ZONE');
  });
});

describe('statistics, counters, timestamps, labels', () => {
  test('stats: the count and the per-CPU inserts move with the entries made, like conntrack -S/-C', async ({ client, oracle, zone }) => {
    const before = await client.stats();
    expect(before.count).toBe(0);
    expect(before.max).toBeGreaterThan(0);
    expect(before.cpus.length).toBeGreaterThan(0);
    await client.create(mixedSamples(zone, 2));
    const after = await client.stats();
    const inserts = (s: typeof after) => s.cpus.reduce((n, c) => n + c.insert, 0);
    const made = mixedSamples(zone, 2).length;
    expect(after.count).toBe(made);
    expect(inserts(after) - inserts(before)).toBe(made);
    const cli = await oracle.stats();
    expect(cli.count).toBe(made);
    expect(cli.cpus.map((c) => c.insert)).toEqual(after.cpus.map((c) => c.insert));
  });

  test('counters and timestamps appear when switched on in the namespace (and only there)', async ({ netns, neighbourNetns, client, zone }) => {
    const e: EntryInput = { protocol: 'udp', src: '10.11.0.1', dst: '10.11.0.2', sport: 1, dport: 2, zone };
    await client.create([e]);
    const plain = await client.get(e);
    expect(plain?.counters).toBeUndefined();
    expect(plain?.timestamp).toBeUndefined();
    await netns.exec(['sysctl', '-q', '-w', 'net.netfilter.nf_conntrack_acct=1', 'net.netfilter.nf_conntrack_timestamp=1']);
    const { stdout } = await neighbourNetns.exec(['sysctl', '-n', 'net.netfilter.nf_conntrack_acct']);
    expect(stdout.trim()).toBe('0');
    const f = { ...e, sport: 9 };
    const start = BigInt(Date.now()) * 1_000_000n;
    await client.create([f]);
    const got = await client.get(f) as ConntrackEntry;
    expect(got.counters).toEqual({ orig: { packets: 0, bytes: 0 }, reply: { packets: 0, bytes: 0 } });
    expect(got.timestamp?.start).toBeGreaterThanOrEqual(start - 1_000_000_000n);
    expect(got.timestamp?.start).toBeLessThanOrEqual(BigInt(Date.now()) * 1_000_000n + 1_000_000_000n);
    expect(got.timestamp?.stop).toBeUndefined();
  });

  test('labels need a `ct label` rule: without one the create fails typed and leaves nothing; with one they are set and updated', async ({ netns, client, oracle, zone }) => {
    const e: EntryInput = { protocol: 'udp', src: '10.12.0.1', dst: '10.12.0.2', sport: 1, dport: 2, zone, labels: [1, 70] };
    const result = await client.tryCreate([e]);
    expect(result.failed.map((f) => f.error.code)).toEqual(['ERR_LABELS_UNAVAILABLE']);
    expect(await oracle.count({ zone })).toBe(0);
    const early: EntryInput = { ...e, sport: 7, labels: undefined };
    await client.create([early]);
    await netns.exec(['nft', '-f', '-'], { input: 'table inet cth_labels {\n chain c {\n  type filter hook prerouting priority 0;\n  ct label set 0\n }\n}\n' });
    await client.create([e]);
    expect((await client.get(e))?.labels).toEqual([1, 70]);
    const updated = await client.update([e], { labels: { add: [5], remove: [1] } });
    expect(updated.updated).toHaveLength(1);
    expect((await client.get(e))?.labels).toEqual([5, 70]);
    expect((await client.update([e], { labels: [127] })).updated).toHaveLength(1);
    expect((await client.get(e))?.labels).toEqual([127]);
    expect((await client.update([e], { labels: [] })).updated).toHaveLength(1);
    expect((await client.get(e))?.labels).toBeUndefined();
    // An entry made before the rule existed has no room for labels: the kernel's ENOSPC.
    const refused = await client.update([early], { labels: [3] });
    expect(refused.failed.map((f) => (f.error as { errnoName?: string }).errnoName)).toEqual(['ENOSPC']);
  });
});
