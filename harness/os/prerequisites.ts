// What kernel suites need before they can mean anything: privileges, tools, netns and conntrack.
// Suites skip with these reasons, or fail with them when CI is set (a CI run can't go green by skipping).
import { accessSync, constants, existsSync, readFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';

export interface Check {
  name: string;
  ok: boolean;
  required: boolean;
  detail: string;
  /** A command (or the one thing to do) that fixes a failed check. */
  fix?: string;
  /** Version of the tool or component checked, when it has one (doctor fills it in). */
  version?: string;
}

const CAP_NET_ADMIN = 12;
const CAP_SYS_ADMIN = 21;

function effectiveCaps(): bigint {
  try {
    const m = /^CapEff:\s*([0-9a-f]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'));
    return m ? BigInt(`0x${m[1]}`) : 0n;
  } catch {
    return 0n;
  }
}

export function findExecutable(name: string): string | undefined {
  if (name.includes('/')) {
    try {
      accessSync(name, constants.X_OK);
      return name;
    } catch {
      return undefined;
    }
  }
  const dirs = (process.env.PATH ?? '').split(delimiter).concat(['/usr/sbin', '/sbin', '/usr/bin', '/bin']);
  for (const dir of dirs) {
    const file = join(dir, name);
    try {
      accessSync(file, constants.X_OK);
      return file;
    } catch {
      // keep looking
    }
  }
  return undefined;
}

/**
 * The conntrack binary the oracle and doctor run: `CTH_CONNTRACK` (a path or a name in PATH, e.g. a
 * conntrack-tools version fetched by `npm run conntrack-tools`), else `conntrack`.
 */
export function conntrackBinary(): string {
  return process.env.CTH_CONNTRACK || 'conntrack';
}

/**
 * What conntrack-tools does differently by version, each from the version that brought it
 * (measured with the Debian binaries of 1.4.6, 1.4.7 and 1.4.8):
 * - `loadFile`: `--load-file` (`-R`); before, one process per entry;
 * - `genericCreate`: `-I -p N` for a protocol without a tracker (IGMP, 200); 1.4.6 answers
 *   "invalid parameters";
 * - `bothFamilies`: `-L` and `-D` without `-f` reach IPv4 and IPv6; 1.4.6 reaches IPv4 only, as
 *   its man page says, so the oracle asks per family there.
 */
export const ORACLE_FEATURES_SINCE = { loadFile: '1.4.7', genericCreate: '1.4.7', bothFamilies: '1.4.7' } as const;
export const REQUIRED_TOOLS: Record<string, string> = {
  ip: 'iproute2',
  conntrack: 'conntrack',
  nft: 'nftables',
  socat: 'socat',
  ping: 'iputils-ping',
};

/** Fast, read-only checks; nothing here changes the machine. */
export function basicChecks(): Check[] {
  const checks: Check[] = [];
  const uid = process.getuid?.() ?? -1;
  const caps = effectiveCaps();
  const hasCap = (bit: number) => (caps & (1n << BigInt(bit))) !== 0n;
  // Capabilities decide, not the uid: root in an unprivileged container lacks both, and
  // `ip netns add` needs CAP_SYS_ADMIN (it mounts) besides CAP_NET_ADMIN.
  const missing = ([[CAP_NET_ADMIN, 'CAP_NET_ADMIN'], [CAP_SYS_ADMIN, 'CAP_SYS_ADMIN']] as const)
    .filter(([bit]) => !hasCap(bit))
    .map(([, name]) => name);
  const privileged = missing.length === 0;
  checks.push({
    name: 'root',
    ok: privileged,
    required: true,
    detail: privileged
      ? `uid ${uid}, CAP_NET_ADMIN and CAP_SYS_ADMIN effective`
      : uid === 0
        ? `uid 0 but ${missing.join(' and ')} not effective (an unprivileged container?)`
        : `not root (uid ${uid}) and no CAP_NET_ADMIN+CAP_SYS_ADMIN`,
    fix: 'sudo npm test (run as root, or with CAP_NET_ADMIN and CAP_SYS_ADMIN)',
  });
  for (const [tool, pkg] of Object.entries(REQUIRED_TOOLS)) {
    const command = tool === 'conntrack' ? conntrackBinary() : tool;
    const path = findExecutable(command);
    checks.push({
      name: `tool:${tool}`,
      ok: path !== undefined,
      required: true,
      detail: path ?? (command === tool ? `${tool} not found in PATH` : `${command} (CTH_CONNTRACK) is not an executable`),
      fix: command === tool ? `sudo apt-get install -y ${pkg}` : 'point CTH_CONNTRACK at a conntrack binary (npm run conntrack-tools -- 1.4.8 fetches one) or unset it',
    });
  }
  const conntrackProc = existsSync('/proc/sys/net/netfilter/nf_conntrack_max');
  checks.push({
    name: 'kernel:conntrack',
    ok: conntrackProc || existsSync('/proc/net/nf_conntrack') || existsSync('/sys/module/nf_conntrack'),
    required: true,
    detail: conntrackProc ? 'nf_conntrack present' : 'nf_conntrack not loaded',
    fix: 'sudo modprobe -a nf_conntrack nf_conntrack_netlink',
  });
  checks.push({
    name: 'kernel:netns',
    ok: existsSync('/proc/self/ns/net'),
    required: true,
    detail: existsSync('/proc/self/ns/net') ? 'network namespaces supported' : 'no /proc/self/ns/net',
    fix: 'boot a kernel built with CONFIG_NET_NS=y',
  });
  return checks;
}

export interface Readiness {
  ok: boolean;
  /** One line naming every failed required check and its fix; empty when ok. */
  reason: string;
  checks: Check[];
}

export function readiness(checks: Check[] = basicChecks()): Readiness {
  const failed = checks.filter((c) => c.required && !c.ok);
  return {
    ok: failed.length === 0,
    reason: failed.map((c) => `${c.name}: ${c.detail}${c.fix ? ` (fix: ${c.fix})` : ''}`).join('; '),
    checks,
  };
}

export function inCI(): boolean {
  const ci = process.env.CI;
  return ci !== undefined && ci !== '' && ci !== '0' && ci.toLowerCase() !== 'false';
}
