// The protocol specs the suites iterate, read from the one-line-per-protocol registry.ts, plus
// helpers over them.
import { ValidationError } from '../errors.ts';
import * as registry from './registry.ts';
import type { ProtocolSpec } from './spec.ts';

/** Every registered spec, by name (module namespace order is alphabetical). */
export const PROTOCOL_SPECS: readonly ProtocolSpec[] = Object.values(registry);

// The spec helpers a protocol file uses (conntrack-harness/protocols).
export * from './spec.ts';

/**
 * A mixed set: `count` samples of every protocol x family, with varied marks, timeouts and status
 * flags. Used by the cross-check suite and `npm run compare`.
 */
export function mixedSamples(zone: number, count: number): import('../conntrack/entry.ts').EntryInput[] {
  return PROTOCOL_SPECS.flatMap((spec) =>
    spec.families.flatMap((family) =>
      spec.samples({ family, zone, count }).map((e, i) => ({
        ...e,
        mark: i * 1000 + 7,
        timeout: 300 + i,
        status: i % 2 === 0 ? ['SEEN_REPLY', 'ASSURED'] : [],
      })),
    ),
  );
}

/** The oracle arguments of an entry, by its protocol's spec. */
export function oracleArgsOf(entry: import('../conntrack/entry.ts').EntryInput): string[] {
  const spec = PROTOCOL_SPECS.find((s) => s.protocol === entry.protocol);
  if (!spec) throw new ValidationError('ERR_UNKNOWN_PROTOCOL', 'protocol', entry.protocol, `no protocol spec for ${entry.protocol}`);
  return spec.oracleArgs(entry);
}
