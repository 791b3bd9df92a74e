// The public API of conntrack-harness: the client, the entry model, the oracle, namespaces, errors.
export * from './errors.ts';
export * from './conntrack/entry.ts';
export { canonicalAddress } from './conntrack/address.ts';
export { Conntrack, CreateError, kernelFiltersZones, type ConntrackOptions, type CreateResult } from './conntrack/client.ts';
export { crossCheck, type CrossCheckReport, type FieldDifference } from './conntrack/crosscheck.ts';
export { ConntrackCli, createArgs, parseExtendedLine, parseXml, type ListFilter } from './conntrack/oracle.ts';
export { cliSystem, type ConntrackSystem, type DeleteResult } from './conntrack/system.ts';
export { NetlinkDecodeError, NetlinkErrnoError, NetlinkSocketError, NetlinkTimeoutError } from './netlink/errors.ts';
export { execute, CommandError, type ExecuteOptions, type ExecuteResult } from './system/execute.ts';
export { Netns, destroyNetns } from './system/netns.ts';
export { sweep, type SweepReport } from './system/sweeper.ts';
export { readiness, basicChecks, type Check, type Readiness } from './system/prerequisites.ts';
export { assertNetnsName } from './system/names.ts';
export { PROTOCOL_SPECS, type ProtocolSpec, type GenericCase } from './protocols/index.ts';
