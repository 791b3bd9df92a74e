// `npm run test:vm -- --kernel 5.10|6.1|6.12 [--timeout-minutes N] [--accel auto|kvm|tcg] [-- vitest args]`:
// runs vitest suites as root inside a qemu guest booted with a Debian kernel (harness/matrix/vm.ts).
import { join } from 'node:path';
import { isHarnessError } from '../harness/errors.ts';
import { parseTestVmArgs, smokeSelection, TEST_VM_USAGE } from '../harness/matrix/vm-args.ts';
import { junitCounts, runVm } from '../harness/matrix/vm.ts';

const repoDir = new URL('..', import.meta.url).pathname.replace(/\/$/, '');

async function main(): Promise<number> {
  const command = parseTestVmArgs(process.argv.slice(2));
  if (command.kind === 'help') {
    console.log(TEST_VM_USAGE);
    return 0;
  }
  if (process.getuid?.() !== 0) console.warn('test:vm: not root; qemu, depmod and the kernel fetch may fail');
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
  process.exitCode = await main();
} catch (error) {
  if (isHarnessError(error)) {
    console.error(`test:vm: ${error.code}: ${error.message}`);
    if (error.code === 'ERR_INVALID_ARGUMENT' || error.code === 'ERR_UNKNOWN_KERNEL') console.error(`\n${TEST_VM_USAGE}`);
    process.exitCode = error.code === 'ERR_VM_INTERRUPTED' ? 130 : 1;
  } else {
    throw error;
  }
}
