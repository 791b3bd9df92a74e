// The VM runner's pure parts (no root, no qemu): `npm run test:vm` argument parsing and refusals,
// the qemu argv, the guest argv, module load order and the kernel → Debian release mapping.
import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { isHarnessError } from '../../harness/errors.ts';
import { imagePackageFromDepends, kernelVersionOfPackage, releaseForKernel, VM_KERNELS } from '../../harness/matrix/kernels.ts';
import { DEFAULT_TIMEOUT_MINUTES, parseTestVmArgs, smokeSelection } from '../../harness/matrix/vm-args.ts';
import { buildQemuArgv, GUEST_RESULTS, guestArgv, hasInterpreter, junitCounts, moduleLoadOrder } from '../../harness/matrix/vm.ts';

const root = new URL('../..', import.meta.url).pathname;

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    return isHarnessError(error) ? error.code : `not a HarnessError: ${String(error)}`;
  }
  return undefined;
}

describe('kernel → Debian release', () => {
  test('5.10 bullseye, 6.1 bookworm, 6.12 trixie; nothing else', () => {
    expect(VM_KERNELS).toEqual({ '5.10': 'bullseye', '6.1': 'bookworm', '6.12': 'trixie' });
    expect(releaseForKernel('5.10')).toBe('bullseye');
    expect(releaseForKernel('6.1')).toBe('bookworm');
    expect(releaseForKernel('6.12')).toBe('trixie');
    for (const bad of ['6.18', '6', '5.1', '', 'toString', '__proto__']) expect(codeOf(() => releaseForKernel(bad))).toBe('ERR_UNKNOWN_KERNEL');
  });

  test('the metapackage Depends names the image package, whose name gives the version', () => {
    expect(imagePackageFromDepends('linux-image-5.10.0-32-amd64 (= 5.10.223-1)')).toBe('linux-image-5.10.0-32-amd64');
    expect(imagePackageFromDepends('linux-image-6.12.48+deb13-amd64 (= 6.12.48-1)')).toBe('linux-image-6.12.48+deb13-amd64');
    expect(kernelVersionOfPackage('linux-image-6.1.0-41-amd64')).toBe('6.1.0-41-amd64');
    expect(kernelVersionOfPackage('linux-image-6.12.48+deb13-amd64-unsigned')).toBe('6.12.48+deb13-amd64');
    expect(codeOf(() => imagePackageFromDepends('firmware-linux-free'))).toBe('ERR_PREREQUISITE');
    expect(codeOf(() => kernelVersionOfPackage('linux-headers-6.1.0-41-amd64'))).toBe('ERR_PREREQUISITE');
  });
});

describe('npm run test:vm arguments', () => {
  test('--kernel, --timeout-minutes, --accel and vitest args after --', () => {
    expect(parseTestVmArgs(['--kernel', '6.1'])).toEqual({ kind: 'run', kernel: '6.1', timeoutMs: DEFAULT_TIMEOUT_MINUTES * 60_000, accel: 'auto', vitestArgs: [] });
    expect(parseTestVmArgs(['--kernel', '5.10', '--timeout-minutes', '2.5', '--accel', 'tcg', '--', 'suites/kernel/seed.test.ts', '-t', '^udp '])).toEqual({
      kind: 'run', kernel: '5.10', timeoutMs: 150_000, accel: 'tcg', vitestArgs: ['suites/kernel/seed.test.ts', '-t', '^udp '],
    });
    expect(parseTestVmArgs(['--help'])).toEqual({ kind: 'help' });
    expect(parseTestVmArgs(['-h', '--kernel', 'nonsense'])).toEqual({ kind: 'help' });
  });

  test('refusals are typed', () => {
    expect(codeOf(() => parseTestVmArgs(['--kernel', '6.18']))).toBe('ERR_UNKNOWN_KERNEL');
    expect(codeOf(() => parseTestVmArgs([]))).toBe('ERR_INVALID_ARGUMENT');
    for (const t of ['0', '-1', 'ten', '1e3', '', '99999', 'NaN']) {
      expect(codeOf(() => parseTestVmArgs(['--kernel', '6.1', '--timeout-minutes', t]))).toBe('ERR_INVALID_ARGUMENT');
    }
    expect(codeOf(() => parseTestVmArgs(['--kernel', '6.1', '--accel', 'hvf']))).toBe('ERR_INVALID_ARGUMENT');
    expect(codeOf(() => parseTestVmArgs(['--kernel', '6.1', '-t', 'udp']))).toBe('ERR_INVALID_ARGUMENT'); // vitest's -t needs --
    expect(codeOf(() => parseTestVmArgs(['--kernel']))).toBe('ERR_INVALID_ARGUMENT');
  });

  test('the smoke selection: whole files; only the UDP/IPv4 and ICMPv6 generic suites and one seed variant; 1,000 bulk entries', () => {
    const { vitestArgs, env } = smokeSelection(root);
    expect(vitestArgs).toEqual(expect.arrayContaining(['suites/kernel/seed.test.ts', 'suites/kernel/kernel-behaviour.test.ts', 'suites/kernel/events.test.ts', 'suites/kernel/traffic-events.test.ts', 'suites/kernel/protocols.test.ts', 'suites/kernel/bulk.test.ts', '-t']));
    expect(env).toEqual({ CTH_BULK_ENTRIES: '1000' });
    const pattern = new RegExp(vitestArgs[vitestArgs.indexOf('-t') + 1]!);
    for (const kept of ['udp ipv4 [client] lists exactly what was created', 'icmpv6 ipv6 [client] deletes all of them',
      'seed suite [client, created by oracle] ipv4 deletes the UDP entry and nothing else', 'seed suite [client, created by oracle] ipv6 deletes all three at once',
      'bulk streaming', 'zone filtering the kernel-side', 'events new, update and destroy', 'kernel behaviour of 6.1.0-41-amd64 dump filters']) {
      expect(pattern.test(kept), kept).toBe(true);
    }
    for (const left of ['tcp ipv4 [client] lists exactly', 'icmp ipv4 [client] x', 'udplite ipv6 [client] x', 'udp ipv6 [client] x', 'sctp ipv4 [client] x',
      'gre ipv6 [client] x', 'seed suite [client, created by client] ipv4 x', 'seed suite [conntrack-cli, created by oracle] ipv6 x']) {
      expect(pattern.test(left), left).toBe(false);
    }
  });
});

describe('qemu argv', () => {
  const base = { vmlinuz: '/c/k/vmlinuz', initrd: '/tmp/x/initramfs.cpio', memoryMiB: 4096, cpus: 2, root: '/', results: '/tmp/x/results' };

  test('TCG: multi-threaded TCG, cpu max; the root share is read-only, the results share is not', () => {
    const argv = buildQemuArgv({ ...base, accel: 'tcg' });
    expect(argv[0]).toBe('qemu-system-x86_64');
    const pair = (flag: string) => argv.flatMap((a, i) => (a === flag ? [argv[i + 1]] : []));
    expect(pair('-accel')).toEqual(['tcg,thread=multi']);
    expect(pair('-cpu')).toEqual(['max,la57=off']);
    expect(pair('-smp')).toEqual(['2']);
    expect(pair('-m')).toEqual(['4096M']);
    expect(pair('-kernel')).toEqual(['/c/k/vmlinuz']);
    expect(pair('-initrd')).toEqual(['/tmp/x/initramfs.cpio']);
    expect(pair('-append')[0]).toMatch(/(^| )console=ttyS0( |$)/);
    expect(pair('-serial')).toEqual(['stdio']);
    expect(argv).toEqual(expect.arrayContaining(['-no-reboot', '-nodefaults']));
    expect(pair('-nic')).toEqual(['none']);
    const shares = pair('-virtfs');
    expect(shares).toHaveLength(2);
    expect(shares[0]).toBe('local,path=/,mount_tag=root,security_model=none,readonly=on,multidevs=remap');
    expect(shares[1]).toBe('local,path=/tmp/x/results,mount_tag=results,security_model=none,multidevs=remap');
    expect(argv.join(' ')).not.toMatch(/kvm/);
  });

  test('KVM: -accel kvm with the host CPU; the probe variant has neither initrd nor results share', () => {
    const argv = buildQemuArgv({ ...base, accel: 'kvm' });
    expect(argv.slice(argv.indexOf('-accel'), argv.indexOf('-accel') + 4)).toEqual(['-accel', 'kvm', '-cpu', 'host']);
    expect(argv).not.toContain('tcg,thread=multi');
    const probe = buildQemuArgv({ ...base, initrd: undefined, results: undefined, accel: 'kvm', append: 'console=ttyS0' });
    expect(probe).not.toContain('-initrd');
    expect(probe.filter((a) => a === '-virtfs')).toHaveLength(1);
    expect(probe.find((a) => a.startsWith('local,'))).toContain('readonly=on');
  });

  test('a path with a comma (qemu option syntax) is refused', () => {
    expect(codeOf(() => buildQemuArgv({ ...base, results: '/tmp/a,b', accel: 'tcg' }))).toBe('ERR_INVALID_ARGUMENT');
  });
});

describe('guest side', () => {
  test('the guest argv: env assignments, vitest run with long timeouts and JUnit into the results share', () => {
    expect(guestArgv(['suites/kernel/seed.test.ts'], { CTH_BULK_ENTRIES: '1000' }, 600_000)).toEqual([
      'CI=true', 'NO_COLOR=1', 'CTH_BULK_ENTRIES=1000', 'node_modules/.bin/vitest', 'run', '--maxWorkers=2', '--testTimeout=600000', '--hookTimeout=600000',
      '--reporter=default', '--reporter=junit', `--outputFile.junit=${GUEST_RESULTS}/junit.xml`, 'suites/kernel/seed.test.ts',
    ]);
  });

  test('modules load dependencies first, each once; built-ins are skipped; unknown ones refused', () => {
    const dep = [
      'kernel/fs/9p/9p.ko.xz: kernel/net/9p/9pnet.ko.xz kernel/fs/netfs/netfs.ko.xz',
      'kernel/net/9p/9pnet_virtio.ko.xz: kernel/net/9p/9pnet.ko.xz kernel/fs/netfs/netfs.ko.xz',
      'kernel/net/9p/9pnet.ko.xz:',
      'kernel/fs/netfs/netfs.ko.xz:',
      'kernel/fs/overlayfs/overlay.ko.xz:',
    ].join('\n');
    const builtin = 'kernel/drivers/virtio/virtio.ko\nkernel/drivers/virtio/virtio_pci.ko\n';
    expect(moduleLoadOrder(dep, builtin, ['virtio_pci', '9pnet_virtio', '9p', 'overlay'])).toEqual([
      'kernel/net/9p/9pnet.ko.xz', 'kernel/fs/netfs/netfs.ko.xz', 'kernel/net/9p/9pnet_virtio.ko.xz', 'kernel/fs/9p/9p.ko.xz', 'kernel/fs/overlayfs/overlay.ko.xz',
    ]);
    expect(codeOf(() => moduleLoadOrder(dep, builtin, ['virtio_blk']))).toBe('ERR_PREREQUISITE');
  });

  test('the initramfs busybox must be static: a dynamic executable names its loader', () => {
    expect(hasInterpreter(readFileSync(process.execPath))).toBe(true); // node is dynamically linked
    expect(hasInterpreter(Buffer.from('#!/bin/sh\n'.padEnd(80)))).toBe(true); // not ELF at all
  });

  test('JUnit counts by test case', () => {
    const xml = `<?xml version="1.0"?>\n<testsuites name="vitest tests" tests="4" failures="1" errors="0" time="9">
      <testsuite name="a" tests="4"><testcase classname="a" name="x" time="1">\n</testcase>
      <testcase classname="a" name="y" time="1"><failure message="boom"/></testcase>
      <testcase classname="a" name="z" time="0"><skipped/></testcase><testcase classname="a" name="w" time="0"/>
      </testsuite></testsuites>`;
    expect(junitCounts(xml)).toEqual({ tests: 4, passed: 2, failed: 1, skipped: 1 });
  });
});
