// ICMPv6 echo (type 128, reply 129): IPv6 only, identity is type, code and id.
import { ICMP_IDENTITY, SAMPLE_ADDRESSES, defaultOracleArgs, type ProtocolSpec } from './spec.ts';
import { pingRecipe } from './traffic.ts';

export const icmpv6: ProtocolSpec = {
  name: 'icmpv6',
  protocol: 'icmpv6',
  number: 58,
  families: ['ipv6'],
  samples: ({ family, zone, count }) =>
    Array.from({ length: count }, (_, i) => ({
      protocol: 'icmpv6' as const,
      src: SAMPLE_ADDRESSES[family].src(i >> 12),
      dst: SAMPLE_ADDRESSES[family].dst,
      icmpType: 128,
      icmpCode: 0,
      icmpId: (i & 4095) + 1,
      zone,
    })),
  oracleArgs: defaultOracleArgs,
  identity: ICMP_IDENTITY,
  traffic: [pingRecipe('icmpv6')],
};
