// The public API of conntrack-harness: the client, the entry model, the oracle, namespaces, errors.
export * from './errors.ts';
export * from './conntrack/entry.ts';
export { canonicalAddress } from './conntrack/address.ts';
export { Conntrack, CreateError, type ConntrackOptions, type ConntrackStats, type CreateResult } from './conntrack/client.ts';
export type { CpuStats } from './conntrack/codec.ts';
export { EVENT_TYPES, EventStream, type ConntrackEvent, type EventOptions, type EventType } from './conntrack/events.ts';
export { kernelFilterSupport, kernelFiltersByVersion, probeKernelFilters, type KernelFilters, type KernelFilterSupport } from './conntrack/features.ts';
export {
  Expectations, type Expectation, type ExpectationCreateResult, type ExpectationDeleteResult, type ExpectationFilter,
  type ExpectationInput, type ExpectationKey,
} from './conntrack/expectations.ts';
export { FILTER_KEYS, normalizeFilter, type ConntrackFilter, type MarkMatch, type NatKind } from './conntrack/filter.ts';
export { crossCheck, type CrossCheckReport, type FieldDifference } from './conntrack/crosscheck.ts';
export { ConntrackCli, createArgs, parseExtendedLine, parseXml } from './conntrack/oracle.ts';
export { cliSystem, type ConntrackSystem, type DeleteResult, type UpdateResult } from './conntrack/system.ts';
export { NetlinkAbortError, NetlinkDecodeError, NetlinkErrnoError, NetlinkSocketError, NetlinkTimeoutError } from './netlink/errors.ts';
export { execute, CommandError, type ExecuteOptions, type ExecuteResult } from './system/execute.ts';
export { Netns, destroyNetns } from './system/netns.ts';
export { sweep, type SweepReport } from './system/sweeper.ts';
export { readiness, basicChecks, type Check, type Readiness } from './system/prerequisites.ts';
export { assertNetnsName } from './system/names.ts';
export { PROTOCOL_SPECS, type ProtocolSpec, type GenericCase } from './protocols/index.ts';
export { Topology, TOPOLOGY_ADDRESSES, readSysctl, writeSysctl, type TopologyOptions, type Side } from './system/topology.ts';
export { ProcessGroup, OwnedProcess, type SpawnOptions } from './system/processes.ts';
export { waitFor, ready, notYet, WaitTimeoutError, type WaitOptions } from './system/wait.ts';
export { pingRecipe, tcpRecipe, udpRecipe, type TrafficRecipe, type TrafficFlow } from './protocols/traffic.ts';
export { runDoctor, formatReport, type DoctorReport } from './system/doctor.ts';
