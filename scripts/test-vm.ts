// `npm run test:vm -- --kernel 5.10|6.1|6.12 [--timeout-minutes N] [--accel auto|kvm|tcg] [-- vitest args]`:
// runs vitest suites as root inside a qemu guest booted with a Debian kernel (harness/matrix/vm.ts).
import { join } from 'node:path';
import { isHarnessError } from '../harness/errors.ts';
import { parseTestVmArgs, smokeSelection, TEST_VM_USAGE, type TestVmCommand } from '../harness/matrix/vm-args.ts';
import { junitCounts, runVm } from '../harness/matrix/vm.ts';
import { EXIT_OK, EXIT_USAGE, usageLine } from '../harness/os/args.ts';
import { isRoot } from '../harness/os/execute.ts';

const repoDir = new URL('..', import.meta.url).pathname.replace(/\/$/, '');

// A bad argument, an unknown kernel among them, is a usage error: one line, exit 2, nothing run.
let command: TestVmCommand;
try {
  command = parseTestVmArgs(process.argv.slice(2));
} catch (error) {
  if (!isHarnessError(error, 'ERR_INVALID_ARGUMENT') && !isHarnessError(error, 'ERR_UNKNOWN_KERNEL')) throw error;
  process.stderr.write(`${usageLine('test:vm', error.message)}\n`);
  process.exit(EXIT_USAGE);
}
if (command.kind === 'help') {
  console.log(TEST_VM_USAGE);
  process.exit(EXIT_OK);
}

async function main(command: Extract<TestVmCommand, { kind: 'run' }>): Promise<number> {
  if (!isRoot()) console.warn('test:vm: not root; qemu, depmod and the kernel fetch may fail');
  const smoke = command.vitestArgs.length === 0;
  const { vitestArgs, env } = smoke ? smokeSelection(repoDir) : { vitestArgs: command.vitestArgs, env: {} };
  const reportDir = join(repoDir, 'reports', `vm-${command.kernel}`);
  console.log(`test:vm: kernel ${command.kernel}, ${smoke ? 'smoke selection' : 'your selection'}: vitest run ${vitestArgs.join(' ')}`);

  // SIGINT/SIGTERM end the run (qemu is killed, the temp folder removed) instead of the process.
  const controller = new AbortController();
  const stop = (signal: NodeJS.Signals) => {
    console.error(`test:vm: ${signal}, stopping the VM`);
    controller.abort();
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  try {
    const result = await runVm({
      kernel: command.kernel, vitestArgs, env, repoDir, timeoutMs: command.timeoutMs, accel: command.accel,
      reportDir, signal: controller.signal,
      log: (line) => console.log(`test:vm: ${line}`),
      console: (chunk) => process.stdout.write(chunk),
    });
    const counts = result.junit ? junitCounts(result.junit) : undefined;
    const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
    console.log([
      '',
      `test:vm: guest kernel ${result.guestRelease} (Debian ${result.kernel.release} ${result.kernel.version}), acceleration ${result.accel}`,
      `test:vm: boot ${s(result.kernelBootMs)} to init, ${s(result.vitestStartMs)} to vitest; qemu ${s(result.qemuMs)}; total ${s(result.totalMs)}`,
      counts
        ? `test:vm: ${counts.passed} passed, ${counts.failed} failed, ${counts.skipped} skipped (not selected); JUnit: ${join('reports', `vm-${command.kernel}`, 'junit.xml')}`
        : 'test:vm: the guest wrote no JUnit report',
      `test:vm: guest vitest exit status ${result.exitCode}`,
    ].join('\n'));
    return result.exitCode;
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  }
}

try {
  process.exitCode = await main(command);
} catch (error) {
  if (isHarnessError(error)) {
    console.error(`test:vm: ${error.code}: ${error.message}`);
    process.exitCode = error.code === 'ERR_VM_INTERRUPTED' ? 130 : 1;
  } else {
    throw error;
  }
}
