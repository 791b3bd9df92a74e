// The public API of conntrack-harness: the entry model, the client and oracle, namespaces, errors.
export * from './errors.ts';
export * from './conntrack/entry.ts';
export { canonicalAddress } from './conntrack/address.ts';
export { ConntrackCli, createArgs, parseExtendedLine, type ListFilter } from './conntrack/oracle.ts';
export { cliSystem, type ConntrackSystem, type DeleteResult } from './conntrack/system.ts';
export { execute, CommandError, type ExecuteOptions, type ExecuteResult } from './system/execute.ts';
export { Netns, destroyNetns } from './system/netns.ts';
export { sweep, type SweepReport } from './system/sweeper.ts';
export { readiness, basicChecks, type Check, type Readiness } from './system/prerequisites.ts';
export { assertNetnsName } from './system/names.ts';
