// Command line of `npm run test:vm` (scripts/test-vm.ts), parsed by harness/os/args.ts; and the
// smoke selection it runs when given no vitest arguments.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ValidationError } from '../errors.ts';
import { HELP, parseCommandLine } from '../os/args.ts';
import { PROTOCOL_SPECS } from '../protocols/index.ts';
import { releaseForKernel, VM_KERNELS, type VmKernel } from './kernels.ts';
import type { AccelChoice } from './vm.ts';

export const DEFAULT_TIMEOUT_MINUTES = 15;

export const TEST_VM_USAGE = `usage: npm run test:vm -- --kernel ${Object.keys(VM_KERNELS).join('|')} [options] [-- vitest args]

Boots that Debian kernel (${Object.entries(VM_KERNELS).map(([k, r]) => `${k}: ${r}`).join(', ')}) under qemu, with this machine's
root read-only over 9p, and runs vitest in this repository as root inside it.
Without vitest args it runs the smoke selection: the seed suite, kernel-behaviour, events (its
flood at 10,000), the events of real traffic, the UDP and ICMPv6 generic suites and the bulk
suite at 1,000 entries.

options:
  --kernel K             ${Object.keys(VM_KERNELS).join(', ')} (required)
  --timeout-minutes N    deadline for the whole run, boot included (default ${DEFAULT_TIMEOUT_MINUTES})
  --accel auto|kvm|tcg   auto probes KVM and falls back to TCG (default auto)
  -h, --help             this text

The JUnit report goes to reports/vm-<kernel>/junit.xml (with vitest.log and console.log); the
exit status is the guest vitest's, non-zero if the guest never reported one; 2 for bad usage.`;

export type TestVmCommand =
  | { kind: 'help' }
  | { kind: 'run'; kernel: VmKernel; timeoutMs: number; accel: AccelChoice; vitestArgs: string[] };

/**
 * Parses the script's arguments; a bad one throws before anything runs: ValidationError
 * (ERR_INVALID_ARGUMENT), or HarnessError ERR_UNKNOWN_KERNEL for a kernel it does not know.
 */
export function parseTestVmArgs(args: readonly string[]): TestVmCommand {
  let line;
  try {
    line = parseCommandLine(args, {
      kernel: { type: 'string' },
      'timeout-minutes': { type: 'string' },
      accel: { type: 'string' },
    }, { positionals: true });
  } catch (error) {
    // vitest's own flags (-t, --reporter) are the likely unknown ones: say where they go.
    if (!(error instanceof ValidationError)) throw error;
    throw new ValidationError('ERR_INVALID_ARGUMENT', 'argv', args, `${error.message} (vitest arguments go after --)`);
  }
  if (line === HELP) return { kind: 'help' };
  const { values, positionals } = line;
  if (values.kernel === undefined) throw new ValidationError('ERR_INVALID_ARGUMENT', '--kernel', undefined, `--kernel is required: one of ${Object.keys(VM_KERNELS).join(', ')}`);
  releaseForKernel(values.kernel); // ERR_UNKNOWN_KERNEL
  const minutesText = values['timeout-minutes'] ?? String(DEFAULT_TIMEOUT_MINUTES);
  const minutes = Number(minutesText);
  if (!/^\d+(\.\d+)?$/.test(minutesText) || !(minutes > 0) || minutes > 24 * 60) {
    throw new ValidationError('ERR_INVALID_ARGUMENT', '--timeout-minutes', minutesText, `--timeout-minutes must be a number of minutes in (0, 1440], not ${JSON.stringify(minutesText)}`);
  }
  const accel = values.accel ?? 'auto';
  if (accel !== 'auto' && accel !== 'kvm' && accel !== 'tcg') {
    throw new ValidationError('ERR_INVALID_ARGUMENT', '--accel', accel, `--accel must be auto, kvm or tcg, not ${JSON.stringify(accel)}`);
  }
  return { kind: 'run', kernel: values.kernel as VmKernel, timeoutMs: Math.round(minutes * 60_000), accel, vitestArgs: positionals };
}

/**
 * The smoke's share of the parametrised suites, trimmed to take 4-6 minutes under TCG (a test
 * takes 4-8 s there): the generic suites of UDP over IPv4 and ICMPv6 (each `<protocol> <family> [`),
 * and the seed suite's variant that lists and deletes with the client what the oracle created.
 */
export const SMOKE_GENERIC: readonly string[] = ['udp ipv4', 'icmpv6 ipv6'];
export const SMOKE_SEED_VARIANT = 'client, created by oracle';
export const SMOKE_BULK_ENTRIES = 1000;

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * The smoke selection: whole files, with a name pattern that leaves out the other generic suites
 * and seed variants (it touches no other test of those files, nor any test of the other files).
 */
export function smokeSelection(repoDir: string): { vitestArgs: string[]; env: Record<string, string> } {
  const files = ['seed', 'kernel-behaviour', 'events', 'traffic-events', 'protocols', 'bulk']
    .map((f) => `suites/kernel/${f}.test.ts`)
    .filter((f) => existsSync(join(repoDir, f)));
  const left = PROTOCOL_SPECS.flatMap((s) => s.families.map((f) => `${s.name} ${f}`)).filter((n) => !SMOKE_GENERIC.includes(n));
  const excluded = [...left.map((n) => `${escapeRegExp(n)} \\[`), `seed suite \\[(?!${escapeRegExp(SMOKE_SEED_VARIANT)}\\])`];
  return { vitestArgs: [...files, '-t', `^(?!${excluded.join('|')})`], env: { CTH_BULK_ENTRIES: String(SMOKE_BULK_ENTRIES) } };
}
