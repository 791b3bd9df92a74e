// IGMP (IP protocol 2): no tracker of its own, so the kernel tracks it generically (addresses only).
// The model knows its name; the CLI lists it as `unknown  2`. Both families, as the kernel allows.
import { defaultOracleArgs, GENERIC_IDENTITY, genericSamples, type ProtocolSpec } from './spec.ts';

export const igmp: ProtocolSpec = {
  name: 'igmp',
  protocol: 'igmp',
  number: 2,
  families: ['ipv4', 'ipv6'],
  samples: genericSamples('igmp'),
  oracleArgs: defaultOracleArgs,
  identity: GENERIC_IDENTITY,
};
