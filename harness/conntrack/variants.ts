// The implementations a suite can run against (the system under test), and the one `CTH_SUT`
// names. No vitest here: the conformance and bench scripts resolve a system outside a test run.
import { accessSync, constants, statSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { ValidationError } from '../errors.ts';
import { openAdapter } from './adapter.ts';
import { ConntrackClient } from './client.ts';
import { oracleImplementation, type ConntrackImplementation } from './implementation.ts';
import { ConntrackOracle } from './oracle.ts';

export interface ImplementationVariant {
  name: string;
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
  return { name, open: (netns) => openAdapter([path, ...args], netns) };
}

/**
 * The system under test that `CTH_SUT` names: `client` (the default), `cli`, or the path of an
 * adapter executable, run with the extra argv of `CTH_SUT_ARGS` (a JSON array of strings). A value
 * that names none of them throws here, when a test file is loaded, before any test runs.
 */
export function selectUnderTest(env: NodeJS.ProcessEnv = process.env): ImplementationVariant {
  const sut = env.CTH_SUT ?? '';
  const rawArgs = env.CTH_SUT_ARGS ?? '';
  const invalid = (field: string, value: unknown, why: string): never => {
    throw new ValidationError('ERR_INVALID_ARGUMENT', field, value, `${field}=${String(value)}: ${why}`);
  };
  let args: string[] = [];
  if (rawArgs !== '') {
    let parsed: unknown;
    try {
      parsed = JSON.parse(rawArgs);
    } catch {
      parsed = undefined;
    }
    if (!Array.isArray(parsed) || !parsed.every((a) => typeof a === 'string')) invalid('CTH_SUT_ARGS', rawArgs, 'must be a JSON array of strings, e.g. ["--break", "drop-zone-on-delete"]');
    args = parsed as string[];
  }
  if (sut === '' || sut === 'client' || sut === 'cli') {
    if (args.length > 0) invalid('CTH_SUT_ARGS', rawArgs, 'applies to an adapter only; CTH_SUT names none');
    return sut === 'cli' ? ORACLE_IMPLEMENTATION : CLIENT_IMPLEMENTATION;
  }
  const path = resolve(sut);
  const usage = 'give client, cli, or the path of an adapter executable (docs/adapters.md)';
  let isFile = false;
  try {
    isFile = statSync(path).isFile();
  } catch {
    invalid('CTH_SUT', sut, `no such file (${path}); ${usage}`);
  }
  if (!isFile) invalid('CTH_SUT', sut, `${path} is not a file; ${usage}`);
  try {
    accessSync(path, constants.X_OK);
  } catch {
    invalid('CTH_SUT', sut, `${path} is not executable (chmod +x it, with a #! line); ${usage}`);
  }
  return adapterImplementation(path, args);
}
