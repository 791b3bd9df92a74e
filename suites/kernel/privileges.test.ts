// A refusal other than "not there": a client without CAP_NET_ADMIN (setpriv drops it) deletes
// existing entries. nfnetlink checks the capability once per datagram and answers only its first
// message (EPERM), so every entry of the datagram must come back failed with EPERM, at once, and
// the oracle must still list them all.
import { execute } from '../../harness/os/execute.ts';
import { normalizeKey, type EntryInput } from '../../harness/conntrack/entry.ts';
import { expectSameEntries } from '../../harness/fixtures/assertions.ts';
import { describe, expect, test } from '../../harness/fixtures/index.ts';

const script = new URL('../meta/no-net-admin.ts', import.meta.url).pathname;

describe('privileges', () => {
  for (const n of [1, 2, 50]) {
    test(`${n} delete(s) without CAP_NET_ADMIN: each failed with EPERM, none lost, none deleted`, async ({ client, oracle, zone }) => {
      const entries: EntryInput[] = Array.from({ length: n }, (_, i) => ({ protocol: 'udp', src: '198.51.100.1', dst: '203.0.113.1', sport: 1000 + i, dport: 53, zone }));
      await client.create(entries);
      const { stdout } = await execute([
        'setpriv', '--inh-caps=-net_admin', '--bounding-set=-net_admin', '--',
        process.execPath, '--import', 'tsx', script, oracle.netns, JSON.stringify(entries),
      ], { timeout: 30_000 });
      const { ms, ...fates } = JSON.parse(stdout) as { ms: number };
      expect(fates).toEqual({ deleted: 0, notFound: 0, failed: Array.from({ length: n }, () => 'EPERM') });
      // "At once": the delete itself, well under the child's 20 s receive timeout.
      expect(ms).toBeLessThan(2000);
      expectSameEntries(await oracle.list({ zone }), entries.map((e) => normalizeKey(e)), 'every entry is still there');
    });
  }
});
