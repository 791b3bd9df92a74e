// The protocol registry: one line per protocol spec. The generic suites cover every spec exported
// here. `npm run new-protocol -- <name>` writes the spec file and appends its line.
export { gre } from './gre.ts';
export { icmp } from './icmp.ts';
export { icmpv6 } from './icmpv6.ts';
export { igmp } from './igmp.ts';
export { sctp } from './sctp.ts';
export { tcp } from './tcp.ts';
export { udp } from './udp.ts';
export { udplite } from './udplite.ts';
export { unassigned } from './unassigned.ts';
