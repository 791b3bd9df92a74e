// Debian kernels for the VM runner (`npm run test:vm`): one kernel series per Debian release,
// fetched through DebianArchive (a private apt root, the machine's apt config is never touched) and
// kept as `<cache>/kernels/<version>/{vmlinuz,lib/modules/<version>}` with a modules.dep of its own.
import { existsSync } from 'node:fs';
import { mkdir, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { HarnessError } from '../errors.ts';
import { execute } from '../os/execute.ts';
import { cacheDir, DebianArchive, extractDebs, type DebianRelease } from './debian.ts';

/** The kernel series the runner boots, and the Debian release whose kernel each one is. */
export const VM_KERNELS = { '5.10': 'bullseye', '6.1': 'bookworm', '6.12': 'trixie' } as const satisfies Record<string, DebianRelease>;
export type VmKernel = keyof typeof VM_KERNELS;

export function isVmKernel(value: string): value is VmKernel {
  return Object.hasOwn(VM_KERNELS, value);
}

/** The Debian release that ships kernel `series`; ERR_UNKNOWN_KERNEL for any other series. */
export function releaseForKernel(series: string): DebianRelease {
  if (!isVmKernel(series)) {
    throw new HarnessError('ERR_UNKNOWN_KERNEL', `unknown kernel ${JSON.stringify(series)}: one of ${Object.keys(VM_KERNELS).join(', ')}`);
  }
  return VM_KERNELS[series];
}

/**
 * The image package named by the metapackage's Depends, e.g.
 * `linux-image-5.10.0-32-amd64 (= 5.10.223-1)` → `linux-image-5.10.0-32-amd64`.
 */
export function imagePackageFromDepends(depends: string): string {
  const pkg = depends.split(',').map((d) => d.trim().split(/\s/)[0] ?? '').find((d) => /^linux-image-\d/.test(d));
  if (!pkg) throw new HarnessError('ERR_PREREQUISITE', `no linux-image-<version> package in Depends: ${depends}`);
  return pkg;
}

/** `linux-image-6.12.48+deb13-amd64` (or its `-unsigned` twin) → `6.12.48+deb13-amd64`. */
export function kernelVersionOfPackage(pkg: string): string {
  const m = /^linux-image-(\d.*?)(?:-unsigned)?$/.exec(pkg);
  if (!m) throw new HarnessError('ERR_PREREQUISITE', `${pkg} is not a linux-image-<version> package`);
  return m[1]!;
}

export interface FetchedKernel {
  series: VmKernel;
  release: DebianRelease;
  /** `uname -r` of the kernel, e.g. `6.1.0-41-amd64`. */
  version: string;
  dir: string;
  vmlinuz: string;
  /** `<dir>/lib/modules/<version>`, with modules.dep. */
  modules: string;
}

function layout(series: VmKernel, version: string): FetchedKernel {
  const dir = join(cacheDir(), 'kernels', version);
  return {
    series, release: VM_KERNELS[series], version, dir,
    vmlinuz: join(dir, 'vmlinuz'), modules: join(dir, 'lib', 'modules', version),
  };
}

const COMPLETE = 'complete';

/**
 * Resolves the release's current kernel and fetches it once. When the package lists cannot be
 * fetched (offline), the kernel fetched last time for this series is used.
 */
export async function fetchKernel(series: VmKernel, log: (line: string) => void = () => {}): Promise<FetchedKernel> {
  const release = releaseForKernel(series);
  const pointer = join(cacheDir(), 'kernels', `${series}.current`);
  let version: string;
  const archive = new DebianArchive(release);
  let pkg: string;
  try {
    await archive.update();
    pkg = imagePackageFromDepends(await archive.field('linux-image-amd64', 'Depends'));
    version = kernelVersionOfPackage(pkg);
  } catch (error) {
    const last = await readFile(pointer, 'utf8').then((s) => s.trim(), () => '');
    if (!last || !existsSync(join(layout(series, last).dir, COMPLETE))) throw error;
    log(`package lists unavailable (${(error as Error).message.split('\n')[0]}); using the cached ${last}`);
    return layout(series, last);
  }
  const kernel = layout(series, version);
  if (existsSync(join(kernel.dir, COMPLETE))) return kernel;

  log(`fetching ${pkg} from Debian ${release}`);
  // Built beside the final folder and renamed into place, so a half-done fetch is never used.
  const staging = `${kernel.dir}.partial-${process.pid}`;
  const debs = join(cacheDir(), 'kernels', 'debs', release);
  try {
    const [deb] = await archive.download([pkg], debs);
    const unpacked = join(staging, 'unpacked');
    await extractDebs([deb!], unpacked);
    // bullseye/bookworm ship /lib/modules, trixie (merged /usr) /usr/lib/modules.
    const moduleSrc = [join(unpacked, 'lib', 'modules', version), join(unpacked, 'usr', 'lib', 'modules', version)].find((p) => existsSync(p));
    const vmlinuz = join(unpacked, 'boot', `vmlinuz-${version}`);
    if (!moduleSrc || !existsSync(vmlinuz)) {
      throw new HarnessError('ERR_PREREQUISITE', `${deb} has no boot/vmlinuz-${version} or modules/${version}`);
    }
    await mkdir(join(staging, 'lib', 'modules'), { recursive: true });
    await rename(vmlinuz, join(staging, 'vmlinuz'));
    await rename(moduleSrc, join(staging, 'lib', 'modules', version));
    await rm(unpacked, { recursive: true, force: true });
    // Debian generates modules.dep in the package's postinst; do it here (kmod's depmod).
    await execute(['depmod', '-b', staging, version], { timeout: 120_000 });
    await writeFile(join(staging, COMPLETE), `${pkg}\n`);
    await rm(kernel.dir, { recursive: true, force: true });
    await rename(staging, kernel.dir);
    await writeFile(pointer, `${version}\n`);
  } finally {
    await rm(staging, { recursive: true, force: true });
    // Keep the .deb folder small: only the newest download matters.
    await readdir(debs).then((files) => Promise.all(files.map((f) => rm(join(debs, f), { force: true }))), () => {});
  }
  return kernel;
}
