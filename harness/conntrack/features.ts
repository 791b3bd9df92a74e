// What this kernel's ctnetlink does in a dump, learned by behaviour: which filters it applies (a
// probe makes two entries in a fresh unnamed namespace, gone with its socket, and asks for each
// filter), and whether a resumed dump lists an entry with a reference of its own (below). Distribution kernels
// back-port, so the version number is only the fallback when the probe cannot run. Whatever the
// kernel filters, the client filters again in user space: this only decides what is worth sending.
import { release } from 'node:os';
import { NETLINK_NETFILTER } from '../netlink/constants.ts';
import { NetlinkConnection } from '../netlink/connection.ts';
import { atLeast, kernelFiltersZones } from '../os/kernel.ts';
import { decodeEntry, encodeCreate, encodeDump, statusBits, type DumpRequest } from './codec.ts';
import { normalizeKey, type EntryInput } from './entry.ts';

export interface KernelFilters {
  /** CTA_ZONE in a dump (Linux >= 6.8). */
  zone: boolean;
  /** CTA_MARK + CTA_MARK_MASK in a dump. */
  mark: boolean;
  /** CTA_STATUS + CTA_STATUS_MASK in a dump (Linux >= 5.15). */
  status: boolean;
  /** CTA_FILTER over the original tuple (Linux >= 5.8). */
  tuple: boolean;
}

export interface KernelFilterSupport extends KernelFilters {
  /** `probe`: measured here; `version`: the probe could not run, read off the release number. */
  source: 'probe' | 'version';
  /** Why the probe could not run. */
  reason?: string;
}

/** The version rule: when each filter reached mainline. */
export function kernelFiltersByVersion(kernelRelease = release()): KernelFilters {
  return {
    zone: kernelFiltersZones(kernelRelease),
    mark: atLeast(kernelRelease, '3.1'),
    status: atLeast(kernelRelease, '5.15'),
    tuple: atLeast(kernelRelease, '5.8'),
  };
}

const A: EntryInput = { protocol: 'udp', src: '198.51.100.1', dst: '203.0.113.1', sport: 1000, dport: 53, zone: 1, mark: 0x11, status: ['SEEN_REPLY', 'ASSURED'] };
// B differs from A in every probed field but the protocol, so the tuple probe tests the address.
const B: EntryInput = { protocol: 'udp', src: '198.51.100.2', dst: '203.0.113.1', sport: 2000, dport: 80, zone: 2, mark: 0x22 };

const PROBES: Record<keyof KernelFilters, DumpRequest> = {
  zone: { zone: 1 },
  mark: { mark: { value: 0x11, mask: 0xffffffff } },
  status: { status: statusBits(['ASSURED']) },
  tuple: { family: 'ipv4', tuple: { protocol: 'udp', src: '198.51.100.1' } },
};

/** Runs the probe: true for a filter when the kernel returned exactly entry A. */
export async function probeKernelFilters(): Promise<KernelFilters> {
  using conn = NetlinkConnection.open({ protocol: NETLINK_NETFILTER, freshNetns: true, timeoutMs: 5000 });
  const created = await conn.transact([A, B].map((e) => encodeCreate(normalizeKey(e), e, conn.nextSeq())));
  const failed = created.find((r) => r.error);
  if (failed?.error) throw failed.error;
  const result = {} as KernelFilters;
  for (const [name, request] of Object.entries(PROBES) as Array<[keyof KernelFilters, DumpRequest]>) {
    const seen: string[] = [];
    try {
      await conn.dump(encodeDump(conn.nextSeq(), request), (msg) => {
        seen.push(decodeEntry(msg).src);
      });
      result[name] = seen.length === 1 && seen[0] === A.src;
    } catch {
      // A kernel that refuses the attribute does not filter by it.
      result[name] = false;
    }
  }
  return result;
}

let cached: Promise<KernelFilterSupport> | undefined;

/** The probe's answer, once per process; the version rule if the probe fails. */
export function kernelFilterSupport(): Promise<KernelFilterSupport> {
  cached ??= probeKernelFilters().then(
    (found): KernelFilterSupport => ({ ...found, source: 'probe' }),
    (error: unknown): KernelFilterSupport => ({ ...kernelFiltersByVersion(), source: 'version', reason: error instanceof Error ? error.message : String(error) }),
  );
  return cached;
}

/** Entries of the resume probe: at ~200 bytes each, several dump batches at any buffer size. */
const RESUME_PROBE_ENTRIES = 400;

/**
 * Whether a dump that goes on in a new batch holds a reference on the entry it resumes from, so
 * that entry lists with one more `use` (CTA_USE) than it has. Seen on Linux 5.10 (in the guest,
 * conntrack -L's 8 KiB batches listed a few idle entries with use=2 that the client's larger
 * batches listed with 1); not on 6.18. Two dumps with different batch sizes then disagree by one
 * on those entries. Measured by one dump of RESUME_PROBE_ENTRIES idle entries in a fresh namespace.
 */
export async function probeDumpResumeReference(): Promise<boolean> {
  using conn = NetlinkConnection.open({ protocol: NETLINK_NETFILTER, freshNetns: true, timeoutMs: 30_000 });
  const entries = Array.from({ length: RESUME_PROBE_ENTRIES }, (_, i): EntryInput => ({
    protocol: 'udp', src: `198.51.${i >> 8}.${i & 255}`, dst: '203.0.113.1', sport: 1000, dport: 53, zone: 1, timeout: 600,
  }));
  const created = await conn.transact(entries.map((e) => encodeCreate(normalizeKey(e), e, conn.nextSeq())));
  const failed = created.find((r) => r.error);
  if (failed?.error) throw failed.error;
  let listed = 0;
  let referenced = 0;
  await conn.dump(encodeDump(conn.nextSeq(), {}), (msg) => {
    listed++;
    if ((decodeEntry(msg).use ?? 1) > 1) referenced++;
  });
  // A dump that lost entries tells nothing: compare exactly.
  return listed === RESUME_PROBE_ENTRIES && referenced > 0;
}

let resumeCached: Promise<boolean> | undefined;

/** probeDumpResumeReference(), once per process; false (compare exactly) when the probe cannot run. */
export function dumpResumeReference(): Promise<boolean> {
  resumeCached ??= probeDumpResumeReference().catch(() => false);
  return resumeCached;
}
