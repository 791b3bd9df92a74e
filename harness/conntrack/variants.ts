// The implementations a suite can run against (the system under test), and the one `CTH_SUT`
// names. No vitest here: the conformance and bench scripts resolve a system outside a test run.
import { accessSync, constants, statSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ValidationError } from '../errors.ts';
import { packageVersion } from '../os/doctor.ts';
import { Netns } from '../os/netns.ts';
import { openAdapter, type AdapterHello } from './adapter.ts';
import { ConntrackClient } from './client.ts';
import { oracleImplementation, type ConntrackImplementation } from './implementation.ts';
import { ConntrackOracle, conntrackToolsVersion } from './oracle.ts';

export interface ImplementationVariant {
  name: string;
  /** An adapter's command (path and arguments); absent for the client and the CLI. */
  argv?: readonly string[];
  open(netns: string): Promise<ConntrackImplementation & { close?(): void | Promise<void> }>;
}

/** The CLI: what it cannot express (-U in a zone, selecting by GRE key) throws ERR_ORACLE_UNSUPPORTED, which skips the case. */
export const ORACLE_IMPLEMENTATION: ImplementationVariant = {
  name: 'conntrack-cli',
  open: async (netns) => oracleImplementation(new ConntrackOracle({ netns })),
};

/** The project's own ctnetlink client: the system under test. */
export const CLIENT_IMPLEMENTATION: ImplementationVariant = {
  name: 'client',
  open: (netns) => ConntrackClient.open({ netns }),
};

/** Every implementation: the seed suite runs against each (the oracle checks itself there). */
export const IMPLEMENTATIONS: ImplementationVariant[] = [CLIENT_IMPLEMENTATION, ORACLE_IMPLEMENTATION];

/**
 * An adapter executable (docs/adapters.md) as a variant, one process per test. Its name is the
 * file name (the directory's for `adapter.*`): suite names are fixed before any adapter says hello.
 */
export function adapterImplementation(path: string, args: readonly string[] = []): ImplementationVariant {
  // adapters/<name>/adapter.py is named by its directory: the file name says nothing.
  const name = /^adapter(\.\w+)?$/.test(basename(path)) ? basename(dirname(path)) : basename(path);
  const argv = [path, ...args];
  return { name, argv, open: (netns) => openAdapter(argv, netns) };
}

/** The reference adapters (docs/adapters.md), by the name a user gives them. */
export const REFERENCE_ADAPTERS: Readonly<Record<string, string>> = {
  'nfct-ctypes': fileURLToPath(new URL('../../adapters/nfct-ctypes/adapter.py', import.meta.url)),
  pyroute2: fileURLToPath(new URL('../../adapters/pyroute2/adapter.py', import.meta.url)),
};

/**
 * The system a user names (`CTH_SUT`, conformance's `--sut`, the bench's `--systems`): `client`,
 * `cli`, a reference adapter's name, or the path of an adapter executable, which gets `args`. A
 * name that is none of them throws ERR_INVALID_ARGUMENT naming `field`, before anything runs.
 */
export function implementationVariant(name: string, args: readonly string[] = [], field = 'system'): ImplementationVariant {
  const invalid = (why: string): never => {
    throw new ValidationError('ERR_INVALID_ARGUMENT', field, name, `${field}=${name}: ${why}`);
  };
  if (name === 'client' || name === 'cli') {
    if (args.length > 0) invalid('takes no adapter arguments (they apply to an adapter only)');
    return name === 'cli' ? ORACLE_IMPLEMENTATION : CLIENT_IMPLEMENTATION;
  }
  const path = Object.hasOwn(REFERENCE_ADAPTERS, name) ? REFERENCE_ADAPTERS[name]! : resolve(name);
  const usage = `give client, cli, ${Object.keys(REFERENCE_ADAPTERS).join(', ')} or the path of an adapter executable (docs/adapters.md)`;
  let isFile = false;
  try {
    isFile = statSync(path).isFile();
  } catch {
    invalid(`no such file (${path}); ${usage}`);
  }
  if (!isFile) invalid(`${path} is not a file; ${usage}`);
  try {
    accessSync(path, constants.X_OK);
  } catch {
    invalid(`${path} is not executable (chmod +x it, with a #! line); ${usage}`);
  }
  return adapterImplementation(path, args);
}

/**
 * The system under test that `CTH_SUT` names (implementationVariant; unset is the client), an adapter
 * run with the extra argv of `CTH_SUT_ARGS` (a JSON array of strings). A bad value throws here,
 * when a test file is loaded, before any test runs.
 */
export function selectUnderTest(env: NodeJS.ProcessEnv = process.env): ImplementationVariant {
  return implementationVariant(env.CTH_SUT || 'client', parseAdapterArgs(env.CTH_SUT_ARGS, 'CTH_SUT_ARGS'), 'CTH_SUT');
}

/** An adapter's extra argv given as a JSON array of strings (`CTH_SUT_ARGS`, `--args`); none when unset or empty. */
export function parseAdapterArgs(raw: string | undefined, field: string): string[] {
  if (raw === undefined || raw === '') return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    parsed = undefined;
  }
  if (!Array.isArray(parsed) || !parsed.every((a) => typeof a === 'string')) {
    throw new ValidationError('ERR_INVALID_ARGUMENT', field, raw, `${field}=${raw}: must be a JSON array of strings, e.g. ["--break", "drop-zone-on-delete"]`);
  }
  return parsed as string[];
}

/**
 * What an implementation says it is: `conntrack-harness 0.1.0`, `conntrack-tools 1.4.7`, or an
 * adapter's hello version (from `hello` when it is open already, else started once in a namespace
 * of its own).
 */
export async function implementationVersion(variant: ImplementationVariant, hello?: AdapterHello): Promise<string> {
  if (variant === CLIENT_IMPLEMENTATION) return `conntrack-harness ${packageVersion()}`;
  if (variant === ORACLE_IMPLEMENTATION) return `conntrack-tools ${await conntrackToolsVersion()}`;
  if (hello) return hello.version;
  await using ns = await Netns.create();
  await using adapter = await openAdapter(variant.argv ?? [], ns.name);
  return adapter.hello?.version ?? variant.name;
}

/** Opens `variant` inside `netns` for `use`, and closes it after, pass or fail (a fixture's body). */
export async function useImplementation(variant: ImplementationVariant, netns: string, use: (implementation: ConntrackImplementation) => Promise<void>) {
  const implementation = await variant.open(netns);
  try {
    await use(implementation);
  } finally {
    // An adapter's close() kills its process and waits until it is gone.
    await implementation.close?.();
  }
}
