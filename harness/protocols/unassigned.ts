// IP protocol 200, unassigned by IANA: a protocol the model has no name for is reported by its
// number and tracked generically (addresses only), like anything `conntrack -I -p <number>` accepts.
import { defaultOracleArgs, GENERIC_IDENTITY, genericSamples, type ProtocolSpec } from './spec.ts';

export const unassigned: ProtocolSpec = {
  name: 'unassigned',
  protocol: 200,
  number: 200,
  families: ['ipv4', 'ipv6'],
  samples: genericSamples(200),
  oracleArgs: defaultOracleArgs,
  identity: GENERIC_IDENTITY,
};
