// `npm run new-protocol` probes the running kernel for the protocol's tracker (harness/protocols/
// probe.ts) and writes what it finds. The assertions follow the probe's verdict, not a kernel
// version: on Linux >= 6.17 (no DCCP tracker) the dccp spec must come out with every generic case
// unsupported, on 5.10/6.1 (which track DCCP) without any.
import { release } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, test } from 'vitest';
import { PROTOCOLS, type Family } from '../../harness/conntrack/entry.ts';
import { requireKernel } from '../../harness/fixtures/index.ts';
import { execute } from '../../harness/os/execute.ts';
import { probeTracker, type TrackerVerdict } from '../../harness/protocols/probe.ts';
import { GENERIC_CASES } from '../../harness/protocols/spec.ts';
import type { ProtocolSpec } from '../../harness/protocols/spec.ts';
import { scratchProject } from '../support/scratch.ts';

// A guest under TCG (npm run test:vm) takes half a minute to start the script: no npx on top.
const run = (args: string[]) =>
  execute([process.execPath, '--import', 'tsx', 'scripts/new-protocol.ts', ...args], { checkExitCode: false, timeout: 150_000 });

describe('the tracker probe', () => {
  test('finds the UDP tracker in both families', async ({ skip }) => {
    requireKernel(skip);
    expect(await probeTracker('udp', 'ipv4')).toEqual({ supported: true });
    expect(await probeTracker('udp', 'ipv6')).toEqual({ supported: true });
  });

  test('accepts a generic protocol (its tracker is the generic one)', async ({ skip }) => {
    requireKernel(skip);
    expect(await probeTracker(200, 'ipv4')).toEqual({ supported: true });
  });
});

describe('npm run new-protocol -- dccp, probed', () => {
  test('writes exactly what the probe finds, in a few lines', async ({ skip }) => {
    requireKernel(skip);
    const families = PROTOCOLS.dccp.families;
    const verdicts = new Map<Family, TrackerVerdict>();
    for (const family of families) verdicts.set(family, await probeTracker('dccp', family));
    const reasons = [...verdicts.values()].flatMap((v) => (v.supported ? [] : [v.reason]));
    for (const reason of reasons) {
      // Names the kernel release and what was seen.
      expect(reason).toMatch(/^Linux \S+ has no DCCP tracker: (a created entry lists back without ports \(generic tracker\)|ctnetlink refuses to create an entry \(E[A-Z]+\))$/);
      expect(reason).toContain(`Linux ${release()} `);
    }

    const dir = scratchProject('cth-newproto-kernel-');
    const { exitCode, stdout, stderr } = await run(['dccp', '--dir', dir]);
    expect(stderr).toBe('');
    expect(exitCode).toBe(0);
    const lines = stdout.trim().split('\n');
    expect(lines.length).toBeLessThanOrEqual(4);

    const file = join(dir, 'harness/protocols/dccp.ts');
    const { dccp } = await import(pathToFileURL(file).href) as { dccp: ProtocolSpec };
    expect(dccp).toMatchObject({ name: 'dccp', protocol: 'dccp', number: 33 });
    if (reasons.length === families.length) {
      // No tracker at all: every family is kept and every generic case is skipped, with the reason.
      const reason = [...new Set(reasons)].join('; ');
      expect(dccp.families).toEqual(families);
      expect(dccp.unsupported).toEqual(Object.fromEntries(GENERIC_CASES.map((c) => [c, reason])));
      expect(lines[0]).toContain(reason);
    } else {
      // Tracked in every family (or some): no case is skipped; a family without the tracker is left out.
      expect(dccp.unsupported).toBeUndefined();
      expect(dccp.families).toEqual(families.filter((f) => verdicts.get(f)!.supported));
      if (reasons.length === 0) expect(lines[0]).toContain(`tracks DCCP itself`);
    }
    // What harness/fixtures/generic.ts skips: a case with a reason.
    const skipped = GENERIC_CASES.filter((c) => dccp.unsupported?.[c]);
    expect(skipped).toHaveLength(reasons.length === families.length ? GENERIC_CASES.length : 0);
  }, 180_000);
});
