// Does the running kernel track a protocol itself? One sample entry is created through ctnetlink
// in a throwaway namespace and listed back: a kernel without the protocol's tracker either refuses
// it or keeps it with the generic tracker (addresses only: the ports or ICMP fields are gone, as
// DCCP's are since Linux 6.17). `npm run new-protocol` writes the verdict into a new spec.
import { release } from 'node:os';
import { ConntrackClient } from '../conntrack/client.ts';
import { normalizeKey, protocolNumber, tupleShape, type Family, type Protocol } from '../conntrack/entry.ts';
import { HarnessError, NetlinkErrnoError } from '../errors.ts';
import { Netns } from '../os/netns.ts';
import { echoSamples, genericSamples, portSamples } from './spec.ts';

/** The probe's answer. */
export type TrackerVerdict = { supported: true } | { supported: false; reason: string };

/** Errnos with which a kernel refuses an entry of a protocol (or family) it cannot track. */
const NO_TRACKER_ERRNOS = new Set(['EOPNOTSUPP', 'EPROTONOSUPPORT', 'EAFNOSUPPORT', 'ENOENT']);

/** One entry of the protocol's tuple shape, as the spec helpers make it. */
function sampleOf(protocol: Protocol, family: Family) {
  const shape = tupleShape(protocol);
  const make = shape === 'ports' ? portSamples(protocol as Parameters<typeof portSamples>[0])
    : shape === 'icmp' ? echoSamples(protocol as 'icmp' | 'icmpv6', protocol === 'icmpv6' ? 128 : 8)
    : genericSamples(protocol);
  return make({ family, zone: 0, count: 1 })[0]!;
}

function displayName(protocol: Protocol): string {
  return typeof protocol === 'number' ? `protocol ${protocol}` : protocol.toUpperCase();
}

/**
 * Whether the running kernel has a conntrack tracker of its own for `protocol` in `family`: one
 * sample entry is created through ctnetlink in a throwaway namespace and listed back. Needs root.
 * Unsupported when the kernel refuses the entry (EOPNOTSUPP, EPROTONOSUPPORT, EAFNOSUPPORT, ENOENT)
 * or lists it back without its ports or ICMP fields (the generic tracker); the reason names the
 * kernel release and what was seen. Generic protocols need only be created and listed back.
 * Anything else (another errno, an entry that does not list back) is not a verdict: it throws
 * `ERR_PROBE_FAILED`.
 */
export async function probeTracker(protocol: Protocol, family: Family): Promise<TrackerVerdict> {
  const sample = sampleOf(protocol, family);
  const key = normalizeKey(sample);
  const number = protocolNumber(protocol);
  const name = displayName(protocol);
  const linux = `Linux ${release()}`;
  const failed = (what: string, cause?: unknown): never => {
    throw new HarnessError('ERR_PROBE_FAILED', `probing ${linux} for a ${name} tracker (${family}): ${what}`, { cause });
  };
  // Destroyed on return or throw; one left by a killed process goes at the next sweep (its session is dead).
  await using ns = await Netns.create();
  await using client = await ConntrackClient.open({ netns: ns.name });
  const { failed: refused } = await client.tryCreate([sample]);
  const error = refused[0]?.error;
  if (error) {
    if (error instanceof NetlinkErrnoError && NO_TRACKER_ERRNOS.has(error.errnoName)) {
      return { supported: false, reason: `${linux} has no ${name} tracker: ctnetlink refuses to create an entry (${error.errnoName})` };
    }
    return failed(`creating one entry failed: ${error.message}`, error);
  }
  // The namespace is this probe's own: its table holds the sample and nothing else.
  const listed = (await client.list()).find((e) =>
    e.family === key.family && protocolNumber(e.protocol) === number && e.src === key.src && e.dst === key.dst);
  if (!listed) return failed('the created entry does not list back');
  switch (tupleShape(protocol)) {
    case 'ports':
      if (listed.sport === key.sport && listed.dport === key.dport) return { supported: true };
      if (listed.sport === undefined && listed.dport === undefined) {
        return { supported: false, reason: `${linux} has no ${name} tracker: a created entry lists back without ports (generic tracker)` };
      }
      return failed(`the entry lists back with ports ${listed.sport}/${listed.dport}, created with ${key.sport}/${key.dport}`);
    case 'icmp':
      if (listed.icmpType === key.icmpType && listed.icmpId === key.icmpId) return { supported: true };
      if (listed.icmpType === undefined && listed.icmpId === undefined) {
        return { supported: false, reason: `${linux} has no ${name} tracker: a created entry lists back without type, code and id (generic tracker)` };
      }
      return failed(`the entry lists back with type ${listed.icmpType} id ${listed.icmpId}, created with ${key.icmpType} ${key.icmpId}`);
    case 'generic':
      return { supported: true };
  }
}
