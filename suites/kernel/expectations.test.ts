// Expectations made by the kernel's FTP helper from real traffic, and by the client: a control
// connection to port 21 gets the helper from an nft `ct helper` rule, a PORT (IPv4) or EPRT (IPv6)
// command on it makes the kernel expect the data connection. Listed, created and deleted by the
// client, each checked against `conntrack -L expect`.
import { randomInt } from 'node:crypto';
import { NetlinkErrnoError } from '../../harness/errors.ts';
import { normalizeKey, type EntryInput, type Family } from '../../harness/conntrack/entry.ts';
import type { Expectation } from '../../harness/conntrack/expectations.ts';
import { awaitFlowEntry, startEchoServer } from '../../harness/protocols/traffic.ts';
import { ftpHelperRuleset, type Topology } from '../../harness/os/topology.ts';
import { ready, notYet, waitFor } from '../../harness/os/wait.ts';
import { describe, expect, test } from '../../harness/fixtures/topology.ts';
import { codeOfAsync } from '../support/codes.ts';
import { reader } from '../support/events.ts';


/** The command announcing a data port: PORT a,b,c,d,p1,p2 for IPv4, EPRT |2|addr|port| for IPv6. */
function announce(family: Family, address: string, port: number): string {
  return family === 'ipv4'
    ? `PORT ${address.replaceAll('.', ',')},${port >> 8},${port & 255}\r\n`
    : `EPRT |2|${address}|${port}|\r\n`;
}

/**
 * Opens an FTP control connection from `inspected` to an echo server on the peer's port 21 with the
 * helper assigned, and announces `dataPort`. The helper only parses a command that follows an
 * earlier line of the connection, so a USER line goes first, in its own segment.
 */
async function ftpControl(topology: Topology, family: Family, dataPort: number) {
  await topology.inspected.exec(['nft', '-f', '-'], { input: ftpHelperRuleset('cth_ftp', 21) });
  await startEchoServer(topology, family, 'tcp', 21);
  const sport = randomInt(20_000, 30_000);
  const peer = topology.address(family, 'peer');
  const target = `TCP${family === 'ipv4' ? '4' : '6'}:${family === 'ipv6' ? `[${peer}]` : peer}:21,sourceport=${sport}`;
  const client = topology.spawn('inspected', ['socat', '-', target], { stdin: true });
  await client.write('USER anonymous\r\n');
  await client.waitForOutput('USER anonymous\r\n');
  const master = normalizeKey({ protocol: 'tcp', src: topology.address(family, 'inspected'), dst: peer, sport, dport: 21, zone: topology.zone });
  await client.write(announce(family, topology.address(family, 'inspected'), dataPort));
  return { client, master };
}

describe('expectations', () => {
  for (const family of ['ipv4', 'ipv6'] as const) {
    test(`the FTP helper's expectation from a ${family === 'ipv4' ? 'PORT' : 'EPRT'} command, listed, deleted, and made again by the client`, async ({ topology, client, oracle }) => {
      const dataPort = randomInt(1025, 1536);
      await using events = client.expectations.events();
      const collect = reader(events);
      const { master } = await ftpControl(topology, family, dataPort);
      const masterEntry = await awaitFlowEntry(client, { key: master, description: 'ftp control connection', reply: { src: master.dst, dst: master.src }, statusIncludes: [], statusExcludes: [] });
      expect(masterEntry.helper).toBe('ftp');
      const [expected] = await waitFor(async () => {
        const listed = await client.expectations.list();
        return listed.length > 0 ? ready(listed) : notYet('no expectation yet');
      }, { what: `the ftp helper's expectation for port ${dataPort}`, timeoutMs: 10_000 });
      const inspected = topology.address(family, 'inspected');
      const peer = topology.address(family, 'peer');
      const fullMask = family === 'ipv4' ? '255.255.255.255' : 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff';
      expect(expected).toEqual<Expectation>({
        family, protocol: 'tcp', helper: 'ftp', class: 0, flags: [],
        tuple: { src: peer, dst: inspected, sport: 0, dport: dataPort },
        mask: { src: fullMask, sport: 0 },
        master: { protocol: 'tcp', src: inspected, dst: peer, sport: master.sport, dport: 21 },
        timeout: expect.any(Number) as number, id: expect.any(Number) as number,
      });
      const [cli, ...more] = await oracle.listExpectations();
      expect(more).toEqual([]);
      expect(cli).toEqual({
        protocol: 'tcp', helper: 'ftp', class: 0, tuple: expected!.tuple, mask: expected!.mask,
        master: { src: inspected, dst: peer, sport: master.sport, dport: 21 }, timeout: expect.any(Number),
      });
      expect(Math.abs(cli!.timeout - expected!.timeout)).toBeLessThanOrEqual(2);
      // The helper's expectation was announced (EXP_NEW) with what list() shows.
      const made = await collect((s) => s.some((e) => e.type === 'new'));
      expect(made).toEqual([{ type: 'new', expectation: { ...expected!, timeout: expect.any(Number) as number } }]);
      expect(await client.expectations.list({ helper: 'sip' })).toEqual([]);
      expect(await client.expectations.list({ family: family === 'ipv4' ? 'ipv6' : 'ipv4' })).toEqual([]);

      const deleted = await client.expectations.delete([{ ...expected!, zone: topology.zone }]);
      expect(deleted.deleted).toHaveLength(1);
      expect(await oracle.listExpectations()).toEqual([]);
      expect((await client.expectations.delete([{ ...expected!, zone: topology.zone }])).notFound).toHaveLength(1);
      const dropped = await collect((s) => s.some((e) => e.type === 'destroy'));
      expect(dropped.map((e) => [e.type, e.type === 'overflow' ? undefined : e.expectation.tuple])).toEqual([['destroy', expected!.tuple]]);

      const mine = { master: master as EntryInput, tuple: { src: peer, dst: inspected, dport: 1600 }, timeout: 200 };
      const created = await client.expectations.create([mine]);
      expect(created.failed).toEqual([]);
      const listed = await client.expectations.list();
      expect(listed.map((e) => [e.tuple, e.helper])).toEqual([[{ src: peer, dst: inspected, sport: 0, dport: 1600 }, 'ftp']]);
      expect(listed[0]!.timeout).toBeGreaterThan(190);
      expect((await oracle.listExpectations()).map((e) => e.tuple)).toEqual([{ src: peer, dst: inspected, sport: 0, dport: 1600 }]);
      const again = await collect((s) => s.some((e) => e.type === 'new'));
      expect(again.map((e) => [e.type, e.type === 'overflow' ? undefined : e.expectation.tuple])).toEqual([['new', { src: peer, dst: inspected, sport: 0, dport: 1600 }]]);
    });
  }

  test('a master without a helper, or without an entry, is refused per expectation', async ({ topology, client, oracle }) => {
    const zone = topology.zone;
    const plain: EntryInput = { protocol: 'tcp', src: '10.213.0.1', dst: '10.213.0.2', sport: 4000, dport: 21, zone };
    await client.create([plain]);
    const tuple = { src: '10.213.0.2', dst: '10.213.0.1', dport: 1600 };
    const result = await client.expectations.create([{ master: plain, tuple }, { master: { ...plain, sport: 4001 }, tuple }]);
    expect(result.created).toEqual([]);
    expect(result.failed.map((f) => (f.error instanceof NetlinkErrnoError ? f.error.errnoName : f.error.code))).toEqual(['EOPNOTSUPP', 'ENOENT']);
    expect(await oracle.listExpectations()).toEqual([]);
    expect(await codeOfAsync(() => client.expectations.list({ zone } as never))).toBe('ERR_UNKNOWN_FILTER_KEY');
    expect(await codeOfAsync(() => client.expectations.events({ zone } as never))).toBe('ERR_UNKNOWN_FILTER_KEY');
    expect(await codeOfAsync(() => client.expectations.events({ types: ['update' as never] }))).toBe('ERR_INVALID_ARGUMENT');
  });
});
