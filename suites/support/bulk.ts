// The bulk suites' scale and entries. CTH_BULK_ENTRIES lowers (or raises) the scale: the VM smoke
// (`npm run test:vm`) runs 1,000 under emulation, where code runs ~30x slower.
import type { EntryInput } from '../../harness/conntrack/entry.ts';

export const BULK_ENTRIES = bulkEntries(process.env.CTH_BULK_ENTRIES);

function bulkEntries(value: string | undefined): number {
  if (value === undefined || value === '') return 10_000;
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < 8 || n > 1_000_000) throw new Error(`CTH_BULK_ENTRIES must be a whole number in 8..1000000, not ${JSON.stringify(value)}`);
  return n;
}

/** `total` distinct entries (udp, tcp, sctp; IPv4 and IPv6) spread over `zones`. */
export function bulk(zones: number[], total: number): EntryInput[] {
  return Array.from({ length: total }, (_, i) => ({
    protocol: (['udp', 'tcp', 'sctp'] as const)[i % 3]!,
    src: i % 2 === 0 ? `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}` : `fd00::${(i >> 16).toString(16)}:${(i & 0xffff).toString(16)}`,
    dst: i % 2 === 0 ? '10.255.255.1' : 'fd00:ffff::1',
    sport: 1024 + (i % 60000),
    dport: 443,
    zone: zones[i % zones.length]!,
  }));
}
