// The VM runner (`npm run test:vm`): boots a Debian kernel under qemu with this machine's root
// shared read-only over 9p (under a tmpfs overlay in the guest) and runs vitest suites of this repo
// in it as root. A second, writable 9p share carries the run's input (argv, repo, modules path) and
// its results (status, uname, vitest log, JUnit). The guest's side is guest/init and guest/stage2.
import { existsSync } from 'node:fs';
import { chmod, copyFile, cp, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join, relative } from 'node:path';
import { execa } from 'execa';
import { HarnessError, ValidationError } from '../errors.ts';
import { execute } from '../os/execute.ts';
import { fetchKernel, type FetchedKernel, type VmKernel } from './kernels.ts';

export type Accel = 'kvm' | 'tcg';
export type AccelChoice = Accel | 'auto';

/** Where the results share is mounted in the guest. */
export const GUEST_RESULTS = '/cth-results';
/** Modules the initramfs loads to reach the root: virtio PCI, 9p over virtio, overlayfs. */
export const BOOT_MODULES: readonly string[] = ['virtio_pci', '9pnet_virtio', '9p', 'overlay'];
const GUEST_DIR = join(dirname(new URL(import.meta.url).pathname), 'guest');
const BUSYBOX = '/bin/busybox';
const KVM_PROBE_MS = 10_000;
/** Printed by guest/init and guest/stage2; the runner times the boot by them. */
const MARK_INIT = 'cth-guest: init on';
const MARK_VITEST = 'cth-guest: running vitest';

/** TCG's CPU: everything qemu emulates, but 4-level paging (a 5-level walk costs every emulated TLB miss). */
export const TCG_CPU = 'max,la57=off';

export const KERNEL_COMMAND_LINE = [
  'console=ttyS0', 'panic=-1', 'quiet', 'loglevel=4', 'mitigations=off', 'random.trust_cpu=on', 'rdinit=/init',
].join(' ');

export interface QemuArgvOptions {
  accel: Accel;
  vmlinuz: string;
  /** Omitted by the KVM probe, which only waits for the kernel's first line. */
  initrd?: string;
  memoryMiB: number;
  cpus: number;
  /** The host folder shared read-only as the guest's lower root. */
  root: string;
  /** The writable results folder; omitted by the probe. */
  results?: string;
  append?: string;
  /** -cpu model; default host (KVM) or TCG_CPU. */
  cpu?: string;
}

/** qemu-system-x86_64's argv (a pure function). Serial console on stdio; no NIC, no display. */
export function buildQemuArgv(o: QemuArgvOptions): string[] {
  const argv = [
    'qemu-system-x86_64', '-nodefaults', '-no-user-config', '-no-reboot', '-display', 'none', '-nic', 'none',
    ...(o.accel === 'kvm' ? ['-accel', 'kvm', '-cpu', o.cpu ?? 'host'] : ['-accel', 'tcg,thread=multi', '-cpu', o.cpu ?? TCG_CPU]),
    '-smp', String(o.cpus), '-m', `${o.memoryMiB}M`,
    '-serial', 'stdio',
    '-kernel', o.vmlinuz,
    '-append', o.append ?? KERNEL_COMMAND_LINE,
  ];
  if (o.initrd !== undefined) argv.push('-initrd', o.initrd);
  argv.push('-virtfs', `local,path=${o.root},mount_tag=root,security_model=none,readonly=on,multidevs=remap`);
  if (o.results !== undefined) argv.push('-virtfs', `local,path=${o.results},mount_tag=results,security_model=none,multidevs=remap`);
  for (const path of [o.vmlinuz, o.initrd, o.root, o.results]) {
    // qemu's option syntax splits on commas: such a path would be read as more options.
    if (path?.includes(',')) throw new ValidationError('ERR_INVALID_ARGUMENT', 'path', path, `qemu cannot take a path with a comma: ${path}`);
  }
  return argv;
}

/** The argv stage2 runs in the repo: `env NAME=VALUE ... node_modules/.bin/vitest run ...`. */
export function guestArgv(vitestArgs: readonly string[], env: Readonly<Record<string, string>>, timeoutMs: number, cpus = 2): string[] {
  return [
    ...Object.entries({ CI: 'true', NO_COLOR: '1', ...env }).map(([k, v]) => `${k}=${v}`),
    'node_modules/.bin/vitest', 'run',
    // vitest's default is one worker fewer than CPUs: one, in a 2-CPU guest.
    `--maxWorkers=${cpus}`, `--testTimeout=${timeoutMs}`, `--hookTimeout=${timeoutMs}`,
    '--reporter=default', '--reporter=junit', `--outputFile.junit=${GUEST_RESULTS}/junit.xml`,
    ...vitestArgs,
  ];
}

const moduleName = (path: string) => basename(path).replace(/\.ko(\.(xz|zst|gz))?$/, '').replaceAll('-', '_');

/**
 * The modules (paths relative to the modules folder) to insmod for `roots`, dependencies first,
 * each once, from modules.dep. Built-in roots (modules.builtin) need nothing.
 */
export function moduleLoadOrder(modulesDep: string, modulesBuiltin: string, roots: readonly string[]): string[] {
  const deps = new Map<string, { path: string; needs: string[] }>();
  for (const line of modulesDep.split('\n')) {
    const [path, rest] = line.split(':');
    if (!path || rest === undefined) continue;
    deps.set(moduleName(path), { path, needs: rest.trim().split(/\s+/).filter(Boolean) });
  }
  const builtin = new Set(modulesBuiltin.split('\n').filter(Boolean).map(moduleName));
  const order: string[] = [];
  const visit = (name: string, chain: string[]) => {
    if (builtin.has(name) || order.some((p) => moduleName(p) === name)) return;
    const entry = deps.get(name);
    if (!entry) throw new HarnessError('ERR_PREREQUISITE', `module ${name} is neither in modules.dep nor built in (needed by ${chain.join(' → ') || 'the initramfs'})`);
    if (chain.includes(name)) throw new HarnessError('ERR_PREREQUISITE', `module dependency cycle: ${[...chain, name].join(' → ')}`);
    for (const dep of entry.needs) visit(moduleName(dep), [...chain, name]);
    order.push(entry.path);
  };
  for (const root of roots) visit(moduleName(root), []);
  return order;
}

/** All paths under `dir`, relative, folders before their contents (cpio's input list). */
async function listTree(dir: string, prefix = '.'): Promise<string[]> {
  const out: string[] = [];
  for (const d of await readdir(join(dir, prefix), { withFileTypes: true })) {
    const rel = join(prefix, d.name);
    out.push(rel);
    if (d.isDirectory()) out.push(...(await listTree(dir, rel)));
  }
  return out;
}

/** Whether an ELF64 executable names a dynamic loader (a PT_INTERP program header). */
export function hasInterpreter(elf: Buffer): boolean {
  if (elf.length < 64 || elf.readUInt32BE(0) !== 0x7f454c46 || elf[4] !== 2) return true; // not ELF64: refuse too
  const phoff = Number(elf.readBigUInt64LE(0x20));
  const size = elf.readUInt16LE(0x36);
  const count = elf.readUInt16LE(0x38);
  for (let i = 0; i < count; i++) {
    const at = phoff + i * size;
    if (at + 4 > elf.length || elf.readUInt32LE(at) === 3) return true;
  }
  return false;
}

/** A newc cpio with busybox, guest/init and the boot modules (decompressed for busybox insmod). */
export async function buildInitramfs(kernel: FetchedKernel, workDir: string): Promise<string> {
  const staging = join(workDir, 'initramfs');
  await mkdir(join(staging, 'bin'), { recursive: true });
  await mkdir(join(staging, 'modules'), { recursive: true });
  // The initramfs has no libc: the busybox must be the static one (package busybox-static).
  const busybox = await readFile(BUSYBOX).catch(() => undefined);
  if (!busybox || hasInterpreter(busybox)) {
    throw new HarnessError('ERR_PREREQUISITE', `${BUSYBOX} is ${busybox ? 'dynamically linked' : 'missing'}: sudo apt-get install -y busybox-static`);
  }
  await writeFile(join(staging, 'bin', 'busybox'), busybox);
  await chmod(join(staging, 'bin', 'busybox'), 0o755);
  await copyFile(join(GUEST_DIR, 'init'), join(staging, 'init'));
  await chmod(join(staging, 'init'), 0o755);
  const order = moduleLoadOrder(
    await readFile(join(kernel.modules, 'modules.dep'), 'utf8'),
    await readFile(join(kernel.modules, 'modules.builtin'), 'utf8').catch(() => ''),
    BOOT_MODULES,
  );
  const names: string[] = [];
  for (const path of order) {
    const file = basename(path);
    await copyFile(join(kernel.modules, path), join(staging, 'modules', file));
    if (file.endsWith('.xz')) await execute(['xz', '-d', join(staging, 'modules', file)], { timeout: 60_000 });
    else if (file.endsWith('.zst')) await execute(['zstd', '-q', '-d', '--rm', join(staging, 'modules', file)], { timeout: 60_000 });
    else if (file.endsWith('.gz')) await execute(['gzip', '-d', join(staging, 'modules', file)], { timeout: 60_000 });
    names.push(file.replace(/\.(xz|zst|gz)$/, ''));
  }
  await writeFile(join(staging, 'modules.list'), `${names.join('\n')}\n`);
  const cpio = join(workDir, 'initramfs.cpio');
  const list = await listTree(staging);
  await execute(['env', '-C', staging, 'cpio', '--quiet', '-o', '-H', 'newc', '-R', '0:0', '-F', cpio], { input: `${list.join('\n')}\n`, timeout: 60_000 });
  return cpio;
}

/** Runs qemu, killed by SIGKILL at the deadline, on `signal`, and when this process dies (pdeathsig). */
function startQemu(argv: readonly string[], timeoutMs: number, signal: AbortSignal) {
  const [file, ...args] = ['setpriv', '--pdeathsig', 'SIGKILL', ...argv] as [string, ...string[]];
  return execa(file, args, {
    stdin: 'ignore', stdout: 'pipe', stderr: 'pipe', buffer: false, reject: false,
    timeout: Math.max(1, timeoutMs), cancelSignal: signal, killSignal: 'SIGKILL', forceKillAfterDelay: false,
    env: { LC_ALL: 'C' },
  });
}

/**
 * Whether KVM really runs a guest here: boot the kernel alone (no initramfs, it panics and
 * exits) and wait for its first line. A KVM that spins without output, or a qemu that cannot
 * start the vCPU, fails the probe; `detail` says which.
 */
export async function probeKvm(kernel: FetchedKernel, signal: AbortSignal, timeoutMs = KVM_PROBE_MS): Promise<{ ok: boolean; detail: string }> {
  if (!existsSync('/dev/kvm')) return { ok: false, detail: 'no /dev/kvm' };
  const stop = new AbortController();
  const onAbort = () => stop.abort();
  signal.addEventListener('abort', onAbort, { once: true });
  const argv = buildQemuArgv({
    accel: 'kvm', vmlinuz: kernel.vmlinuz, memoryMiB: 256, cpus: 1, root: '/',
    append: 'console=ttyS0 earlyprintk=ttyS0 panic=-1',
  });
  let seen = false;
  let stderr = '';
  let result;
  try {
    const child = startQemu(argv, timeoutMs, stop.signal);
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => { stderr += chunk; });
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      if (chunk.includes('Linux version')) {
        seen = true;
        stop.abort();
      }
    });
    result = await child;
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
  if (signal.aborted) throw interrupted();
  if (seen) return { ok: true, detail: 'the kernel printed its first line' };
  if (result.timedOut) return { ok: false, detail: `no kernel output within ${timeoutMs} ms` };
  return { ok: false, detail: `qemu exited (${result.exitCode ?? result.signal}) before the kernel printed: ${stderr.trim().split('\n')[0] ?? ''}` };
}

/** Work folders are `<tmp>/cth-vm-<pid>-XXXXXX`; those of dead runs (a kill -9) go on the next run. */
const WORK_PREFIX = 'cth-vm-';

async function removeStaleWorkDirs(): Promise<void> {
  for (const name of await readdir(tmpdir()).catch(() => [] as string[])) {
    const pid = Number(new RegExp(`^${WORK_PREFIX}(\\d+)-`).exec(name)?.[1] ?? NaN);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    let alive = true;
    try {
      process.kill(pid, 0);
    } catch (error) {
      alive = (error as NodeJS.ErrnoException).code !== 'ESRCH';
    }
    if (!alive) await rm(join(tmpdir(), name), { recursive: true, force: true });
  }
}

const interrupted = () => new HarnessError('ERR_VM_INTERRUPTED', 'the VM run was interrupted');

export interface RunVmOptions {
  kernel: VmKernel;
  /** vitest arguments (files, -t, ...) for the guest's `vitest run`. */
  vitestArgs: readonly string[];
  /** Extra environment for the guest's vitest (CTH_BULK_ENTRIES=1000, ...). */
  env?: Readonly<Record<string, string>>;
  /** The repository the guest runs in (it sees the same path). Default: the working directory. */
  repoDir?: string;
  /** Deadline for the whole run, fetch and boot included. */
  timeoutMs: number;
  /** vitest --testTimeout/--hookTimeout in the guest. Default 10 min. */
  testTimeoutMs?: number;
  accel?: AccelChoice;
  memoryMiB?: number;
  cpus?: number;
  /** Folder that receives junit.xml, vitest.log and console.log (replaced). */
  reportDir: string;
  signal?: AbortSignal;
  log?: (line: string) => void;
  /** Each chunk of the guest's serial console as it arrives. */
  console?: (chunk: string) => void;
}

export interface VmResult {
  kernel: FetchedKernel;
  accel: Accel;
  /** `uname -r` in the guest. */
  guestRelease: string;
  /** The guest vitest's exit status. */
  exitCode: number;
  /** From qemu's start to the guest init's first line, and to vitest's start. */
  kernelBootMs: number;
  vitestStartMs: number;
  /** qemu's whole run, and the whole call (fetch, initramfs, probe included). */
  qemuMs: number;
  totalMs: number;
  junit: string | undefined;
}

export async function runVm(options: RunVmOptions): Promise<VmResult> {
  const started = Date.now();
  const deadline = started + options.timeoutMs;
  const log = options.log ?? (() => {});
  const outer = options.signal ?? new AbortController().signal;
  const repoDir = options.repoDir ?? process.cwd();
  if (!existsSync(join(repoDir, 'node_modules', '.bin', 'vitest'))) {
    throw new HarnessError('ERR_PREREQUISITE', `${repoDir} has no node_modules/.bin/vitest (run npm ci)`);
  }
  if (/^\/(run|proc|sys|dev)(\/|$)/.test(repoDir)) {
    throw new ValidationError('ERR_INVALID_ARGUMENT', 'repoDir', repoDir, `${repoDir}: the guest mounts its own /run, /proc, /sys and /dev, so it cannot see a repository there`);
  }
  await removeStaleWorkDirs();
  const kernel = await fetchKernel(options.kernel, log);
  if (outer.aborted) throw interrupted();
  if (Date.now() >= deadline) throw new HarnessError('ERR_VM_TIMEOUT', `the VM run passed its deadline of ${Math.round(options.timeoutMs / 1000)} s while fetching the kernel`);
  const work = await mkdtemp(join(tmpdir(), `${WORK_PREFIX}${process.pid}-`));
  try {
    const results = join(work, 'results');
    await mkdir(results, { mode: 0o700 });
    await writeFile(join(results, 'repo'), `${repoDir}\n`);
    await writeFile(join(results, 'modules'), `${kernel.modules}\n`);
    if (process.env.CTH_VM_DEBUG) await writeFile(join(results, 'debug'), '1\n');
    const cpus = options.cpus ?? 2;
    const argv = guestArgv(options.vitestArgs, options.env ?? {}, options.testTimeoutMs ?? 600_000, cpus);
    if (argv.some((a) => a.includes('\n'))) throw new ValidationError('ERR_INVALID_ARGUMENT', 'argv', argv, 'a guest argument contains a newline');
    await writeFile(join(results, 'argv'), `${argv.join('\n')}\n`);
    const initrd = await buildInitramfs(kernel, work);

    let accel: Accel = options.accel === 'kvm' || options.accel === 'tcg' ? options.accel : 'tcg';
    if ((options.accel ?? 'auto') === 'auto') {
      const probeStart = Date.now();
      const probe = await probeKvm(kernel, outer);
      accel = probe.ok ? 'kvm' : 'tcg';
      log(`acceleration: ${accel} (KVM probe, ${Date.now() - probeStart} ms: ${probe.detail})`);
    } else {
      log(`acceleration: ${accel} (chosen)`);
    }

    const qemuArgv = buildQemuArgv({
      accel, vmlinuz: kernel.vmlinuz, initrd, memoryMiB: options.memoryMiB ?? 4096, cpus,
      root: '/', results,
    });
    const qemuStart = Date.now();
    let consoleText = '';
    let kernelBootMs = -1;
    let vitestStartMs = -1;
    const child = startQemu(qemuArgv, deadline - qemuStart, outer);
    const onChunk = (chunk: string) => {
      consoleText += chunk;
      if (kernelBootMs < 0 && consoleText.includes(MARK_INIT)) kernelBootMs = Date.now() - qemuStart;
      if (vitestStartMs < 0 && consoleText.includes(MARK_VITEST)) vitestStartMs = Date.now() - qemuStart;
      options.console?.(chunk);
    };
    child.stdout?.setEncoding('utf8').on('data', onChunk);
    child.stderr?.setEncoding('utf8').on('data', onChunk);
    const result = await child;
    const qemuMs = Date.now() - qemuStart;
    if (result.failed && result.exitCode === undefined && result.signal === undefined && !result.timedOut && !result.isCanceled) {
      throw new HarnessError('ERR_VM_BOOT', `qemu could not start: ${result.shortMessage}`, { cause: result });
    }

    // Whatever the outcome, keep what the guest left for the report.
    await rm(options.reportDir, { recursive: true, force: true });
    await mkdir(options.reportDir, { recursive: true });
    await writeFile(join(options.reportDir, 'console.log'), consoleText);
    for (const f of ['junit.xml', 'vitest.log', 'uname', 'status']) {
      if (existsSync(join(results, f))) await cp(join(results, f), join(options.reportDir, f));
    }
    const where = `(console: ${relative(process.cwd(), join(options.reportDir, 'console.log'))})`;
    if (outer.aborted) throw interrupted();
    if (result.timedOut) {
      throw new HarnessError('ERR_VM_TIMEOUT', `the VM run passed its deadline of ${Math.round(options.timeoutMs / 1000)} s ${where}`);
    }
    const status = await readFile(join(results, 'status'), 'utf8').then((s) => s.trim(), () => '');
    if (!/^\d+$/.test(status)) {
      if (kernelBootMs < 0) {
        throw new HarnessError('ERR_VM_BOOT', `the guest never reached its init (qemu exit ${result.exitCode ?? result.signal}: ${consoleText.trim().split('\n').slice(-3).join(' | ')}) ${where}`);
      }
      throw new HarnessError('ERR_VM_NO_RESULT', `the guest stopped without reporting a vitest status (qemu exit ${result.exitCode ?? result.signal}) ${where}`);
    }
    const guestRelease = await readFile(join(results, 'uname'), 'utf8').then((s) => s.trim(), () => '');
    const junit = await readFile(join(results, 'junit.xml'), 'utf8').catch(() => undefined);
    return {
      kernel, accel, guestRelease, exitCode: Number(status), kernelBootMs, vitestStartMs, qemuMs,
      totalMs: Date.now() - started, junit,
    };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** Counts of a JUnit report (vitest's root element has no skipped count): by test case. */
export function junitCounts(xml: string): { tests: number; passed: number; failed: number; skipped: number } {
  const cases = xml.split(/<testcase\b/).slice(1).map((c) => c.split('</testcase>')[0] ?? '');
  const failed = cases.filter((c) => /<(failure|error)\b/.test(c)).length;
  const skipped = cases.filter((c) => /<skipped\b/.test(c)).length;
  return { tests: cases.length, passed: cases.length - failed - skipped, failed, skipped };
}
