// The public API of conntrack-harness: the client, the entry model, the oracle, namespaces, errors.
export * from './errors.ts';
export * from './conntrack/entry.ts';
export { canonicalAddress } from './conntrack/address.ts';
export { ConntrackClient, type ConntrackClientOptions, type ConntrackStats, type CreateResult } from './conntrack/client.ts';
export type { CpuStats } from './conntrack/codec.ts';
export { EVENT_TYPES, EventStream, type ConntrackEvent, type EventOptions, type EventType } from './conntrack/events.ts';
export { kernelFilterSupport, kernelFiltersByVersion, probeKernelFilters, type KernelFilters, type KernelFilterSupport } from './conntrack/features.ts';
export {
  Expectations, type Expectation, type ExpectationCreateResult, type ExpectationDeleteResult, type ExpectationFilter,
  type ExpectationInput, type ExpectationKey,
} from './conntrack/expectations.ts';
export { FILTER_KEYS, normalizeFilter, type ConntrackFilter, type MarkMatch, type NatKind } from './conntrack/filter.ts';
export { crossCheck, type CrossCheckReport, type FieldDifference } from './conntrack/crosscheck.ts';
export { ConntrackOracle, createArgs, parseExtendedLine, parseXml } from './conntrack/oracle.ts';
export { oracleImplementation, type ConntrackImplementation, type DeleteResult, type UpdateResult } from './conntrack/implementation.ts';
export { execute, type ExecuteOptions, type ExecuteResult } from './os/execute.ts';
export { Netns, destroyNetns } from './os/netns.ts';
export { sweep, type SweepReport } from './os/session.ts';
export { readiness, basicChecks, type Check, type Readiness } from './os/prerequisites.ts';
export { assertNetnsName } from './os/names.ts';
export { PROTOCOL_SPECS, type ProtocolSpec, type GenericCase } from './protocols/index.ts';
export { Topology, TOPOLOGY_ADDRESSES, readSysctl, writeSysctl, type TopologyOptions, type Side } from './os/topology.ts';
export { ProcessGroup, OwnedProcess, type SpawnOptions } from './os/processes.ts';
export { waitFor, ready, notYet, type WaitOptions } from './os/wait.ts';
export { pingRecipe, tcpRecipe, udpRecipe, type TrafficRecipe, type TrafficFlow } from './protocols/traffic.ts';
export { runDoctor, formatReport, type DoctorReport } from './os/doctor.ts';
