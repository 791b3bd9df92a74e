// ICMP echo over IPv4: identity is type, code and id (the kernel inverts echo 8 into reply 0).
import { ICMP_IDENTITY, SAMPLE_ADDRESSES, defaultOracleArgs, type ProtocolSpec } from './spec.ts';
import { pingRecipe } from './traffic.ts';

export const icmp: ProtocolSpec = {
  name: 'icmp',
  protocol: 'icmp',
  number: 1,
  families: ['ipv4'],
  samples: ({ family, zone, count }) =>
    Array.from({ length: count }, (_, i) => ({
      protocol: 'icmp' as const,
      src: SAMPLE_ADDRESSES[family].src(i >> 12),
      dst: SAMPLE_ADDRESSES[family].dst,
      icmpType: 8,
      icmpCode: 0,
      icmpId: (i & 4095) + 1,
      zone,
    })),
  oracleArgs: defaultOracleArgs,
  identity: ICMP_IDENTITY,
  traffic: [pingRecipe('icmp')],
};
