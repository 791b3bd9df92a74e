// TCP over IPv4 and IPv6: entries carry a state; samples are ESTABLISHED like the seed's.
import { defaultOracleArgs, PORT_IDENTITY, portSamples, type ProtocolSpec } from './spec.ts';
import { tcpRecipe } from './traffic.ts';

export const tcp: ProtocolSpec = {
  name: 'tcp',
  protocol: 'tcp',
  number: 6,
  families: ['ipv4', 'ipv6'],
  samples: portSamples('tcp', { state: 'ESTABLISHED' }),
  oracleArgs: defaultOracleArgs,
  identity: PORT_IDENTITY,
  traffic: [tcpRecipe('established'), tcpRecipe('time-wait')],
};
