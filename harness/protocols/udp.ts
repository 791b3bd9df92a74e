// UDP over IPv4 and IPv6: the simplest port protocol, unreplied unless traffic answers.
import { defaultOracleArgs, PORT_IDENTITY, portSamples, type ProtocolSpec } from './spec.ts';
import { udpRecipe } from './traffic.ts';

export const udp: ProtocolSpec = {
  name: 'udp',
  protocol: 'udp',
  number: 17,
  families: ['ipv4', 'ipv6'],
  samples: portSamples('udp'),
  oracleArgs: defaultOracleArgs,
  identity: PORT_IDENTITY,
  traffic: [udpRecipe('replied'), udpRecipe('unreplied')],
};
