// Facts about the running kernel that more than one layer needs (the client, doctor).
import { release } from 'node:os';

/** First Linux release whose conntrack dump honours CTA_ZONE ("ctnetlink: support filtering by zone"). */
export const KERNEL_ZONE_FILTER = '6.8';

/** True when `kernelRelease` (e.g. `6.1.0-27-amd64`) is at least `version` (`major.minor`). */
export function atLeast(kernelRelease: string, version: string): boolean {
  const m = /^(\d+)\.(\d+)/.exec(kernelRelease);
  if (!m) return false;
  const [wantMajor, wantMinor] = version.split('.').map(Number) as [number, number];
  const major = Number(m[1]);
  const minor = Number(m[2]);
  return major > wantMajor || (major === wantMajor && minor >= wantMinor);
}

/** Linux >= 6.8 filters a conntrack dump by CTA_ZONE; older kernels ignore the attribute. */
export function kernelFiltersZones(kernelRelease = release()): boolean {
  return atLeast(kernelRelease, KERNEL_ZONE_FILTER);
}
