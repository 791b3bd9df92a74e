// doctor and the conntrack-harness command without kernel privileges: version parsing on real tool
// output, the report format and exit codes, argument handling, and an unprivileged run failing on root.
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { EXIT_FAILED, EXIT_OK, EXIT_USAGE, formatEntry, runCli, type CliIO } from '../../harness/cli.ts';
import {
  formatReport, loadFileCheck, parseToolVersion, requiredNodeVersion, zoneFilterCheck, type DoctorReport,
} from '../../harness/os/doctor.ts';
import { execute, isRoot } from '../../harness/os/execute.ts';
import { readiness, type Check } from '../../harness/os/prerequisites.ts';
import { compareVersions, versionParts } from '../../harness/os/versions.ts';
import { NOBODY, NO_CAPS } from '../support/privileges.ts';

const BIN = join(fileURLToPath(new URL('../..', import.meta.url)), 'bin/conntrack-harness.js');

function capture(): CliIO & { out: string; err: string } {
  const io = {
    out: '',
    err: '',
    stdout: (t: string) => { io.out += t; },
    stderr: (t: string) => { io.err += t; },
  };
  return io;
}

/** The bin in a child process, unprivileged: as root it becomes nobody (or, failing that, drops the capabilities). */
async function runBinUnprivileged(args: string[]) {
  const argv = [process.execPath, BIN, ...args];
  let prefix: string[] = [];
  if (isRoot()) {
    const readable = await execute([...NOBODY, 'test', '-r', BIN], { checkExitCode: false, timeout: 10_000 });
    prefix = readable.exitCode === 0 ? NOBODY : NO_CAPS;
  }
  return execute([...prefix, ...argv], { checkExitCode: false, timeout: 60_000 });
}

const ROOT_FAILED = /^FAIL {2}root +(not root \(uid \d+\)|uid 0 but CAP_NET_ADMIN and CAP_SYS_ADMIN not effective).* {2}-> fix: sudo npm test/m;

describe('versions', () => {
  test('parses what the tools really print (Debian bookworm and older formats)', () => {
    expect(parseToolVersion('conntrack', 'conntrack v1.4.7 (conntrack-tools)\n')).toBe('1.4.7');
    expect(parseToolVersion('ip', 'ip utility, iproute2-6.1.0, libbpf 1.1.2\n')).toBe('6.1.0');
    expect(parseToolVersion('ip', 'ip utility, iproute2-ss190107\n')).toBe('ss190107');
    expect(parseToolVersion('nft', 'nftables v1.0.6 (Lester Gooch #5)\n')).toBe('1.0.6');
    expect(parseToolVersion('socat', 'socat by Gerhard Rieger and contributors - see www.dest-unreach.org\nsocat version 1.7.4.4 on 06 Nov 2022 08:15:51\n')).toBe('1.7.4.4');
    expect(parseToolVersion('ping', 'ping from iputils 20221126\n')).toBe('20221126');
    expect(parseToolVersion('ping', 'ping utility, iputils-s20180629\n')).toBe('20180629');
    expect(parseToolVersion('conntrack', 'garbage')).toBeUndefined();
    expect(parseToolVersion('no-such-tool', 'v1.2.3')).toBeUndefined();
  });

  test('compares numerically, missing parts count as zero', () => {
    expect(versionParts('v1.4.7')).toEqual([1, 4, 7]);
    expect(compareVersions('1.4.10', '1.4.7')).toBe(1);
    expect(compareVersions('1.4.6', '1.4.7')).toBe(-1);
    expect(compareVersions('6.8', '6.8.0')).toBe(0);
    expect(compareVersions('6.18.44', '6.8')).toBe(1);
    expect(compareVersions('20.20.2', '20.19')).toBe(1);
  });

  test('the Node minimum comes from package.json engines', () => {
    expect(requiredNodeVersion()).toMatch(/^\d+\.\d+/);
  });
});

describe('version-dependent checks', () => {
  test('conntrack-tools 1.4.6 passes with a warning that says what is slower; 1.4.7 and 1.4.8 pass', () => {
    const old = loadFileCheck('1.4.6')!;
    expect(old).toMatchObject({ name: 'oracle:load-file', ok: false, required: false, version: '1.4.6' });
    expect(old.detail).toContain('one process per entry');
    expect(readiness([old]).ok).toBe(true);
    for (const v of ['1.4.7', '1.4.8', '1.5.0']) expect(loadFileCheck(v)).toMatchObject({ ok: true, required: false });
    expect(loadFileCheck(undefined)).toBeUndefined();
  });

  test('the zone-filter check follows the probe, not the version: a back-ported 6.1 filters, a 6.18 that does not is said so', () => {
    const probe = (zone: boolean) => ({ zone, mark: true, status: true, tuple: true, source: 'probe' as const });
    expect(zoneFilterCheck('6.1.0-50-amd64', probe(true))).toMatchObject({ ok: true, required: false });
    expect(zoneFilterCheck('6.18.4', probe(false))).toMatchObject({ ok: false, required: false });
    expect(zoneFilterCheck('6.18.4', probe(false)).detail).toContain('found by a probe');
    // Without a probe, the version rule: 6.8 and later filter.
    expect(zoneFilterCheck('6.7.12', undefined).ok).toBe(false);
    expect(zoneFilterCheck('6.8.0', undefined).ok).toBe(true);
    expect(zoneFilterCheck('6.8.0', { ...probe(false), source: 'version', reason: 'no unshare' }).detail).toContain('the probe failed: no unshare');
  });
});

describe('report', () => {
  const checks: Check[] = [
    { name: 'root', ok: false, required: true, detail: 'not root (uid 1000) and no CAP_NET_ADMIN+CAP_SYS_ADMIN', fix: 'sudo npm test' },
    { name: 'kernel:zone-filter', ok: false, required: false, detail: 'kernel 6.1.0 < 6.8' },
    { name: 'tool:nft', ok: true, required: true, detail: '/usr/sbin/nft (nftables 1.0.6)', fix: 'sudo apt-get install -y nftables' },
  ];
  const report: DoctorReport = {
    ok: readiness(checks).ok,
    checks,
    environment: { kernel: '6.1.0', node: '20.19.0', tools: { 'conntrack-tools': '1.4.7', socat: undefined } },
  };

  test('one line per check; a failed check carries its fix, a passing one does not', () => {
    const lines = formatReport(report).split('\n');
    expect(lines[0]).toMatch(/^FAIL {2}root +not root \(uid 1000\).* {2}-> fix: sudo npm test$/);
    expect(lines[1]).toMatch(/^warn {2}kernel:zone-filter +kernel 6\.1\.0 < 6\.8 \(optional\)$/);
    expect(lines[2]).toMatch(/^ok {4}tool:nft +\/usr\/sbin\/nft \(nftables 1\.0\.6\)$/);
    expect(lines).toContain('environment: kernel 6.1.0, node 20.19.0, conntrack-tools 1.4.7, socat missing');
    expect(lines).toContain('doctor: 1 required check(s) failed: root');
  });

  test('only required checks decide ok', () => {
    expect(report.ok).toBe(false);
    expect(readiness(checks.filter((c) => c.name !== 'root')).ok).toBe(true);
  });
});

describe('conntrack-harness arguments', () => {
  test('help lists every command; each command has --help', async () => {
    const io = capture();
    expect(await runCli(['help'], io)).toBe(EXIT_OK);
    for (const name of ['doctor', 'sweep', 'list']) expect(io.out).toMatch(new RegExp(`^ {2}${name} `, 'm'));
    for (const name of ['doctor', 'sweep', 'list']) {
      const sub = capture();
      expect(await runCli([name, '--help'], sub)).toBe(EXIT_OK);
      expect(sub.out).toMatch(new RegExp(`^Usage: conntrack-harness ${name}`));
    }
    const noArgs = capture();
    expect(await runCli([], noArgs)).toBe(EXIT_USAGE);
    expect(noArgs.out).toContain('Usage: conntrack-harness <command>');
  });

  test('bad usage exits 2 with the usage line, before anything runs', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['frobnicate'], /unknown command "frobnicate"/],
      [['doctor', '--jsno'], /Unknown option '--jsno'/],
      [['list'], /list needs --netns NAME/],
      [['list', '--netns', '../etc'], /invalid namespace name "\.\.\/etc"/],
      [['list', '--netns', 'cth-abcdef-1', '--zone', '70000'], /zone must be an integer 0\.\.65535/],
      [['list', '--netns', 'cth-abcdef-1', '--zone', 'five'], /--zone must be an integer/],
      [['sweep', 'extra'], /Unexpected argument 'extra'/],
    ];
    for (const [argv, message] of cases) {
      const io = capture();
      expect(await runCli(argv, io), argv.join(' ')).toBe(EXIT_USAGE);
      expect(io.err, argv.join(' ')).toMatch(message);
    }
  });

  test('list prints entries like conntrack -o extended,id', () => {
    expect(formatEntry({
      family: 'ipv6', protocol: 'tcp', src: '2001:db8::1', dst: '2001:db8::2', sport: 1, dport: 2, zone: 0,
      state: 'ESTABLISHED', status: ['SEEN_REPLY', 'ASSURED', 'CONFIRMED'],
    })).toBe('ipv6 tcp     ESTABLISHED src=2001:db8::1 dst=2001:db8::2 sport=1 dport=2 [ASSURED] zone=0');
    expect(formatEntry({
      family: 'ipv4', protocol: 'udp', src: '1.1.1.1', dst: '2.2.2.2', sport: 4, dport: 5, zone: 7, timeout: 119,
      status: ['UNREPLIED'], reply: { src: '2.2.2.2', dst: '1.1.1.1', sport: 5, dport: 4 }, mark: 0, id: 42,
    })).toBe('ipv4 udp     119 src=1.1.1.1 dst=2.2.2.2 sport=4 dport=5 [UNREPLIED] src=2.2.2.2 dst=1.1.1.1 sport=5 dport=4 mark=0 zone=7 id=42');
  });
});

describe('doctor, unprivileged', () => {
  test('fails on the root check with its fix, and exits 1', async () => {
    const { stdout, exitCode } = await runBinUnprivileged(['doctor']);
    expect(exitCode).toBe(EXIT_FAILED);
    expect(stdout).toMatch(ROOT_FAILED);
    expect(stdout).toMatch(/^FAIL {2}netns:create +not run: needs root/m);
    expect(stdout).toMatch(/^doctor: \d+ required check\(s\) failed: root/m);
  });

  test('--json parses and says the same', async () => {
    const { stdout, exitCode } = await runBinUnprivileged(['doctor', '--json']);
    expect(exitCode).toBe(EXIT_FAILED);
    const report = JSON.parse(stdout) as DoctorReport;
    expect(report.ok).toBe(false);
    expect(report.checks.find((c) => c.name === 'root')).toMatchObject({ ok: false, required: true, fix: expect.stringContaining('sudo') });
    expect(report.environment.kernel).toMatch(/^\d+\.\d+/);
    expect(Object.keys(report.environment.tools)).toEqual(expect.arrayContaining(['conntrack-tools', 'iproute2', 'nftables', 'socat']));
  });
});
