// What this kernel's ctnetlink does with the requests whose meaning changed across Linux releases,
// observed with raw requests (hand-built TLVs, not the client's codec) in a throwaway namespace,
// and proof that the client is exact either way. Mainline: a dump honours CTA_ZONE and a DELETE
// carrying only CTA_ZONE flushes one zone from 6.8 (eff3c558bb7e; before, it flushes every zone);
// CTA_FILTER tuple dumps from 5.8; the CTA_STATUS dump filter from 5.15. Distribution kernels
// back-port, so each observation is reported (console line and test annotation), and the client's
// own probe must agree with it: that probe, not the version number, picks the client's path.
import { expect } from 'vitest';
import { release } from 'node:os';
import { ConntrackClient } from '../../harness/conntrack/client.ts';
import type { EntryInput } from '../../harness/conntrack/entry.ts';
import { normalizeKey } from '../../harness/conntrack/entry.ts';
import { probeDumpResumeReference, probeKernelFilters } from '../../harness/conntrack/features.ts';
import { ConntrackOracle } from '../../harness/conntrack/oracle.ts';
import { expectSameEntries } from '../../harness/fixtures/assertions.ts';
import { describe, randomZone, test } from '../../harness/fixtures/index.ts';
import {
  encodeNfMessage, NETLINK_NETFILTER, NetlinkConnection, nfnlType, NLM_F_ACK, NLM_F_DUMP, NLM_F_REQUEST,
} from '../../harness/netlink/index.ts';
import { be16, be32, nest, tlv, u32, u8 } from '../support/tlv.ts';

// ctnetlink numbers, from include/uapi/linux/netfilter/nfnetlink_conntrack.h (kept apart from the
// client's constants on purpose).
const NFNL_SUBSYS_CTNETLINK = 1;
const IPCTNL_MSG_CT_GET = 1;
const IPCTNL_MSG_CT_DELETE = 2;
const CTA_TUPLE_ORIG = 1;
const CTA_STATUS = 3;
const CTA_ZONE = 18;
const CTA_FILTER = 25;
const CTA_STATUS_MASK = 26;
const CTA_TUPLE_IP = 1;
const CTA_TUPLE_PROTO = 2;
const CTA_IP_V4_SRC = 1;
const CTA_PROTO_NUM = 1;
const CTA_FILTER_ORIG_FLAGS = 1;
const FILTER_IP_SRC = 1 << 0;
const FILTER_PROTO_NUM = 1 << 3;
const IPS_ASSURED = 1 << 2;
const AF_INET = 2;

/** Two UDP entries in each of three zones; one entry of the first zone is ASSURED. */
function threeZones(zones: readonly [number, number, number]): EntryInput[][] {
  return zones.map((zone, z) => [1, 2].map((host) => ({
    protocol: 'udp', src: `10.40.${z}.${host}`, dst: '10.40.9.9', sport: 1000 + host, dport: 53, zone,
    ...(z === 0 && host === 1 ? { status: ['SEEN_REPLY', 'ASSURED'] } : {}),
  }) satisfies EntryInput));
}

const LINE = `[kernel-behaviour] Linux ${release()}`;

describe(`kernel behaviour of ${release()}`, () => {
  test('dump filters (zone, status, CTA_FILTER tuple): raw observation, the client\'s probe agrees, the client lists exactly', async ({ netns, zone, neighbourZone, oracle, annotate }) => {
    const zones = [zone, neighbourZone, randomZone([zone, neighbourZone])] as const;
    const entries = threeZones(zones);
    await oracle.createMany(entries.flat());
    using conn = NetlinkConnection.open({ protocol: NETLINK_NETFILTER, netns: netns.name });
    /** Entries a raw dump with these attributes returns, or the errno name it was refused with. */
    const dump = async (attrs: Buffer[]): Promise<number | string> => {
      const msg = encodeNfMessage({ type: nfnlType(NFNL_SUBSYS_CTNETLINK, IPCTNL_MSG_CT_GET), flags: NLM_F_REQUEST | NLM_F_DUMP, seq: conn.nextSeq(), family: AF_INET, attrs });
      let n = 0;
      try {
        await conn.dump(msg, () => void n++);
      } catch (error) {
        return (error as { errnoName?: string }).errnoName ?? String(error);
      }
      return n;
    };
    /** honoured (exactly `want` entries), ignored (all 6), or what else happened. */
    const verdict = (got: number | string, want: number) => (got === want ? 'honoured' : got === 6 ? 'ignored' : `unexpected: ${got}`);
    expect(await dump([]), 'an unfiltered dump').toBe(6);
    const seen = {
      zone: verdict(await dump([be16(CTA_ZONE, zone)]), 2),
      status: verdict(await dump([be32(CTA_STATUS, IPS_ASSURED), be32(CTA_STATUS_MASK, IPS_ASSURED)]), 1),
      tuple: verdict(await dump([
        nest(CTA_TUPLE_ORIG, [nest(CTA_TUPLE_IP, [tlv(CTA_IP_V4_SRC, Buffer.from([10, 40, 0, 1]))]), nest(CTA_TUPLE_PROTO, [u8(CTA_PROTO_NUM, 17)])]),
        nest(CTA_FILTER, [u32(CTA_FILTER_ORIG_FLAGS, FILTER_IP_SRC | FILTER_PROTO_NUM)]),
      ]), 1),
    };
    const summary = `${LINE}: zone dump filter ${seen.zone}, status dump filter ${seen.status}, CTA_FILTER tuple dump ${seen.tuple}`;
    console.log(summary);
    await annotate(summary, 'kernel-behaviour');
    for (const [what, v] of Object.entries(seen)) expect(v, `${what}: honoured or ignored, nothing else`).toMatch(/^(honoured|ignored)$/);
    // The client's probe (its own namespace, its own entries) must find the same.
    const probe = await probeKernelFilters();
    expect({ zone: probe.zone, status: probe.status, tuple: probe.tuple }).toEqual({ zone: seen.zone === 'honoured', status: seen.status === 'honoured', tuple: seen.tuple === 'honoured' });
    // Whatever the kernel does, the client lists exactly, with its probe's choice and with every
    // kernel filter forced on (a kernel that ignores one must not widen the result).
    await using probed = await ConntrackClient.open({ netns: netns.name });
    await using forced = await ConntrackClient.open({ netns: netns.name, kernelFilters: { zone: true, mark: false, status: true, tuple: true } });
    for (const client of [probed, forced]) {
      const how = JSON.stringify(client.kernelFilters);
      for (const [i, z] of zones.entries()) expectSameEntries(await client.list({ zone: z }), entries[i]!.map(normalizeKey), `zone ${z}, kernel filters ${how}`);
      expectSameEntries(await client.list({ zone, status: ['ASSURED'] }), [normalizeKey(entries[0]![0]!)], `zone + ASSURED, ${how}`);
      expectSameEntries(await client.list({ family: 'ipv4', protocol: 'udp', src: '10.40.0.1' }), [normalizeKey(entries[0]![0]!)], `CTA_FILTER source, ${how}`);
    }
  });

  test('a DELETE carrying only CTA_ZONE (raw): flushes one zone or every zone; the client\'s flush({ zone }) is exact either way', async ({ netns, neighbourNetns, zone, neighbourZone, oracle, annotate }) => {
    const zones = [zone, neighbourZone, randomZone([zone, neighbourZone])] as const;
    const entries = threeZones(zones);
    await oracle.createMany(entries.flat());
    // Identical tuples in the neighbour namespace: nothing sent here may reach them.
    const other = new ConntrackOracle({ netns: neighbourNetns.name });
    await other.createMany(entries.flat());
    {
      using conn = NetlinkConnection.open({ protocol: NETLINK_NETFILTER, netns: netns.name });
      const msg = encodeNfMessage({ type: nfnlType(NFNL_SUBSYS_CTNETLINK, IPCTNL_MSG_CT_DELETE), flags: NLM_F_REQUEST | NLM_F_ACK, seq: conn.nextSeq(), family: AF_INET, attrs: [be16(CTA_ZONE, zone)] });
      const [result] = await conn.transact([msg]);
      expect(result!.error, 'the zone-only DELETE is acknowledged').toBeUndefined();
    }
    const left = await oracle.list();
    const oneZone = left.length === 4 && left.every((e) => e.zone !== zone);
    const summary = `${LINE}: a DELETE carrying only CTA_ZONE flushes ${oneZone ? 'that zone only' : left.length === 0 ? 'every zone' : `something else (${left.length} of 6 left)`}`;
    console.log(summary);
    await annotate(summary, 'kernel-behaviour');
    expect(oneZone || left.length === 0, summary).toBe(true);
    expectSameEntries(await other.list(), entries.flat().map(normalizeKey), 'neighbour namespace after the raw DELETE');

    // The client never sends that request: its flush takes exactly one zone on every kernel.
    await oracle.deleteMatching({ family: 'ipv4' });
    await oracle.createMany(entries.flat());
    await using client = await ConntrackClient.open({ netns: netns.name });
    expect(await client.deleteMatching({ zone: neighbourZone })).toBe(2);
    expectSameEntries(await oracle.list(), [...entries[0]!, ...entries[2]!].map(normalizeKey), 'after flush({ zone: neighbourZone })');
    expect(await client.deleteMatching({ zone })).toBe(2);
    expectSameEntries(await oracle.list(), entries[2]!.map(normalizeKey), 'after flush({ zone })');
    expectSameEntries(await other.list(), entries.flat().map(normalizeKey), 'neighbour namespace at the end');
  });
  test('a dump that resumes in a new batch lists the entry it resumes from with a reference of its own (use=2) or not; the client\'s probe agrees', async ({ oracle, zone, annotate }) => {
    // Idle entries, 400 of them: conntrack -L reads in 8 KiB batches, so its dump resumes dozens of times.
    const entries = Array.from({ length: 400 }, (_, i): EntryInput => ({
      protocol: 'udp', src: `10.41.${i >> 8}.${i & 255}`, dst: '10.41.9.9', sport: 1000, dport: 53, zone, timeout: 600,
    }));
    await oracle.createMany(entries);
    const listed = await oracle.list({ zone });
    expect(listed).toHaveLength(entries.length);
    const uses = new Set(listed.map((e) => e.use));
    const referenced = listed.filter((e) => e.use === 2).length;
    const summary = `${LINE}: a resumed dump lists ${referenced === 0 ? 'every idle entry with use=1' : `${referenced} of ${listed.length} idle entries with use=2 (the ones it resumed from)`}`;
    console.log(summary);
    await annotate(summary, 'kernel-behaviour');
    expect([...uses].every((u) => u === 1 || u === 2), `use values ${[...uses].join(', ')}`).toBe(true);
    expect(await probeDumpResumeReference(), 'the client\'s probe').toBe(referenced > 0);
  });
});
