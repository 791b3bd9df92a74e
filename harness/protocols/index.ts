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
