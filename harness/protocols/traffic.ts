// Real-traffic recipes that protocol specs attach (ping, socat TCP and UDP over a Topology), and the
// shared code to await the entry a flow makes: what the kernel must then list, field by field.
import { randomInt } from 'node:crypto';
import { HarnessError, ValidationError } from '../errors.ts';
import {
  ICMP_REPLY_TYPE, ICMPV6_REPLY_TYPE, keyString, normalizeKey,
  type ConntrackEntry, type ConntrackKey, type ConntrackTuple, type Family,
} from '../conntrack/entry.ts';
import { openEvents } from '../conntrack/events.ts';
import type { ConntrackFilter } from '../conntrack/filter.ts';
import type { OwnedProcess } from '../os/processes.ts';
import type { Topology } from '../os/topology.ts';
import { notYet, ready, waitFor, wakeupOn } from '../os/wait.ts';

/** What a recipe made, and what the inspected namespace's table must say about it. */
export interface TrafficFlow {
  /** One line for messages, e.g. `tcp ipv4 10.213.0.1:40001 -> 10.213.0.2:20001 (held open)`. */
  description: string;
  /** Original tuple (client -> server, as the first packet went) and the topology's zone. */
  key: ConntrackKey;
  /** Reply tuple the kernel must report: addresses and ports swapped, ICMP type inverted. */
  reply: ConntrackTuple;
  /** TCP state the entry settles in. */
  state?: string;
  /** Status flags the kernel sets for this flow, and flags it must not set. */
  statusIncludes: readonly string[];
  statusExcludes: readonly string[];
  /** For a flow still open (`recipe.live`): one more request, resolved when its answer came back. */
  exchange?: () => Promise<void>;
  /** The client process when it runs in the background (owned by the topology). */
  client?: OwnedProcess;
}

export interface TrafficRecipe {
  /** Short name used in test titles: `echo`, `established`, `time-wait`, `replied`, `unreplied`. */
  name: string;
  /** Families the recipe runs over (a subset of the spec's). */
  families: readonly Family[];
  /** The flow stays open after start() and `exchange()` sends more packets on it. */
  live: boolean;
  /** Makes the traffic inside `topology` (client in `inspected`, server in `peer`). */
  start(topology: Topology, family: Family): Promise<TrafficFlow>;
}

/** Anything that lists a namespace's entries: the client under test or the oracle. */
export interface EntryLister {
  /** The namespace whose table it lists. */
  readonly netns: string;
  list(filter?: ConntrackFilter): Promise<ConntrackEntry[]>;
}

const COMMAND_TIMEOUT_MS = 15_000;
export const FLOW_WAIT_MS = 10_000;

/** Server ports and client source ports: random per flow, so two flows never share a tuple. */
export function randomServerPort(): number {
  return randomInt(20_000, 30_000);
}

export function randomClientPort(): number {
  return randomInt(40_000, 60_000);
}

/** The reply tuple conntrack computes for an original tuple. */
export function expectedReply(key: ConntrackKey): ConntrackTuple {
  if (key.icmpType === undefined && key.sport === undefined) return { src: key.dst, dst: key.src };
  if (key.icmpType === undefined) return { src: key.dst, dst: key.src, sport: key.dport, dport: key.sport };
  const icmpType = (key.protocol === 'icmp' ? ICMP_REPLY_TYPE : ICMPV6_REPLY_TYPE)[key.icmpType];
  if (icmpType === undefined) throw new ValidationError('ERR_INVALID_ICMP', 'icmpType', key.icmpType, `no reply type for ${key.protocol} type ${key.icmpType}`);
  return { src: key.dst, dst: key.src, icmpType, icmpCode: key.icmpCode, icmpId: key.icmpId };
}

/** The entries of `entries` whose original tuple and zone are `key`'s. */
export function entriesOf(entries: readonly ConntrackEntry[], key: ConntrackKey): ConntrackEntry[] {
  const want = keyString(key);
  return entries.filter((e) => keyString(e) === want);
}

export function describeEntry(e: ConntrackEntry): string {
  const flags = e.status && e.status.length > 0 ? ` [${e.status.join(',')}]` : '';
  return `${keyString(e)}${e.state ? ` ${e.state}` : ''}${flags}${e.id !== undefined ? ` id=${e.id}` : ''}`;
}

function describeTable(entries: readonly ConntrackEntry[]): string {
  if (entries.length === 0) return 'no entry in the zone';
  const shown = entries.slice(0, 8).map(describeEntry).join('; ');
  return `${entries.length} entr${entries.length === 1 ? 'y' : 'ies'} in the zone: ${shown}${entries.length > 8 ? '; ...' : ''}`;
}

/**
 * Waits (bounded) until `lister` shows the flow's entry, in its TCP state when the flow names one,
 * and returns it. The timeout message says what was expected and what the zone held.
 *
 * Each ctnetlink event of the zone (subscribed before the first look, so none is missed) prompts the
 * next look at once; the lister alone decides whether the entry is there, so when it is the oracle,
 * the client's events only choose the moment. Polling stays as the fallback.
 */
export async function awaitFlowEntry(lister: EntryLister, flow: TrafficFlow, timeoutMs = FLOW_WAIT_MS): Promise<ConntrackEntry> {
  const what = `${describeEntry(flow.key)}${flow.state ? ` in state ${flow.state}` : ''} (${flow.description})`;
  await using events = openEvents(lister.netns, { zone: flow.key.zone });
  return await waitFor(async () => {
    const listed = await lister.list({ zone: flow.key.zone });
    const mine = entriesOf(listed, flow.key);
    if (mine.length > 1) {
      throw new HarnessError('ERR_TRAFFIC_FAILED', `${mine.length} entries for one tuple: ${mine.map(describeEntry).join('; ')}`);
    }
    const entry = mine[0];
    if (entry && (flow.state === undefined || entry.state === flow.state)) return ready(entry);
    return notYet(describeTable(listed));
  }, { what, timeoutMs, wakeup: wakeupOn(events) });
}

function hostPort(family: Family, address: string, port: number): string {
  return family === 'ipv6' ? `[${address}]:${port}` : `${address}:${port}`;
}

const SOCAT_FAMILY: Record<Family, '4' | '6'> = { ipv4: '4', ipv6: '6' };

/** Starts an echo server (`socat ...-LISTEN ... PIPE`) in the peer and waits until it listens. */
export async function startEchoServer(topology: Topology, family: Family, protocol: 'tcp' | 'udp', port: number): Promise<OwnedProcess> {
  const v = SOCAT_FAMILY[family];
  const bind = family === 'ipv6' ? `[${topology.address(family, 'peer')}]` : topology.address(family, 'peer');
  const address = `${protocol.toUpperCase()}${v}-LISTEN:${port},bind=${bind},reuseaddr,fork`;
  const server = topology.spawn('peer', ['socat', address, 'PIPE']);
  await waitFor(async () => {
    if (!server.running) throw new HarnessError('ERR_TRAFFIC_FAILED', `echo server died: ${server.describe()}`);
    const { stdout } = await topology.peer.exec(
      ['ss', '-H', '-n', '-l', protocol === 'tcp' ? '-t' : '-u', `-${v}`, 'sport', '=', `:${port}`],
      { timeout: COMMAND_TIMEOUT_MS },
    );
    return stdout.trim().length > 0 ? ready(undefined) : notYet(`nothing bound to ${protocol} port ${port} yet`);
  }, { what: `${protocol} ${family} echo server listening on port ${port} in ${topology.peer.name}`, timeoutMs: FLOW_WAIT_MS });
  return server;
}

/** A socat client in the inspected namespace, held open with a stdin pipe; it prints what comes back. */
function startClient(topology: Topology, family: Family, protocol: 'tcp' | 'udp', port: number, sport: number): OwnedProcess {
  const target = `${protocol.toUpperCase()}${SOCAT_FAMILY[family]}:${hostPort(family, topology.address(family, 'peer'), port)},sourceport=${sport}`;
  return topology.spawn('inspected', ['socat', '-', target], { stdin: true });
}

/** Sends one line through the client and waits until the echo server's copy of it came back. */
async function roundTrip(client: OwnedProcess, line: string): Promise<void> {
  await client.write(`${line}\n`);
  await client.waitForOutput(`${line}\n`, FLOW_WAIT_MS);
}

/** ICMP or ICMPv6 echo: one `ping -c 1` with a chosen identifier, answered by the peer's kernel. */
export function pingRecipe(protocol: 'icmp' | 'icmpv6'): TrafficRecipe {
  const family: Family = protocol === 'icmp' ? 'ipv4' : 'ipv6';
  return {
    name: 'echo',
    families: [family],
    live: false,
    async start(topology) {
      const icmpId = randomInt(1, 65_536);
      const src = topology.address(family, 'inspected');
      const dst = topology.address(family, 'peer');
      await topology.inspected.exec(
        ['ping', family === 'ipv4' ? '-4' : '-6', '-n', '-q', '-c', '1', '-W', '5', '-e', String(icmpId), dst],
        { timeout: COMMAND_TIMEOUT_MS },
      );
      const k = normalizeKey({ protocol, src, dst, icmpType: protocol === 'icmp' ? 8 : 128, icmpCode: 0, icmpId, zone: topology.zone });
      return {
        description: `${protocol} echo ${src} -> ${dst} id ${icmpId}, answered`,
        key: k,
        reply: expectedReply(k),
        // The echo reply came back, so the entry has seen a reply; ICMP entries are never ASSURED.
        statusIncludes: ['CONFIRMED', 'SEEN_REPLY'],
        statusExcludes: ['ASSURED'],
      };
    },
  };
}

/**
 * TCP through socat: `established` keeps the client open after one echoed line (a live flow);
 * `time-wait` closes it cleanly afterwards (client FIN first), which leaves the entry in TIME_WAIT.
 */
export function tcpRecipe(kind: 'established' | 'time-wait'): TrafficRecipe {
  return {
    name: kind,
    families: ['ipv4', 'ipv6'],
    live: kind === 'established',
    async start(topology, family) {
      const port = randomServerPort();
      const sport = randomClientPort();
      await startEchoServer(topology, family, 'tcp', port);
      const client = startClient(topology, family, 'tcp', port, sport);
      await roundTrip(client, `cth-hello-${sport}`);
      const src = topology.address(family, 'inspected');
      const dst = topology.address(family, 'peer');
      const k = normalizeKey({ protocol: 'tcp', src, dst, sport, dport: port, zone: topology.zone });
      const base = { key: k, reply: expectedReply(k), client, statusIncludes: ['CONFIRMED', 'SEEN_REPLY', 'ASSURED'], statusExcludes: [] };
      const where = `${hostPort(family, src, sport)} -> ${hostPort(family, dst, port)}`;
      if (kind === 'established') {
        let n = 0;
        return {
          ...base,
          description: `tcp ${family} ${where}, held open`,
          state: 'ESTABLISHED',
          exchange: () => roundTrip(client, `cth-more-${sport}-${++n}`),
        };
      }
      client.endInput();
      const exit = await client.waitForExit(FLOW_WAIT_MS);
      if (exit.exitCode !== 0) throw new HarnessError('ERR_TRAFFIC_FAILED', `tcp client did not close cleanly: ${client.describe()}`);
      return { ...base, description: `tcp ${family} ${where}, closed by the client`, state: 'TIME_WAIT' };
    },
  };
}

/**
 * UDP through socat: `replied` sends one datagram to an echo server and gets it back; `unreplied`
 * sends one to a port nobody listens on (the peer answers ICMP port unreachable, which conntrack
 * treats as related to the entry: it neither replies to it nor makes an entry of its own).
 */
export function udpRecipe(kind: 'replied' | 'unreplied'): TrafficRecipe {
  return {
    name: kind,
    families: ['ipv4', 'ipv6'],
    live: false,
    async start(topology, family) {
      const port = randomServerPort();
      const sport = randomClientPort();
      const src = topology.address(family, 'inspected');
      const dst = topology.address(family, 'peer');
      const k = normalizeKey({ protocol: 'udp', src, dst, sport, dport: port, zone: topology.zone });
      const where = `${hostPort(family, src, sport)} -> ${hostPort(family, dst, port)}`;
      if (kind === 'replied') {
        await startEchoServer(topology, family, 'udp', port);
        const client = startClient(topology, family, 'udp', port, sport);
        await roundTrip(client, `cth-dgram-${sport}`);
        return {
          description: `udp ${family} ${where}, one datagram echoed`,
          key: k,
          reply: expectedReply(k),
          client,
          // The reply sets SEEN_REPLY (after UDP's own handling of it); ASSURED needs a later
          // packet more than 2 s after the first, so one datagram each way never makes it.
          statusIncludes: ['CONFIRMED', 'SEEN_REPLY'],
          statusExcludes: ['ASSURED'],
        };
      }
      const target = `UDP${SOCAT_FAMILY[family]}-SENDTO:${hostPort(family, dst, port)},sourceport=${sport}`;
      await topology.inspected.exec(['socat', '-u', '-', target], { input: `cth-lost-${sport}\n`, timeout: COMMAND_TIMEOUT_MS });
      return {
        description: `udp ${family} ${where}, one datagram to a closed port`,
        key: k,
        reply: expectedReply(k),
        statusIncludes: ['CONFIRMED'],
        statusExcludes: ['SEEN_REPLY', 'ASSURED'],
      };
    },
  };
}
