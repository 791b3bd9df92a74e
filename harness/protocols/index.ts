// The protocol registry: the generic suites cover every spec listed here. Adding a protocol is
// one new file next to this one and one line below (`npm run new-protocol -- <name>` does both).
import type { ProtocolSpec } from './spec.ts';
import { gre } from './gre.ts';
import { icmp } from './icmp.ts';
import { icmpv6 } from './icmpv6.ts';
import { sctp } from './sctp.ts';
import { tcp } from './tcp.ts';
import { udp } from './udp.ts';
import { udplite } from './udplite.ts';

export const PROTOCOL_SPECS: readonly ProtocolSpec[] = [
  icmp,
  tcp,
  udp,
  icmpv6,
  sctp,
  udplite,
  gre,
  // new-protocol: registry line above this comment
];

export type { GenericCase, ProtocolSpec, SampleOptions } from './spec.ts';

/**
 * A mixed set: `count` samples of every protocol x family, with varied marks, timeouts and status
 * flags. Used by the cross-check suite and `npm run compare`.
 */
export function mixedSamples(zone: number, count: number): import('../conntrack/entry.ts').EntryInput[] {
  return PROTOCOL_SPECS.flatMap((spec) =>
    spec.families.flatMap((family) =>
      spec.samples({ family, zone, count }).map((e, i) => ({
        ...e,
        mark: i * 1000 + 7,
        timeout: 300 + i,
        status: i % 2 === 0 ? ['SEEN_REPLY', 'ASSURED'] : [],
      })),
    ),
  );
}

/** The oracle arguments of an entry, by its protocol's spec. */
export function oracleArgsOf(entry: import('../conntrack/entry.ts').EntryInput): string[] {
  const spec = PROTOCOL_SPECS.find((s) => s.protocol === entry.protocol);
  if (!spec) throw new Error(`no protocol spec for ${entry.protocol}`);
  return spec.oracleArgs(entry);
}
