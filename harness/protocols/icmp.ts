// ICMP echo over IPv4: identity is type, code and id (the kernel inverts echo 8 into reply 0).
import { defaultOracleArgs, echoSamples, ICMP_IDENTITY, type ProtocolSpec } from './spec.ts';
import { pingRecipe } from './traffic.ts';

export const icmp: ProtocolSpec = {
  name: 'icmp',
  protocol: 'icmp',
  number: 1,
  families: ['ipv4'],
  samples: echoSamples('icmp', 8),
  oracleArgs: defaultOracleArgs,
  identity: ICMP_IDENTITY,
  traffic: [pingRecipe('icmp')],
};
