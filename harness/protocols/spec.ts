// What a protocol file declares so the generic suites can cover it: identity, families, sample
// entries, how the oracle creates one, what the kernel or CLI cannot do, and (optionally) traffic.
import { createArgs } from '../conntrack/oracle.ts';
import type { ConntrackEntry, EntryInput, Family, Protocol, ProtocolName } from '../conntrack/entry.ts';
import type { TrafficRecipe } from './traffic.ts';

/** Every case of the generic suites (harness/fixtures/generic.ts), in the order they run. */
export const GENERIC_CASES = [
  'list', 'delete-one', 'delete-several', 'delete-all', 'delete-missing', 'zone-isolation', 'netns-isolation',
  'delete-zone', 'create-by-client', 'get', 'update', 'filtered-list', 'filtered-delete',
] as const;

/** The cases every generic suite runs; a spec can opt out of one with a reason. */
export type GenericCase = (typeof GENERIC_CASES)[number];

export interface SampleOptions {
  family: Family;
  zone: number;
  /** How many distinct entries to make. */
  count: number;
}

export interface ProtocolSpec {
  /** Suite name, used by `vitest -t`: lowercase, e.g. `udp`. */
  name: string;
  /** The entry model's protocol: its name, or its number when the model has no name for it. */
  protocol: Protocol;
  /** IP protocol number (IANA), as the kernel reports it. */
  number: number;
  families: readonly Family[];
  /** N distinct entries in `zone`: no two share their identity. */
  samples(options: SampleOptions): EntryInput[];
  /** `conntrack -I` arguments (without `-I`) that create `entry` through the oracle. */
  oracleArgs(entry: EntryInput): string[];
  /** Fields that identify an entry of this protocol: two entries are the same when these match. */
  identity: readonly (keyof ConntrackEntry)[];
  /** Cases the kernel or the CLI cannot do for this protocol, with the reason (the suite skips them). */
  unsupported?: Partial<Record<GenericCase, string>>;
  /** Real-traffic recipes (harness/protocols/traffic.ts): the traffic suites run each one per family. */
  traffic?: readonly TrafficRecipe[];
}

export const PORT_IDENTITY = ['family', 'protocol', 'zone', 'src', 'dst', 'sport', 'dport'] as const;
export const ICMP_IDENTITY = ['family', 'protocol', 'zone', 'src', 'dst', 'icmpType', 'icmpCode', 'icmpId'] as const;
/** Generic protocols (no tracker of their own): the addresses are the whole tuple. */
export const GENERIC_IDENTITY = ['family', 'protocol', 'zone', 'src', 'dst'] as const;

/** Sample addresses: documentation ranges, only ever used inside the test's own namespace. */
export const SAMPLE_ADDRESSES: Record<Family, { src: (i: number) => string; dst: string }> = {
  ipv4: { src: (i) => `198.51.${(i >> 8) & 255}.${i & 255}`, dst: '203.0.113.1' },
  ipv6: { src: (i) => `2001:db8::${(i + 1).toString(16)}`, dst: '2001:db8:ffff::1' },
};

/** Samples for a protocol with ports: source address and source port vary with i. */
export function portSamples(protocol: ProtocolName, extra: Partial<EntryInput> = {}) {
  return ({ family, zone, count }: SampleOptions): EntryInput[] =>
    Array.from({ length: count }, (_, i) => ({
      protocol,
      src: SAMPLE_ADDRESSES[family].src(i >> 4),
      dst: SAMPLE_ADDRESSES[family].dst,
      sport: 1024 + (i & 15) * 7 + 1,
      dport: 53,
      zone,
      ...extra,
    }));
}

/** Samples for an echo protocol (ICMP, ICMPv6): the echo id varies with i, then the source. */
export function echoSamples(protocol: 'icmp' | 'icmpv6', icmpType: number) {
  return ({ family, zone, count }: SampleOptions): EntryInput[] =>
    Array.from({ length: count }, (_, i) => ({
      protocol,
      src: SAMPLE_ADDRESSES[family].src(i >> 12),
      dst: SAMPLE_ADDRESSES[family].dst,
      icmpType,
      icmpCode: 0,
      icmpId: (i & 4095) + 1,
      zone,
    }));
}

/** Samples for a generic protocol: the tuple is the addresses, so the source address varies with i. */
export function genericSamples(protocol: Protocol) {
  return ({ family, zone, count }: SampleOptions): EntryInput[] =>
    Array.from({ length: count }, (_, i) => ({ protocol, src: SAMPLE_ADDRESSES[family].src(i), dst: SAMPLE_ADDRESSES[family].dst, zone }));
}

export const defaultOracleArgs = createArgs;
