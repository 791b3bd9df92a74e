// ICMPv6 echo (type 128, reply 129): IPv6 only, identity is type, code and id.
import { defaultOracleArgs, echoSamples, ICMP_IDENTITY, type ProtocolSpec } from './spec.ts';
import { pingRecipe } from './traffic.ts';

export const icmpv6: ProtocolSpec = {
  name: 'icmpv6',
  protocol: 'icmpv6',
  number: 58,
  families: ['ipv6'],
  samples: echoSamples('icmpv6', 128),
  oracleArgs: defaultOracleArgs,
  identity: ICMP_IDENTITY,
  traffic: [pingRecipe('icmpv6')],
};
