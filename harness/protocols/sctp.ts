// SCTP (IP protocol 132): ports plus a state; the CLI insists on verification tags on create.
import { defaultOracleArgs, PORT_IDENTITY, portSamples, type ProtocolSpec } from './spec.ts';

export const sctp: ProtocolSpec = {
  name: 'sctp',
  protocol: 'sctp',
  number: 132,
  families: ['ipv4', 'ipv6'],
  samples: portSamples('sctp', { state: 'ESTABLISHED' }),
  // defaultOracleArgs adds --state and the --orig-vtag/--reply-vtag the CLI requires for SCTP.
  oracleArgs: defaultOracleArgs,
  identity: PORT_IDENTITY,
};
