// Packages of other Debian releases (a 5.10 kernel, conntrack-tools 1.4.6, ...) fetched with apt's
// own client through a private sources list, state folder and cache, so the machine's apt
// configuration is never read for sources nor changed. Everything lands under one cache folder.
import { mkdir, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { HarnessError, ValidationError } from '../errors.ts';
import { execute } from '../os/execute.ts';

export type DebianRelease = 'bullseye' | 'bookworm' | 'trixie';
export const DEBIAN_RELEASES: readonly DebianRelease[] = ['bullseye', 'bookworm', 'trixie'];

const MIRROR = 'http://deb.debian.org/debian';
const KEYRING = '/usr/share/keyrings/debian-archive-keyring.gpg';
const APT_TIMEOUT_MS = 600_000;
/** Package lists older than this are fetched again. */
const LISTS_MAX_AGE_MS = 24 * 3600_000;

/** Where fetched packages, kernels and tools are kept: `CTH_CACHE_DIR`, else /var/cache/conntrack-harness. */
export function cacheDir(): string {
  return process.env.CTH_CACHE_DIR ?? '/var/cache/conntrack-harness';
}

/** One Debian release's private apt root: `<cache>/apt/<release>/{sources.list,lists,cache}`. */
export class DebianArchive {
  readonly release: DebianRelease;
  readonly root: string;

  constructor(release: DebianRelease, root = join(cacheDir(), 'apt', release)) {
    if (!DEBIAN_RELEASES.includes(release)) throw new ValidationError('ERR_INVALID_ARGUMENT', 'release', release, `unknown Debian release ${JSON.stringify(release)} (${DEBIAN_RELEASES.join(', ')})`);
    this.release = release;
    this.root = root;
  }

  /** apt options that replace every source and state path with this release's private ones. */
  private options(): string[] {
    return [
      '-o', `Dir::Etc::sourcelist=${join(this.root, 'sources.list')}`,
      '-o', 'Dir::Etc::sourceparts=-',
      '-o', `Dir::State::Lists=${join(this.root, 'lists')}`,
      '-o', `Dir::Cache=${join(this.root, 'cache')}`,
      // Downloads land in folders of ours that apt's sandbox user cannot write: say so, once.
      '-o', 'APT::Sandbox::User=root',
    ];
  }

  private apt(tool: 'apt-get' | 'apt-cache', args: string[], cwd?: string) {
    const argv = [tool, '-q', ...this.options(), ...args];
    // apt-get download writes into the working directory; execute() has no cwd, so go through env.
    return cwd === undefined
      ? execute(argv, { timeout: APT_TIMEOUT_MS })
      : execute(['env', '-C', cwd, ...argv], { timeout: APT_TIMEOUT_MS });
  }

  /** Writes the sources list and fetches the package lists, unless fetched within the last day. */
  async update(force = false): Promise<void> {
    await mkdir(join(this.root, 'lists', 'partial'), { recursive: true });
    await mkdir(join(this.root, 'cache', 'archives', 'partial'), { recursive: true });
    const sources = join(this.root, 'sources.list');
    await writeFile(sources, `deb [signed-by=${KEYRING}] ${MIRROR} ${this.release} main\n`);
    const stamp = join(this.root, 'updated');
    const fresh = await stat(stamp).then((s) => Date.now() - s.mtimeMs < LISTS_MAX_AGE_MS, () => false);
    if (fresh && !force) return;
    await this.apt('apt-get', ['update']);
    await writeFile(stamp, new Date().toISOString());
  }

  /**
   * The release's version of a package. `apt-cache policy` would prefer the version installed on
   * this machine; `madison` lists only what the private sources offer.
   */
  async version(pkg: string): Promise<string> {
    const { stdout } = await this.apt('apt-cache', ['madison', pkg]);
    const version = stdout.split('\n').map((l) => l.split('|').map((f) => f.trim())).find((f) => f[0] === pkg)?.[1];
    if (!version) throw new HarnessError('ERR_PREREQUISITE', `Debian ${this.release} has no package ${pkg}`);
    return version;
  }

  /** A field of a package's record (`Depends`, ...), as apt-cache show prints it. */
  async field(pkg: string, name: string): Promise<string> {
    const { stdout } = await this.apt('apt-cache', ['show', `${pkg}=${await this.version(pkg)}`]);
    const value = stdout.split('\n').find((l) => l.startsWith(`${name}: `))?.slice(name.length + 2);
    if (value === undefined) throw new HarnessError('ERR_PREREQUISITE', `Debian ${this.release} ${pkg} has no ${name} field`);
    return value;
  }

  /** Downloads the release's version of each package into `dir`; returns the .deb paths. */
  async download(packages: readonly string[], dir: string): Promise<string[]> {
    await mkdir(dir, { recursive: true });
    const specs = await Promise.all(packages.map(async (p) => `${p}=${await this.version(p)}`));
    await this.apt('apt-get', ['download', ...specs], dir);
    const debs = (await readdir(dir)).filter((f) => f.endsWith('.deb'));
    return packages.map((p) => {
      const deb = debs.find((f) => f.startsWith(`${p}_`));
      if (!deb) throw new HarnessError('ERR_PREREQUISITE', `apt-get download left no .deb for ${p} in ${dir}`);
      return join(dir, deb);
    });
  }
}

/** Unpacks .deb files into `dir` (dpkg-deb -x: files only, no maintainer scripts), replacing it. */
export async function extractDebs(debs: readonly string[], dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  for (const deb of debs) await execute(['dpkg-deb', '-x', deb, dir], { timeout: APT_TIMEOUT_MS });
}
