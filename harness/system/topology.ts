// Two namespaces joined by a veth pair, with an nftables table in the inspected one that sets the
// conntrack zone (and so makes that namespace track at all): where real packets make real entries.
import { HarnessError, ValidationError } from '../errors.ts';
import { ipIn, linkUp } from './ip.ts';
import { Netns } from './netns.ts';
import { ProcessGroup, type OwnedProcess, type SpawnOptions } from './processes.ts';
import { notYet, ready, waitFor } from './wait.ts';

export interface TopologyOptions {
  /** The zone the nft table puts every packet of the inspected namespace in (1..65535 in suites). */
  zone: number;
}

export type Side = 'inspected' | 'peer';

/** Same values as the entry model's Family (this layer sits below it and does not import it). */
export type Family = 'ipv4' | 'ipv6';

function assertZone(zone: unknown): number {
  if (typeof zone !== 'number' || !Number.isInteger(zone) || zone < 0 || zone > 65535) {
    throw new ValidationError('ERR_INVALID_ZONE', 'zone', zone, `zone must be an integer 0..65535, got ${String(zone)}`);
  }
  return zone;
}

/** Addresses used only inside the topology's two namespaces (RFC 1918 and ULA). */
export const TOPOLOGY_ADDRESSES: Record<Family, { inspected: string; peer: string; prefix: number }> = {
  ipv4: { inspected: '10.213.0.1', peer: '10.213.0.2', prefix: 24 },
  ipv6: { inspected: 'fd00:c7::1', peer: 'fd00:c7::2', prefix: 64 },
};

/** The veth ends: one in each namespace, never in the host namespace. */
export const TOPOLOGY_LINKS: Record<Side, string> = { inspected: 'cthv0', peer: 'cthv1' };

/** Name of the nft table the topology adds to the inspected namespace. */
export const NFT_TABLE = 'cth';

/** The ruleset: `ct zone set` in raw priority on prerouting (inbound) and output (locally sent). */
export function zoneRuleset(zone: number): string {
  const z = assertZone(zone);
  return [
    `table inet ${NFT_TABLE} {`,
    '  chain pre {',
    '    type filter hook prerouting priority raw; policy accept;',
    `    ct zone set ${z}`,
    '  }',
    '  chain out {',
    '    type filter hook output priority raw; policy accept;',
    `    ct zone set ${z}`,
    '  }',
    '}',
    '',
  ].join('\n');
}

const SYSCTL_KEY = /^[a-z0-9_]+(\.[a-z0-9_]+)+$/;
const SYSCTL_TIMEOUT_MS = 10_000;

function sysctlPath(key: string): string {
  if (!SYSCTL_KEY.test(key)) throw new ValidationError('ERR_INVALID_ARGUMENT', 'key', key, `invalid sysctl key ${JSON.stringify(key)}`);
  return `/proc/sys/${key.replaceAll('.', '/')}`;
}

/** Reads a sysctl as the namespace sees it (`cat /proc/sys/...` run inside it). */
export async function readSysctl(ns: Netns, key: string): Promise<string> {
  const { stdout } = await ns.exec(['cat', sysctlPath(key)], { timeout: SYSCTL_TIMEOUT_MS });
  return stdout.trim();
}

/** Writes a per-namespace sysctl from inside the namespace (`tee /proc/sys/...`), and reads it back. */
export async function writeSysctl(ns: Netns, key: string, value: string | number): Promise<void> {
  const text = String(value);
  if (!/^[0-9a-z_ -]+$/i.test(text)) throw new ValidationError('ERR_INVALID_ARGUMENT', 'value', value, `invalid sysctl value ${JSON.stringify(text)}`);
  await ns.exec(['tee', sysctlPath(key)], { input: `${text}\n`, timeout: SYSCTL_TIMEOUT_MS });
  const now = await readSysctl(ns, key);
  if (now !== text) throw new HarnessError('ERR_COMMAND_FAILED', `${key} in ${ns.name} reads ${now} after writing ${text}`);
}

async function operState(ns: Netns, dev: string): Promise<string> {
  const { stdout } = await ipIn(ns.name, ['-j', 'link', 'show', 'dev', dev]);
  const links = JSON.parse(stdout) as Array<{ operstate?: string }>;
  return links[0]?.operstate ?? 'MISSING';
}

export class Topology implements AsyncDisposable {
  readonly zone: number;
  /** Has the nft table: its conntrack table holds the flows, in `zone`. Traffic clients run here. */
  readonly inspected: Netns;
  /** Has no ruleset, so it tracks nothing. Listeners and responders run here. */
  readonly peer: Netns;
  /** Every background process the topology's users started; killed by destroy(). */
  readonly processes = new ProcessGroup();
  readonly addresses = TOPOLOGY_ADDRESSES;
  readonly links = TOPOLOGY_LINKS;
  #destroyed = false;

  private constructor(zone: number, inspected: Netns, peer: Netns) {
    this.zone = zone;
    this.inspected = inspected;
    this.peer = peer;
  }

  /** Makes both namespaces, the veth pair, the addresses (IPv4 and IPv6) and the zone ruleset. */
  static async create(options: TopologyOptions): Promise<Topology> {
    const zone = assertZone(options?.zone);
    const made: Netns[] = [];
    try {
      made.push(await Netns.create());
      made.push(await Netns.create());
      const topology = new Topology(zone, made[0]!, made[1]!);
      await topology.#build();
      return topology;
    } catch (error) {
      await Promise.allSettled(made.map((ns) => ns.destroy()));
      throw error;
    }
  }

  async #build(): Promise<void> {
    const { inspected, peer } = this;
    // The peer end is created straight inside the peer namespace: nothing appears in the host one.
    await ipIn(inspected.name, ['link', 'add', TOPOLOGY_LINKS.inspected, 'type', 'veth', 'peer', 'name', TOPOLOGY_LINKS.peer, 'netns', peer.name]);
    for (const side of ['inspected', 'peer'] as const) {
      const ns = this[side];
      const dev = TOPOLOGY_LINKS[side];
      await ipIn(ns.name, ['addr', 'add', `${TOPOLOGY_ADDRESSES.ipv4[side]}/${TOPOLOGY_ADDRESSES.ipv4.prefix}`, 'dev', dev]);
      // nodad: the address is usable at once instead of after duplicate address detection.
      await ipIn(ns.name, ['addr', 'add', `${TOPOLOGY_ADDRESSES.ipv6[side]}/${TOPOLOGY_ADDRESSES.ipv6.prefix}`, 'dev', dev, 'nodad']);
      await linkUp(ns.name, dev);
    }
    await inspected.exec(['nft', '-f', '-'], { input: zoneRuleset(this.zone), timeout: 15_000 });
    // A packet sent before both ends have carrier is lost (IPv6 neighbour discovery then retries
    // only after a second): wait until both ends are operationally up.
    await waitFor(async () => {
      const states = await Promise.all((['inspected', 'peer'] as const).map((s) => operState(this[s], TOPOLOGY_LINKS[s])));
      return states.every((s) => s === 'UP') ? ready(undefined) : notYet(`operstate ${TOPOLOGY_LINKS.inspected}=${states[0]} ${TOPOLOGY_LINKS.peer}=${states[1]}`);
    }, { what: `veth ${TOPOLOGY_LINKS.inspected}/${TOPOLOGY_LINKS.peer} up on both ends`, timeoutMs: 10_000 });
  }

  get destroyed(): boolean {
    return this.#destroyed;
  }

  /** The address of `side` in `family`, e.g. `topology.address('ipv6', 'peer')`. */
  address(family: Family, side: Side): string {
    return TOPOLOGY_ADDRESSES[family][side];
  }

  /** Starts a background process inside `side`'s namespace, owned (and killed) by the topology. */
  spawn(side: Side, argv: readonly string[], options: Omit<SpawnOptions, 'netns'> = {}): OwnedProcess {
    if (this.#destroyed) throw new HarnessError('ERR_NETNS_NOT_FOUND', 'the topology was destroyed');
    return this.processes.spawn(argv, { ...options, netns: this[side].name });
  }

  /** The nft ruleset of the inspected namespace, as `nft list ruleset` prints it. */
  async ruleset(): Promise<string> {
    return (await this.inspected.exec(['nft', 'list', 'ruleset'], { timeout: 15_000 })).stdout;
  }

  /**
   * Kills every owned process, then both namespaces (which also kills anything left inside them).
   * Every step runs even when an earlier one failed; the failures are thrown together at the end.
   */
  async destroy(): Promise<void> {
    if (this.#destroyed) return;
    this.#destroyed = true;
    const failures: unknown[] = [];
    try {
      await this.processes.killAll();
    } catch (error) {
      failures.push(error);
    }
    for (const result of await Promise.allSettled([this.inspected.destroy(), this.peer.destroy()])) {
      if (result.status === 'rejected') failures.push(result.reason);
    }
    if (failures.length > 0) throw new AggregateError(failures, `topology teardown: ${failures.length} step(s) failed`);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.destroy();
  }
}
