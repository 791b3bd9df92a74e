// `doctor`: every prerequisite of the kernel suites, one check each with its fix. It extends the
// fast checks of prerequisites.ts (which the suites use to skip or fail) with versions and live probes.
import { KERNEL_ZONE_FILTER, kernelFiltersZones } from './kernel.ts';
import { readFileSync } from 'node:fs';
import { release } from 'node:os';
import { basicChecks, conntrackBinary, ORACLE_FEATURES_SINCE, readiness, type Check } from './prerequisites.ts';
import { execute } from './execute.ts';
import { compareVersions } from './versions.ts';
import { Netns } from './netns.ts';

/** The tools the harness drives, how each reports its version, and the oldest version that works. */
export const TOOL_VERSIONS: Record<string, { args: string[]; pattern: RegExp; label: string; minimum?: string; why?: string }> = {
  conntrack: {
    args: ['--version'],
    pattern: /v(\d+(?:\.\d+)+)/,
    label: 'conntrack-tools',
    minimum: '1.4.6',
    why: 'the oracle parses the -o extended,id output of 1.4.6 to 1.4.8 (Ubuntu 22.04 ships 1.4.6)',
  },
  ip: { args: ['-V'], pattern: /iproute2-((?:ss)?\d+(?:\.\d+)*)/, label: 'iproute2' },
  nft: { args: ['--version'], pattern: /v(\d+(?:\.\d+)+)/, label: 'nftables' },
  socat: { args: ['-V'], pattern: /socat version (\d+(?:\.\d+)+)/, label: 'socat' },
  ping: { args: ['-V'], pattern: /iputils[- ]?s?(\d+)/, label: 'iputils' },
};

/** Linux filters a conntrack dump by CTA_ZONE in the kernel from this release on. */

const PROBE_TIMEOUT_MS = 10_000;
const PROBE_ZONE = 4242;

export interface Environment {
  kernel: string;
  node: string;
  /** Version of each tool by its package label (`conntrack-tools`, `iproute2`, ...); absent when missing. */
  tools: Record<string, string | undefined>;
}

export interface DoctorReport {
  /** Every required check passed. */
  ok: boolean;
  checks: Check[];
  environment: Environment;
}

export interface DoctorOptions {
  /** Run the live probes (a throwaway namespace, ctnetlink, zones). Default: when privileged. */
  probes?: boolean;
  /**
   * The kernel filter probe (the client's `kernelFilterSupport`), run with the live probes. Without
   * it the zone-filter check falls back to the version rule.
   */
  kernelFilters?: () => Promise<KernelFilterReport>;
}

/** The version a tool printed, or undefined when its output has none. */
export function parseToolVersion(tool: string, output: string): string | undefined {
  const spec = TOOL_VERSIONS[tool];
  return spec ? spec.pattern.exec(output)?.[1] : undefined;
}

/** This package's package.json, or undefined when it cannot be read. */
function packageJson(): { version?: string; engines?: { node?: string } } | undefined {
  try {
    return JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string; engines?: { node?: string } };
  } catch {
    return undefined;
  }
}

/** The `>=X.Y` of package.json's engines.node, when there is one. */
export function requiredNodeVersion(): string | undefined {
  return /^>=\s*(\d+(?:\.\d+)*)$/.exec(packageJson()?.engines?.node?.trim() ?? '')?.[1];
}

/** This package's version (`unknown` when package.json cannot be read). */
export function packageVersion(): string {
  return packageJson()?.version ?? 'unknown';
}

async function toolVersion(tool: string): Promise<string | undefined> {
  const spec = TOOL_VERSIONS[tool];
  if (!spec) return undefined;
  try {
    const command = tool === 'conntrack' ? conntrackBinary() : tool;
    const { stdout, stderr } = await execute([command, ...spec.args], { timeout: PROBE_TIMEOUT_MS, checkExitCode: false });
    return parseToolVersion(tool, `${stdout}\n${stderr}`);
  } catch {
    return undefined;
  }
}

let environmentOnce: Promise<Environment> | undefined;

/** Kernel, Node and tool versions; computed once per process (diagnostics reuse it on every failure). */
export function collectEnvironment(): Promise<Environment> {
  environmentOnce ??= (async () => {
    const entries = await Promise.all(
      Object.entries(TOOL_VERSIONS).map(async ([tool, spec]) => [spec.label, await toolVersion(tool)] as const),
    );
    return { kernel: release(), node: process.versions.node, tools: Object.fromEntries(entries) };
  })();
  return environmentOnce;
}

/** One line: `kernel 6.18.4, node 20.19.0, conntrack-tools 1.4.7, ...`. */
export function describeEnvironment(env: Environment): string {
  const tools = Object.entries(env.tools).map(([label, v]) => `${label} ${v ?? 'missing'}`);
  return [`kernel ${env.kernel}`, `node ${env.node}`, ...tools].join(', ');
}

function nodeCheck(): Check {
  const minimum = requiredNodeVersion();
  const ok = minimum === undefined || compareVersions(process.versions.node, minimum) >= 0;
  return {
    name: 'node',
    ok,
    required: true,
    version: process.versions.node,
    detail: ok
      ? `node ${process.versions.node}${minimum ? ` (>= ${minimum})` : ''}`
      : `node ${process.versions.node} is older than ${minimum} (package.json engines)`,
    fix: `install Node.js >= ${minimum ?? '20.19'} (e.g. from https://nodejs.org or nvm install 20)`,
  };
}

/** What the kernel filters in a dump, as the client's probe found it (structurally KernelFilterSupport). */
export interface KernelFilterReport {
  zone: boolean;
  mark: boolean;
  status: boolean;
  tuple: boolean;
  source: 'probe' | 'version';
  reason?: string;
}

export function zoneFilterCheck(kernel: string, filters: KernelFilterReport | undefined): Check {
  const zone = filters?.zone ?? kernelFiltersZones(kernel);
  const how = filters?.source === 'probe'
    ? 'found by a probe in a throwaway namespace'
    : `by the version rule (>= ${KERNEL_ZONE_FILTER})${filters?.reason ? `: the probe failed: ${filters.reason}` : ''}`;
  const others = filters ? `; mark ${filters.mark ? 'yes' : 'no'}, status ${filters.status ? 'yes' : 'no'}, CTA_FILTER tuple ${filters.tuple ? 'yes' : 'no'}` : '';
  return {
    name: 'kernel:zone-filter',
    ok: zone,
    required: false,
    version: kernel,
    detail: zone
      ? `kernel ${kernel} filters conntrack dumps by zone, ${how}${others}`
      : `kernel ${kernel} ignores CTA_ZONE in a dump, ${how}: dumps are filtered by zone in user space (slower, still correct)${others}`,
  };
}

/** conntrack-tools without --load-file (-R): the oracle then creates one process per entry. */
const LOAD_FILE_SINCE = ORACLE_FEATURES_SINCE.loadFile;

export function loadFileCheck(version: string | undefined): Check | undefined {
  if (version === undefined) return undefined;
  const ok = compareVersions(version, LOAD_FILE_SINCE) >= 0;
  return {
    name: 'oracle:load-file',
    ok,
    required: false,
    version,
    detail: ok
      ? `conntrack-tools ${version} has --load-file: the oracle creates many entries in one process`
      : `conntrack-tools ${version} has no --load-file (-R, since ${LOAD_FILE_SINCE}): the oracle creates entries one process per entry, so seeding large tables is slower (still correct)`,
    fix: `use conntrack-tools >= ${LOAD_FILE_SINCE} (npm run conntrack-tools -- 1.4.8, then CTH_CONNTRACK=<binary>)`,
  };
}

/** Adds each present tool's version to its check, and fails a tool older than its minimum. */
async function withToolVersions(checks: Check[]): Promise<Check[]> {
  return Promise.all(
    checks.map(async (check) => {
      const tool = check.name.startsWith('tool:') ? check.name.slice(5) : undefined;
      const spec = tool === undefined ? undefined : TOOL_VERSIONS[tool];
      if (!tool || !spec || !check.ok) return check;
      const version = await toolVersion(tool);
      if (version === undefined) return { ...check, detail: `${check.detail} (${spec.label}, version unknown)` };
      const tooOld = spec.minimum !== undefined && compareVersions(version, spec.minimum) < 0;
      return {
        ...check,
        ok: !tooOld,
        version,
        detail: tooOld
          ? `${spec.label} ${version} is older than ${spec.minimum}: ${spec.why}`
          : `${check.detail} (${spec.label} ${version})`,
      };
    }),
  );
}

function notRun(name: string, why: string, fix?: string): Check {
  return { name, ok: false, required: true, detail: `not run: ${why}`, ...(fix ? { fix } : {}) };
}

function firstLine(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.split('\n').find((l) => l.trim().length > 0)?.trim() ?? text;
}

/**
 * The live probes, all inside one throwaway `cth-` namespace that is deleted before returning:
 * create it (`ip netns add`), list its empty table over ctnetlink, and put an entry into a
 * non-default zone and read it back. Nothing outside that namespace is touched.
 */
async function probeChecks(): Promise<Check[]> {
  const checks: Check[] = [];
  let ns: Netns;
  try {
    ns = await Netns.create();
  } catch (error) {
    return [
      { name: 'netns:create', ok: false, required: true, detail: `ip netns add failed: ${firstLine(error)}`, fix: 'sudo npm test (ip netns add needs CAP_SYS_ADMIN and a writable /run/netns)' },
      notRun('kernel:ctnetlink', 'no namespace to probe in'),
      notRun('kernel:zones', 'no namespace to probe in'),
    ];
  }
  try {
    checks.push({ name: 'netns:create', ok: true, required: true, detail: `created and removed a probe namespace (${ns.name})` });
    try {
      await ns.exec([conntrackBinary(), '-L'], { timeout: PROBE_TIMEOUT_MS });
      checks.push({ name: 'kernel:ctnetlink', ok: true, required: true, detail: 'conntrack -L answered over ctnetlink inside the probe namespace' });
    } catch (error) {
      checks.push({ name: 'kernel:ctnetlink', ok: false, required: true, detail: `conntrack -L failed in a fresh namespace: ${firstLine(error)}`, fix: 'sudo modprobe nf_conntrack_netlink' });
      checks.push(notRun('kernel:zones', 'ctnetlink is unavailable'));
      return checks;
    }
    try {
      const zone = String(PROBE_ZONE);
      await ns.exec(
        ['conntrack', '-I', '-p', 'udp', '-s', '192.0.2.1', '-d', '192.0.2.2', '--sport', '9', '--dport', '9', '-t', '30', '-w', zone],
        { timeout: PROBE_TIMEOUT_MS },
      );
      const { stdout } = await ns.exec([conntrackBinary(), '-L', '-w', zone, '-o', 'extended'], { timeout: PROBE_TIMEOUT_MS });
      const ok = stdout.includes(`zone=${zone}`);
      checks.push({
        name: 'kernel:zones',
        ok,
        required: true,
        detail: ok ? `an entry created in zone ${zone} was listed back with its zone` : `an entry created in zone ${zone} came back without it: ${stdout.trim() || '(empty)'}`,
        ...(ok ? {} : { fix: 'boot a kernel built with CONFIG_NF_CONNTRACK_ZONES=y' }),
      });
    } catch (error) {
      checks.push({ name: 'kernel:zones', ok: false, required: true, detail: `could not create an entry in zone ${PROBE_ZONE}: ${firstLine(error)}`, fix: 'boot a kernel built with CONFIG_NF_CONNTRACK_ZONES=y' });
    }
    return checks;
  } finally {
    await ns.destroy();
  }
}

/** Fixed display order: privileges and runtime, then kernel, then tools. */
const ORDER = ['root', 'node', 'kernel:netns', 'netns:create', 'kernel:conntrack', 'kernel:ctnetlink', 'kernel:zones', 'kernel:zone-filter', 'tool:conntrack', 'oracle:load-file'];

function rank(name: string): number {
  const i = ORDER.indexOf(name);
  return i === -1 ? ORDER.length : i;
}

/** Runs every check. Read-only: the probes work in a namespace of their own and remove it. */
export async function runDoctor(options: DoctorOptions = {}): Promise<DoctorReport> {
  const basic = basicChecks();
  const privileged = basic.find((c) => c.name === 'root')?.ok ?? false;
  const conntrackTool = basic.find((c) => c.name === 'tool:conntrack')?.ok ?? false;
  const ipTool = basic.find((c) => c.name === 'tool:ip')?.ok ?? false;
  const env = await collectEnvironment();
  const probes = options.probes ?? true;
  const filters = probes && privileged && options.kernelFilters ? await options.kernelFilters() : undefined;
  const tools = await withToolVersions(basic);
  const loadFile = loadFileCheck(tools.find((c) => c.name === 'tool:conntrack')?.version);
  const checks = [...tools, ...(loadFile ? [loadFile] : []), nodeCheck(), zoneFilterCheck(env.kernel, filters)];
  if (probes) {
    if (!privileged) {
      const why = 'needs root (see the root check)';
      checks.push(notRun('netns:create', why), notRun('kernel:ctnetlink', why), notRun('kernel:zones', why));
    } else if (!ipTool || !conntrackTool) {
      const why = `needs ${[!ipTool && 'ip', !conntrackTool && 'conntrack'].filter(Boolean).join(' and ')}`;
      checks.push(notRun('netns:create', why), notRun('kernel:ctnetlink', why), notRun('kernel:zones', why));
    } else {
      checks.push(...(await probeChecks()));
    }
  }
  checks.sort((a, b) => rank(a.name) - rank(b.name));
  return { ok: readiness(checks).ok, checks, environment: env };
}

/** Human output: one line per check (with its fix when it failed), then the environment and a verdict. */
export function formatReport(report: DoctorReport): string {
  const width = Math.max(...report.checks.map((c) => c.name.length));
  const lines = report.checks.map((c) => {
    const status = c.ok ? 'ok  ' : c.required ? 'FAIL' : 'warn';
    const fix = !c.ok && c.fix ? `  -> fix: ${c.fix}` : '';
    const optional = c.required ? '' : ' (optional)';
    return `${status}  ${c.name.padEnd(width)}  ${c.detail}${optional}${fix}`;
  });
  const failed = report.checks.filter((c) => c.required && !c.ok);
  lines.push('', `environment: ${describeEnvironment(report.environment)}`);
  lines.push(
    failed.length === 0
      ? 'doctor: every required check passed'
      : `doctor: ${failed.length} required check(s) failed: ${failed.map((c) => c.name).join(', ')}`,
  );
  return `${lines.join('\n')}\n`;
}
