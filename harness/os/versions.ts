// Dotted version numbers (tools, Node.js, kernels), compared part by part.

/** Numeric parts of a version (`v1.4.7` → [1, 4, 7]; iproute2's `ss190107` → [190107]). */
export function versionParts(version: string): number[] {
  return (version.match(/\d+/g) ?? []).map(Number);
}

/** -1, 0 or 1 as `a` is older than, equal to or newer than `b` (missing parts count as 0). */
export function compareVersions(a: string, b: string): number {
  const pa = versionParts(a);
  const pb = versionParts(b);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  return 0;
}
