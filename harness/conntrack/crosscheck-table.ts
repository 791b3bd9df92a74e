// The table and filters the cross-check runs on (suites/kernel/crosscheck.test.ts, `npm run
// compare`): entries of every kind the client models (NAT, directional zones, flags), the filters
// to compare, and a real connection that the FTP helper follows.
import type { Netns } from '../os/netns.ts';
import type { ProcessGroup } from '../os/processes.ts';
import { ftpHelperRuleset } from '../os/topology.ts';
import { notYet, ready, waitFor } from '../os/wait.ts';
import type { EntryInput } from './entry.ts';
import type { ConntrackFilter } from './filter.ts';
import { type ConntrackOracle, type OracleEntry } from './oracle.ts';

/** The zones the cross-check table uses: `zone` for most entries, one origZone and one replyZone. */
export interface CrossCheckZones {
  zone: number;
  origZone: number;
  replyZone: number;
}

/**
 * Entries the client creates for the cross-check, beside the registry's samples: NAT (snat, dnat,
 * both, port only; both families; a generic protocol and ICMP too), an explicit reply tuple that is
 * not NAT, directional zones (generic protocols included), and status flags the CLI shows in one
 * format only (FIXED_TIMEOUT, SEEN_REPLY without ASSURED), a non-default TCP state and a mark.
 */
export function crossCheckExtras({ zone, origZone, replyZone }: CrossCheckZones): EntryInput[] {
  return [
    { protocol: 'udp', src: '10.7.0.1', dst: '10.7.0.2', sport: 4000, dport: 53, zone, snat: { address: '10.7.9.9' } },
    { protocol: 'tcp', src: '10.7.0.1', dst: '10.7.0.2', sport: 4001, dport: 80, zone, dnat: { address: '10.7.8.8', port: 8080 } },
    { protocol: 'tcp', src: '10.7.0.1', dst: '10.7.0.2', sport: 4002, dport: 80, zone, snat: { address: '10.7.9.9', port: 7000 }, dnat: { address: '10.7.8.8', port: 8080 } },
    { protocol: 'udp', src: '10.7.0.1', dst: '10.7.0.2', sport: 4003, dport: 53, zone, snat: { address: '10.7.0.1', port: 6000 } },
    { protocol: 200, src: '10.7.0.3', dst: '10.7.0.4', zone, snat: { address: '10.7.9.9' } },
    { protocol: 'igmp', src: '10.7.0.5', dst: '224.0.0.22', zone, dnat: { address: '10.7.8.8' } },
    { protocol: 'icmp', src: '10.7.0.6', dst: '10.7.0.7', icmpType: 8, icmpId: 9, zone, snat: { address: '10.7.9.9' } },
    { protocol: 'udp', src: '2001:db8:7::1', dst: '2001:db8:7::2', sport: 4004, dport: 53, zone, snat: { address: '2001:db8:7::99' } },
    { protocol: 'tcp', src: '2001:db8:7::1', dst: '2001:db8:7::2', sport: 4005, dport: 80, zone, dnat: { address: '2001:db8:7::80', port: 8080 } },
    { protocol: 'udp', src: '10.7.0.8', dst: '10.7.0.9', sport: 4006, dport: 53, zone, reply: { src: '10.7.0.10', dst: '10.7.0.11', sport: 53, dport: 4006 } },
    { protocol: 'udp', src: '10.7.1.1', dst: '10.7.1.2', sport: 4010, dport: 53, origZone },
    { protocol: 'tcp', src: '2001:db8:7:1::1', dst: '2001:db8:7:1::2', sport: 4011, dport: 80, origZone },
    { protocol: 'igmp', src: '10.7.1.3', dst: '224.0.0.22', origZone },
    { protocol: 'udp', src: '10.7.2.1', dst: '10.7.2.2', sport: 4012, dport: 53, replyZone },
    { protocol: 200, src: '2001:db8:7:2::1', dst: '2001:db8:7:2::2', replyZone },
    { protocol: 'icmpv6', src: '2001:db8:7:2::3', dst: '2001:db8:7:2::4', icmpType: 128, icmpId: 5, replyZone },
    { protocol: 'udp', src: '10.7.3.1', dst: '10.7.3.2', sport: 4020, dport: 53, status: ['SEEN_REPLY', 'ASSURED', 'FIXED_TIMEOUT'], mark: 0x1207 },
    { protocol: 'udp', src: '10.7.3.1', dst: '10.7.3.2', sport: 4021, dport: 53, status: ['SEEN_REPLY'], mark: 0x12ab },
    { protocol: 'tcp', src: '10.7.3.1', dst: '10.7.3.2', sport: 4022, dport: 80, state: 'SYN_SENT' },
  ];
}

/** The port of the helper flow (crossCheckHelperFlow). */
export const HELPER_FLOW_PORT = 2121;

/**
 * The filters the cross-check runs, each of which must select some but not all of the table:
 * zone, family, protocol (generic ones by name and number), CIDR and exact addresses, ports with a
 * protocol, mark and mark/mask, status, state, NAT, the reply destination, directional zones.
 */
export function crossCheckFilters({ zone, origZone, replyZone }: CrossCheckZones): ConntrackFilter[] {
  return [
    { zone },
    { zone: 0 },
    { family: 'ipv6' },
    { zone, family: 'ipv4' },
    { protocol: 'tcp' },
    { protocol: 'igmp' },
    { protocol: 200 },
    { zone, protocol: 'icmpv6' },
    { src: '198.51.0.0/16' },
    { zone, src: '10.7.0.0/16' },
    { src: '2001:db8:7::/48' },
    { dst: '203.0.113.1' },
    { zone, protocol: 'udp', dport: 53 },
    { protocol: 'tcp', sport: 4001 },
    { protocol: 'tcp', dport: HELPER_FLOW_PORT },
    { mark: 1007 },
    { mark: { value: 7, mask: 0xff } },
    { mark: { value: 0x1200, mask: 0xff00 } },
    { status: ['ASSURED'] },
    { status: ['SEEN_REPLY'], family: 'ipv4' },
    { status: ['FIXED_TIMEOUT'] },
    { protocol: 'tcp', state: 'ESTABLISHED' },
    { nat: 'src' },
    { nat: 'dst' },
    { nat: 'any' },
    { nat: 'src', replyDst: '10.7.9.9' },
    { origZone },
    { replyZone },
    { origZone: 0 },
  ];
}

/**
 * A real TCP connection over the loopback of `ns` with the FTP helper attached by an nft `ct
 * helper` rule, held open by two socat processes owned by `processes`: an entry with `helper=ftp`
 * and non-zero counters that stay put while nothing is sent. Returns once conntrack-tools lists
 * the entry as ESTABLISHED and ASSURED.
 */
export async function crossCheckHelperFlow(ns: Netns, processes: ProcessGroup, oracle: ConntrackOracle): Promise<OracleEntry> {
  const port = HELPER_FLOW_PORT;
  await ns.exec(['nft', '-f', '-'], { input: ftpHelperRuleset('cth_crosscheck_helper', port) });
  // -u: what the client sends goes to /dev/null, and nothing comes back (no shell, no echo).
  processes.spawn(['socat', '-u', `TCP-LISTEN:${port},bind=127.0.0.1,reuseaddr`, 'OPEN:/dev/null'], { netns: ns.name });
  // Connect only once the listener is up: a refused attempt would leave a dying entry behind.
  await waitFor(async () => {
    const { stdout } = await ns.exec(['ss', '-Hltn', `sport = :${port}`]);
    return stdout.trim() ? ready(undefined) : notYet('no listener yet');
  }, { what: `a socat listener on 127.0.0.1:${port} in ${ns.name}` });
  processes.spawn(['socat', '-', `TCP:127.0.0.1:${port}`], { netns: ns.name, stdin: true });
  return waitFor(async () => {
    const found = await oracle.list({ protocol: 'tcp', dport: port });
    const e = found[0];
    return found.length === 1 && e?.state === 'ESTABLISHED' && e.status?.includes('ASSURED') && e.helper === 'ftp'
      ? ready(e) : notYet(JSON.stringify(found.map((f) => [f.state, f.status, f.helper])));
  }, { what: `an ESTABLISHED, ASSURED tcp entry to 127.0.0.1:${port} with helper=ftp in ${ns.name}` });
}
