// GRE (IP protocol 47): the tuple's "ports" are the 16-bit GRE keys (`--srckey/--dstkey` in the CLI).
import { defaultOracleArgs, PORT_IDENTITY, portSamples, type ProtocolSpec } from './spec.ts';

export const gre: ProtocolSpec = {
  name: 'gre',
  protocol: 'gre',
  number: 47,
  families: ['ipv4', 'ipv6'],
  samples: portSamples('gre'),
  oracleArgs: defaultOracleArgs,
  identity: PORT_IDENTITY,
};
