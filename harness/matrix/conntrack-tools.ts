// Other conntrack-tools versions for the oracle: the `conntrack` binary of another Debian release,
// unpacked with the libraries it was built against into a private prefix
// (`<cache>/conntrack-tools/<version>/`). Its RPATH is set to the prefix's own library folder, so
// the binary runs as it is from any path (`CTH_CONNTRACK=<prefix>/usr/sbin/conntrack`) and never
// loads this machine's libnetfilter_conntrack by mistake.
import { existsSync, readdirSync } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { HarnessError, ValidationError } from '../errors.ts';
import { execute } from '../os/execute.ts';
import { cacheDir, DebianArchive, extractDebs, type DebianRelease } from './debian.ts';

/** The Debian release that ships each conntrack-tools version (Ubuntu 22.04 ships 1.4.6, 24.04 1.4.8). */
export const CONNTRACK_TOOLS_RELEASES = { '1.4.6': 'bullseye', '1.4.7': 'bookworm', '1.4.8': 'trixie' } as const satisfies Record<string, DebianRelease>;
export type ConntrackToolsVersion = keyof typeof CONNTRACK_TOOLS_RELEASES;
export const CONNTRACK_TOOLS_VERSIONS = Object.keys(CONNTRACK_TOOLS_RELEASES) as ConntrackToolsVersion[];

/** The binary and the shared libraries it needs from its own release. */
const PACKAGES = ['conntrack', 'libnetfilter-conntrack3', 'libnfnetlink0', 'libmnl0'];
const LIB_DIR = 'usr/lib/x86_64-linux-gnu';

function prefixOf(version: ConntrackToolsVersion): string {
  return join(cacheDir(), 'conntrack-tools', version);
}

/** Where a fetched version's binary is (whether or not it has been fetched). */
export function conntrackToolsBinary(version: ConntrackToolsVersion): string {
  return join(prefixOf(version), 'usr/sbin/conntrack');
}

export function assertConntrackToolsVersion(version: string): ConntrackToolsVersion {
  if (!(version in CONNTRACK_TOOLS_RELEASES)) {
    throw new ValidationError('ERR_INVALID_ARGUMENT', 'version', version, `no Debian release known for conntrack-tools ${JSON.stringify(version)} (${CONNTRACK_TOOLS_VERSIONS.join(', ')})`);
  }
  return version as ConntrackToolsVersion;
}

/** The versions fetched into the cache so far, with their binaries. */
export function fetchedConntrackTools(): Array<{ version: ConntrackToolsVersion; binary: string }> {
  const dir = join(cacheDir(), 'conntrack-tools');
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((v): v is ConntrackToolsVersion => v in CONNTRACK_TOOLS_RELEASES && existsSync(conntrackToolsBinary(v as ConntrackToolsVersion)))
    .sort()
    .map((version) => ({ version, binary: conntrackToolsBinary(version) }));
}

/**
 * Fetches conntrack-tools `version` from its Debian release into the private prefix (once; a
 * second call returns the cached binary) and checks that it runs and reports that version.
 */
export async function fetchConntrackTools(version: ConntrackToolsVersion): Promise<string> {
  const binary = conntrackToolsBinary(version);
  if (existsSync(binary)) return binary;
  const release = CONNTRACK_TOOLS_RELEASES[version];
  const archive = new DebianArchive(release);
  await archive.update();
  const staging = `${prefixOf(version)}.partial`;
  const debs = await archive.download(PACKAGES, join(cacheDir(), 'debs', release));
  await extractDebs(debs, staging);
  // DT_RPATH (not RUNPATH): it also applies to the libraries' own dependencies (libnfnetlink, libmnl).
  await execute(['patchelf', '--force-rpath', '--set-rpath', `$ORIGIN/../../${LIB_DIR}`, join(staging, 'usr/sbin/conntrack')], { timeout: 60_000 });
  const { stdout, stderr } = await execute([join(staging, 'usr/sbin/conntrack'), '--version'], { timeout: 10_000 });
  if (!`${stdout}${stderr}`.includes(`v${version}`)) {
    throw new HarnessError('ERR_PREREQUISITE', `conntrack from Debian ${release} reports ${`${stdout}${stderr}`.trim()}, not ${version}`);
  }
  await rm(prefixOf(version), { recursive: true, force: true });
  await rename(staging, prefixOf(version));
  return binary;
}
