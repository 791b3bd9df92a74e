// UDP-Lite (IP protocol 136): a port protocol the kernel tracks like UDP.
import { defaultOracleArgs, PORT_IDENTITY, portSamples, type ProtocolSpec } from './spec.ts';

export const udplite: ProtocolSpec = {
  name: 'udplite',
  protocol: 'udplite',
  number: 136,
  families: ['ipv4', 'ipv6'],
  samples: portSamples('udplite'),
  oracleArgs: defaultOracleArgs,
  identity: PORT_IDENTITY,
};
