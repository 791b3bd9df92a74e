// Two namespaces joined by a veth pair, with an nftables table in the inspected one that sets the
// conntrack zone (and so makes that namespace track at all): where real packets make real entries.
// Optional NAT rules (snat on postrouting, dnat on output) in the same table make NAT entries.
import { BlockList, isIPv4, isIPv6 } from 'node:net';
import { HarnessError, ValidationError } from '../errors.ts';
import { ipIn, linkUp } from './ip.ts';
import { Netns } from './netns.ts';
import { ProcessGroup, type OwnedProcess, type SpawnOptions } from './processes.ts';
import { notYet, ready, waitFor } from './wait.ts';

export interface TopologyOptions {
  /** The zone the nft table puts every packet of the inspected namespace in (1..65535 in suites). */
  zone: number;
  /** NAT rules loaded into the inspected namespace once it is built (see `Topology.nat`). */
  nat?: readonly NatRule[];
}

/** An address and port a NAT rule matches or maps to. */
export interface NatEndpoint {
  address: string;
  port: number;
}

/**
 * One NAT rule of the inspected namespace, for the packets of one protocol and family.
 *
 * - `dnat`: chain `type nat hook output priority -100`. Packets the inspected namespace sends to
 *   `match` (destination address and port) go to `to` instead. `to` must be the peer's address.
 * - `snat`: chain `type nat hook postrouting priority 100`. Packets the inspected namespace sends
 *   from `match` (source address and port, so `match.address` is the inspected address) leave from
 *   `to`. `to.address` must be an address the inspected namespace owns, so answers come back: its own,
 *   or `TOPOLOGY_NAT_ADDRESSES[family].snat`, which is then added to its veth end.
 *
 * The zone chains run at priority raw (-300) on prerouting and output, so the zone is set before
 * conntrack (-200) looks the packet up, and NAT (-100, 100) comes after both.
 */
export interface NatRule {
  kind: 'snat' | 'dnat';
  family: Family;
  protocol: 'tcp' | 'udp';
  match: NatEndpoint;
  /** Without a port, the port is kept (unless the kernel must change it to keep tuples unique). */
  to: { address: string; port?: number };
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

/**
 * Addresses NAT rules use, inside the topology's subnets and the namespaces only. `snat` is added to
 * `cthv0` when a rule maps to it (IPv6: deprecated, `preferred_lft 0`, so it is never picked as a
 * source; IPv4: secondary to the inspected address). `dnat` is on no interface: packets to it exist
 * only until the output DNAT rewrites them.
 */
export const TOPOLOGY_NAT_ADDRESSES: Record<Family, { snat: string; dnat: string }> = {
  ipv4: { snat: '10.213.0.3', dnat: '10.213.0.9' },
  ipv6: { snat: 'fd00:c7::3', dnat: 'fd00:c7::9' },
};

const SUBNETS = new BlockList();
SUBNETS.addSubnet(TOPOLOGY_ADDRESSES.ipv4.inspected, TOPOLOGY_ADDRESSES.ipv4.prefix, 'ipv4');
SUBNETS.addSubnet(TOPOLOGY_ADDRESSES.ipv6.inspected, TOPOLOGY_ADDRESSES.ipv6.prefix, 'ipv6');

/** Same address, whatever the spelling (`fd00:c7:0::3` is `fd00:c7::3`). */
function sameAddress(family: Family, a: string, b: string): boolean {
  const list = new BlockList();
  list.addAddress(a, family);
  return list.check(b, family);
}

const NAT_RULE_KEYS = ['kind', 'family', 'protocol', 'match', 'to'] as const;

/**
 * Validates NAT rules (all of them, before anything runs) and returns plain copies. Addresses must
 * be in the topology's subnets, ports 1..65535; `snat` must match the inspected address and map to
 * one it owns; `dnat` must map to the peer's address and match neither of the inspected ones.
 */
export function checkNatRules(rules: unknown): NatRule[] {
  const bad = (field: string, value: unknown, message: string): never => {
    throw new ValidationError('ERR_INVALID_ARGUMENT', field, value, message);
  };
  if (!Array.isArray(rules)) bad('nat', rules, 'NAT rules must be an array');
  return (rules as unknown[]).map((rule, i) => {
    const at = `nat[${i}]`;
    if (rule === null || typeof rule !== 'object' || Array.isArray(rule)) bad(at, rule, `${at} must be an object`);
    const r = rule as Record<string, unknown>;
    for (const key of Object.keys(r)) {
      if (!(NAT_RULE_KEYS as readonly string[]).includes(key)) bad(`${at}.${key}`, r[key], `unknown NAT rule key ${JSON.stringify(key)}; a rule has ${NAT_RULE_KEYS.join(', ')}`);
    }
    const kind = r.kind === 'snat' || r.kind === 'dnat' ? r.kind : bad(`${at}.kind`, r.kind, `${at}.kind must be 'snat' or 'dnat'`);
    const family = r.family === 'ipv4' || r.family === 'ipv6' ? r.family : bad(`${at}.family`, r.family, `${at}.family must be 'ipv4' or 'ipv6'`);
    const protocol = r.protocol === 'tcp' || r.protocol === 'udp' ? r.protocol : bad(`${at}.protocol`, r.protocol, `${at}.protocol must be 'tcp' or 'udp'`);
    const endpoint = (field: 'match' | 'to', portRequired: boolean): { address: string; port?: number } => {
      const e = r[field];
      const name = `${at}.${field}`;
      if (e === null || typeof e !== 'object' || Array.isArray(e)) return bad(name, e, `${name} must be { address, port }`);
      const { address, port, ...extra } = e as Record<string, unknown>;
      if (Object.keys(extra).length > 0) bad(name, e, `${name} takes address and port only, not ${Object.keys(extra).join(', ')}`);
      const valid = typeof address === 'string' && (family === 'ipv4' ? isIPv4(address) : isIPv6(address) && !address.includes('%'));
      if (!valid) bad(`${name}.address`, address, `${name}.address must be an ${family} address, got ${JSON.stringify(address)}`);
      if (!SUBNETS.check(address as string, family)) {
        bad(`${name}.address`, address, `${name}.address ${String(address)} is outside the topology's subnet ${TOPOLOGY_ADDRESSES[family].inspected}/${TOPOLOGY_ADDRESSES[family].prefix}`);
      }
      if (port === undefined && !portRequired) return { address: address as string };
      if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) {
        bad(`${name}.port`, port, `${name}.port must be an integer 1..65535, got ${String(port)}`);
      }
      return { address: address as string, port: port as number };
    };
    const match = endpoint('match', true) as NatEndpoint;
    const to = endpoint('to', false);
    const is = (address: string, which: string) => sameAddress(family, address, which);
    const own = [TOPOLOGY_ADDRESSES[family].inspected, TOPOLOGY_NAT_ADDRESSES[family].snat];
    if (kind === 'snat') {
      if (!is(match.address, TOPOLOGY_ADDRESSES[family].inspected)) {
        bad(`${at}.match.address`, match.address, `an snat rule matches packets from the inspected address ${TOPOLOGY_ADDRESSES[family].inspected}, not ${match.address}`);
      }
      if (!own.some((a) => is(to.address, a))) {
        bad(`${at}.to.address`, to.address, `an snat rule maps to an address the inspected namespace owns (${own.join(' or ')}), or no answer comes back; got ${to.address}`);
      }
    } else {
      if (own.some((a) => is(match.address, a))) {
        bad(`${at}.match.address`, match.address, `a dnat rule matches a destination other than the inspected namespace's own addresses (${own.join(', ')}); got ${match.address}`);
      }
      if (!is(to.address, TOPOLOGY_ADDRESSES[family].peer)) {
        bad(`${at}.to.address`, to.address, `a dnat rule maps to the peer's address ${TOPOLOGY_ADDRESSES[family].peer}, got ${to.address}`);
      }
    }
    return { kind, family, protocol, match, to };
  });
}

function nftEndpoint(family: Family, e: { address: string; port?: number }): string {
  if (e.port === undefined) return e.address;
  return family === 'ipv6' ? `[${e.address}]:${e.port}` : `${e.address}:${e.port}`;
}

/**
 * The NAT chains for `rules`, added to the topology's table with `nft -f -`, e.g.
 * `ip daddr 10.213.0.9 tcp dport 20001 dnat ip to 10.213.0.2:20002` in `nat_out` (output, -100) and
 * `ip6 saddr fd00:c7::1 udp sport 40001 snat ip6 to [fd00:c7::3]:50001` in `nat_post` (postrouting, 100).
 */
export function natRuleset(rules: readonly NatRule[]): string {
  const checked = checkNatRules(rules);
  const line = (r: NatRule) => {
    const ip = r.family === 'ipv4' ? 'ip' : 'ip6';
    const [addr, port] = r.kind === 'dnat' ? ['daddr', 'dport'] : ['saddr', 'sport'];
    return `    ${ip} ${addr} ${r.match.address} ${r.protocol} ${port} ${r.match.port} ${r.kind} ${ip} to ${nftEndpoint(r.family, r.to)}`;
  };
  const chain = (name: string, hook: string, priority: number, kind: NatRule['kind']) => [
    `  chain ${name} {`,
    `    type nat hook ${hook} priority ${priority}; policy accept;`,
    ...checked.filter((r) => r.kind === kind).map(line),
    '  }',
  ];
  return [
    `table inet ${NFT_TABLE} {`,
    ...chain('nat_out', 'output', -100, 'dnat'),
    ...chain('nat_post', 'postrouting', 100, 'snat'),
    '}',
    '',
  ].join('\n');
}

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
/**
 * An nft table that attaches the kernel's FTP helper to TCP connections this namespace opens to
 * `port`: a `ct helper` object and an output rule (the kernel assigns no helper by itself since
 * 6.0). The helper then turns PORT/EPRT commands on the connection into expectations.
 */
export function ftpHelperRuleset(table: string, port: number): string {
  return [
    `table inet ${table} {`,
    '  ct helper ftp-std { type "ftp" protocol tcp; }',
    `  chain out { type filter hook output priority filter; policy accept; tcp dport ${port} ct helper set "ftp-std"; }`,
    '}',
    '',
  ].join('\n');
}

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
  if (now !== text) throw new HarnessError('ERR_SYSCTL_NOT_SET', `${key} in ${ns.name} reads ${now} after writing ${text}`);
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
  #natRules: NatRule[] = [];
  #natAddresses = new Set<Family>();

  private constructor(zone: number, inspected: Netns, peer: Netns) {
    this.zone = zone;
    this.inspected = inspected;
    this.peer = peer;
  }

  /** Makes both namespaces, the veth pair, the addresses (IPv4 and IPv6) and the zone ruleset. */
  static async create(options: TopologyOptions): Promise<Topology> {
    const zone = assertZone(options?.zone);
    const nat = options.nat === undefined ? [] : checkNatRules(options.nat);
    const made: Netns[] = [];
    try {
      made.push(await Netns.create());
      made.push(await Netns.create());
      const topology = new Topology(zone, made[0]!, made[1]!);
      await topology.#build();
      if (nat.length > 0) await topology.nat(nat);
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
    if (this.#destroyed) throw new HarnessError('ERR_NETNS_DESTROYED', 'the topology was destroyed');
    return this.processes.spawn(argv, { ...options, netns: this[side].name });
  }

  /** The NAT rules loaded so far (by `nat()` or the `nat` option), in order. */
  get natRules(): readonly NatRule[] {
    return this.#natRules;
  }

  /**
   * Adds NAT rules to the inspected namespace's table (chains `nat_out` and `nat_post`, see
   * `NatRule`). Every rule is validated before any command runs. An snat to
   * `TOPOLOGY_NAT_ADDRESSES[family].snat` first adds that address to `cthv0`, once.
   * Rules only apply to packets that start a connection: entries that exist keep their bindings.
   */
  async nat(rules: readonly NatRule[]): Promise<void> {
    const checked = checkNatRules(rules);
    if (this.#destroyed) throw new HarnessError('ERR_NETNS_DESTROYED', 'the topology was destroyed');
    if (checked.length === 0) return;
    const dev = TOPOLOGY_LINKS.inspected;
    for (const family of ['ipv4', 'ipv6'] as const) {
      const spare = TOPOLOGY_NAT_ADDRESSES[family].snat;
      const needed = checked.some((r) => r.family === family && r.kind === 'snat' && sameAddress(family, r.to.address, spare));
      if (!needed || this.#natAddresses.has(family)) continue;
      const cidr = `${spare}/${TOPOLOGY_ADDRESSES[family].prefix}`;
      // IPv6: nodad (usable at once) and preferred_lft 0 (deprecated: never chosen as a source,
      // while fd00:c7::3 would otherwise beat ::1 on the longest match with the peer's ::2).
      await ipIn(this.inspected.name, family === 'ipv4'
        ? ['addr', 'add', cidr, 'dev', dev]
        : ['addr', 'add', cidr, 'dev', dev, 'nodad', 'preferred_lft', '0']);
      this.#natAddresses.add(family);
    }
    await this.inspected.exec(['nft', '-f', '-'], { input: natRuleset(checked), timeout: 15_000 });
    this.#natRules.push(...checked);
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
