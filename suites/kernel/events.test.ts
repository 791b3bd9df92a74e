// ctnetlink events (client.events(), like conntrack -E) against the kernel: exactly the entries made,
// changed and deleted in the watched zone, none of the neighbour zone's; the types asked for only;
// one overflow when the kernel drops events, and the stream going on after it; an abort ending it.
import { ConntrackClient } from '../../harness/conntrack/client.ts';
import type { ConntrackEvent } from '../../harness/conntrack/events.ts';
import { keyString, normalizeKey, type ConntrackEntry, type EntryInput } from '../../harness/conntrack/entry.ts';
import { describe, expect, test } from '../../harness/fixtures/index.ts';
import { writeSysctl } from '../../harness/os/topology.ts';
import { BULK_ENTRIES, bulk } from '../support/bulk.ts';
import { codeOf, codeOfAsync } from '../support/codes.ts';
import { keysOf, reader } from '../support/events.ts';

function samples(zone: number, n: number, base = 1000): EntryInput[] {
  return Array.from({ length: n }, (_, i) => ({ protocol: 'udp', src: '10.50.0.1', dst: '10.50.0.2', sport: base + i, dport: 53, zone }));
}

const EVENTS_SYSCTL = 'net.netfilter.nf_conntrack_events';

/** What a watch and a fresh list() must agree on (timeouts tick, UPDATE events carry no counters). */
const comparable = (entries: readonly ConntrackEntry[]) => entries
  .map((e) => `${keyString(e)} mark=${e.mark ?? 0} status=${(e.status ?? []).join(',')} state=${e.state ?? ''}`)
  .sort();

describe('events', () => {
  test('new, update and destroy of exactly the watched zone\'s entries, in order per entry', async ({ client, zone, neighbourZone }) => {
    const events = client.events({ zone });
    const collect = reader(events);
    try {
      const mine = samples(zone, 5);
      await client.create([...mine, ...samples(neighbourZone, 5)]);
      await client.update([mine[0]!, mine[1]!], { mark: 7 });
      await client.delete(mine.slice(0, 3));
      const seen = await collect((s) => s.length >= 10);
      const want = (entries: EntryInput[]) => entries.map((e) => keyString(normalizeKey(e))).sort();
      expect(keysOf(seen, 'new')).toEqual(want(mine));
      expect(keysOf(seen, 'update')).toEqual(want(mine.slice(0, 2)));
      expect(keysOf(seen, 'destroy')).toEqual(want(mine.slice(0, 3)));
      expect(seen).toHaveLength(10);
      // Per entry, in the order the kernel saw: new, then update, then destroy.
      const order = new Map<string, string[]>();
      for (const e of seen) if ('entry' in e) order.set(keyString(e.entry), [...(order.get(keyString(e.entry)) ?? []), e.type]);
      expect(order.get(keyString(normalizeKey(mine[0]!)))).toEqual(['new', 'update', 'destroy']);
      expect(order.get(keyString(normalizeKey(mine[2]!)))).toEqual(['new', 'destroy']);
      expect(order.get(keyString(normalizeKey(mine[4]!)))).toEqual(['new']);
      // Nothing more comes: the neighbour zone's five were never the watched zone's.
      expect(await collect(() => false, 300)).toEqual([]);
      const updated = seen.find((e) => e.type === 'update') as { entry: { mark?: number } };
      expect(updated.entry.mark).toBe(7);
    } finally {
      await events.return();
    }
  });

  test('only the types asked for; bad options are refused before a socket is opened', async ({ client, zone }) => {
    const events = client.events({ zone, types: ['destroy'] });
    const collect = reader(events);
    try {
      const mine = samples(zone, 3);
      await client.create(mine);
      await client.delete(mine);
      const seen = await collect((s) => s.length >= 3);
      expect(seen.map((e) => e.type)).toEqual(['destroy', 'destroy', 'destroy']);
    } finally {
      await events.return();
    }
    expect(await codeOf(() => client.events({ types: ['created' as never] }))).toBe('ERR_INVALID_ARGUMENT');
    expect(await codeOf(() => client.events({ types: [] }))).toBe('ERR_INVALID_ARGUMENT');
    expect(await codeOf(() => client.events({ zone: 70_000 }))).toBe('ERR_INVALID_ZONE');
    expect(await codeOf(() => client.events({ zones: 1 } as never))).toBe('ERR_UNKNOWN_FILTER_KEY');
    expect(await codeOf(() => client.events({ kernelFilter: 'yes' as never }))).toBe('ERR_INVALID_ARGUMENT');
    expect(await codeOf(() => client.events({ bufferBytes: 100 }))).toBe('ERR_INVALID_ARGUMENT');
  });

  test('when the kernel drops events (ENOBUFS) the stream yields one overflow and goes on', async ({ netns, zone }) => {
    await using client = await ConntrackClient.open({ netns: netns.name });
    // A small receive queue that nobody reads while 3,000 entries are made.
    const events = client.events({ zone, bufferBytes: 4096 });
    const collect = reader(events);
    try {
      await client.create(samples(zone, 3000));
      const first = await collect((s) => s.some((e) => e.type === 'overflow'));
      expect(first.filter((e) => e.type === 'overflow')).toHaveLength(1);
      // The kernel sends nothing more until the queue was read empty (netlink's congestion state):
      // read what is left, then events flow again.
      await collect(() => false, 500);
      await client.delete(samples(zone, 1, 1000));
      const after = await collect((s) => s.some((e) => e.type === 'destroy'));
      expect(after.some((e) => e.type === 'destroy')).toBe(true);
    } finally {
      await events.return();
    }
  });

  test('the zone is filtered in the kernel: a neighbour zone\'s flood never reaches a small queue (it does with the user-space filter alone)', async ({ client, zone, neighbourZone }) => {
    for (const kernelFilter of [true, false]) {
      const events = client.events({ zone, bufferBytes: 4096, kernelFilter });
      expect(events.kernelFilter).toBe(kernelFilter);
      const collect = reader(events);
      try {
        const base = kernelFilter ? 10_000 : 20_000;
        await client.create(samples(neighbourZone, 3000, base));
        await client.create(samples(zone, 1, base));
        const seen = await collect((s) => s.some((e) => e.type === 'new'), kernelFilter ? 10_000 : 1000);
        if (kernelFilter) {
          expect(seen).toEqual([{ type: 'new', entry: expect.objectContaining({ zone, sport: base }) }]);
        } else {
          expect(seen.filter((e) => e.type === 'overflow')).toHaveLength(1);
        }
      } finally {
        await events.return();
      }
    }
  });

  test('zone 0 in the kernel filter: the entries without CTA_ZONE, none of another zone', async ({ client, zone }) => {
    const events = client.events({ zone: 0 });
    expect(events.kernelFilter).toBe(true);
    const collect = reader(events);
    try {
      await client.create([...samples(zone, 3, 5000), ...samples(0, 2, 5000)]);
      const seen = await collect((s) => s.length >= 2);
      expect(keysOf(seen, 'new')).toEqual(samples(0, 2, 5000).map((e) => keyString(normalizeKey(e))).sort());
      expect(await collect(() => false, 300)).toEqual([]);
    } finally {
      await events.return();
    }
  });

  test('a signal that fires before anything is read ends the stream too', async ({ client, zone }) => {
    const controller = new AbortController();
    const events = client.events({ zone, signal: controller.signal });
    controller.abort();
    await client.create(samples(zone, 2));
    expect(await events.next()).toEqual({ value: undefined, done: true });
  });

  test('an AbortSignal ends the stream quietly, also while it waits', async ({ client, zone }) => {
    const controller = new AbortController();
    const events = client.events({ zone, signal: controller.signal });
    setTimeout(() => controller.abort(), 100);
    const started = performance.now();
    const seen: ConntrackEvent[] = [];
    for await (const e of events) seen.push(e);
    expect(seen).toEqual([]);
    expect(performance.now() - started).toBeLessThan(2000);
  });
});

describe('watch', () => {
  test('a live view of the zone: the entries before it, then every create, update and delete; the neighbour zone never', async ({ client, netns, zone, neighbourZone }) => {
    // In the kernel's default mode 2 (autodetect, Linux >= 6.0), an entry gets room for events only
    // if some ctnetlink event socket, anywhere on the machine, listened when it was made; entries
    // made before the watch would then announce nothing. Mode 1: every entry announces.
    await writeSysctl(netns, EVENTS_SYSCTL, 1);
    const before = samples(zone, 3, 2000);
    await client.create([...before, ...samples(neighbourZone, 3, 2000)]);
    await using watch = await client.watch({ zone });
    expect(watch.entries().map((e) => keyString(e)).sort()).toEqual(before.map((e) => keyString(normalizeKey(e))).sort());
    const mine = samples(zone, 4);
    await client.create([...mine, ...samples(neighbourZone, 4)]);
    await client.update([mine[0]!, before[0]!], { mark: 9 });
    await client.delete([mine[1]!, before[1]!]);
    const want = [before[0]!, before[2]!, mine[0]!, mine[2]!, mine[3]!].map((e) => keyString(normalizeKey(e))).sort();
    const seen = await watch.until((entries) => entries.length === 5 && entries.filter((e) => e.mark === 9).length === 2,
      { what: 'five entries, two marked 9', timeoutMs: 10_000 });
    expect(seen.map((e) => keyString(e)).sort()).toEqual(want);
    expect(comparable(watch.entries())).toEqual(comparable(await client.list({ zone })));
    expect(watch.get(mine[0]!)?.mark).toBe(9);
    expect(watch.resyncs).toBe(0);
    // An update that makes an entry leave the filter takes it out of the view.
    await using marked = await client.watch({ zone, mark: 9 });
    expect(marked.size).toBe(2);
    await client.update([mine[0]!], { mark: 1 });
    await marked.until((entries) => entries.length === 1, { what: 'one entry marked 9', timeoutMs: 10_000 });
    expect(comparable(marked.entries())).toEqual(comparable(await client.list({ zone, mark: 9 })));
  });

  test('bad options are refused before anything is opened; a closed watch says so', async ({ client, zone }) => {
    expect(await codeOfAsync(() => client.watch({ zone, types: ['new'] } as never))).toBe('ERR_UNKNOWN_FILTER_KEY');
    expect(await codeOfAsync(() => client.watch({ zone }, { types: ['new'] } as never))).toBe('ERR_UNKNOWN_FILTER_KEY');
    expect(await codeOfAsync(() => client.watch({ zone }, { bufferBytes: 10 }))).toBe('ERR_INVALID_ARGUMENT');
    expect(await codeOfAsync(() => client.watch({ zone: -1 }))).toBe('ERR_INVALID_ZONE');
    expect(await codeOfAsync(() => client.watch({ zone }, { signal: AbortSignal.abort() }))).toBe('ERR_ABORTED');
    const watch = await client.watch({ zone });
    await watch.close();
    expect(await codeOfAsync(() => watch.entries())).toBe('ERR_WATCH_CLOSED');
  });

  // 100,000 normally; 10,000 in the VM smoke (CTH_BULK_ENTRIES=1000).
  const FLOOD = 10 * BULK_ENTRIES;
  test(`the default buffer loses nothing: ${FLOOD.toLocaleString('en')} creates in one batch arrive as as many NEW events`, async ({ netns, zone }) => {
    await using client = await ConntrackClient.open({ netns: netns.name, timeoutMs: 60_000 });
    // Ends at the last event, at an overflow, or after 10 s without an event.
    const quiet = new AbortController();
    const events = client.events({ zone, types: ['new'], signal: quiet.signal });
    const timer = setTimeout(() => quiet.abort(), 10_000);
    const counted = (async () => {
      let received = 0;
      for await (const e of events) {
        if (e.type === 'overflow') return { overflow: true, received };
        if (++received === FLOOD) break;
        timer.refresh(); // 10 s after the last event, however slowly they come (TCG)
      }
      return { overflow: false, received };
    })();
    try {
      await client.create(bulk([zone], FLOOD));
      expect(await counted).toEqual({ overflow: false, received: FLOOD });
    } finally {
      clearTimeout(timer);
      await events.return();
    }
  }, 120_000);

  test(`a flood of ${FLOOD.toLocaleString('en')} creates: a small buffer with a slow reader overflows and goes on, the watch ends equal to list()`, async ({ netns, zone, neighbourZone }) => {
    await using client = await ConntrackClient.open({ netns: netns.name, timeoutMs: 60_000 });
    await using small = client.events({ zone, bufferBytes: 64 * 1024 });
    await using watch = await client.watch({ zone }, { bufferBytes: 64 * 1024 });
    const slow = (async () => {
      let overflows = 0;
      let received = 0;
      let afterFirstOverflow = 0;
      for await (const e of small) {
        if (e.type === 'overflow') overflows++;
        else {
          if (overflows > 0) afterFirstOverflow++;
          if (++received % 100 === 0) await new Promise((r) => setTimeout(r, 1));
        }
      }
      return { overflows, received, afterFirstOverflow };
    })();
    await client.create([...bulk([zone], FLOOD), ...bulk([neighbourZone], 100)]);
    await watch.until((view) => view.length === FLOOD, { what: `${FLOOD} entries in the watch`, timeoutMs: 60_000 });
    expect(watch.resyncs).toBeGreaterThanOrEqual(1);
    const listed = await client.list({ zone });
    expect(comparable(watch.entries())).toEqual(comparable(listed));
    // Half deleted: the view follows.
    await client.delete(listed.filter((_, i) => i % 2 === 0));
    await watch.until((view) => view.length === FLOOD / 2, { what: `${FLOOD / 2} entries in the watch`, timeoutMs: 60_000 });
    expect(comparable(watch.entries())).toEqual(comparable(await client.list({ zone })));
    await small.return();
    const { overflows, received, afterFirstOverflow } = await slow;
    expect(overflows).toBeGreaterThanOrEqual(1);
    expect(received).toBeLessThan(FLOOD + FLOOD / 2); // events were lost: FLOOD new and FLOOD / 2 destroy happened
    expect(afterFirstOverflow).toBeGreaterThan(0); // and the stream went on after the overflow
  }, 180_000);
});
