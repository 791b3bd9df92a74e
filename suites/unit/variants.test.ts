// Naming a system (CTH_SUT, conformance --sut, bench --systems): every name resolves to one variant
// or is refused with ERR_INVALID_ARGUMENT before anything runs.
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import {
  CLIENT_IMPLEMENTATION, ORACLE_IMPLEMENTATION, REFERENCE_ADAPTERS, selectUnderTest, implementationVariant,
} from '../../harness/conntrack/variants.ts';
import { isHarnessError } from '../../harness/errors.ts';
import { scratchDir } from '../support/scratch.ts';

/** The message of the ERR_INVALID_ARGUMENT `fn` throws (the test fails on anything else). */
function refusal(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    expect(isHarnessError(error, 'ERR_INVALID_ARGUMENT'), String(error)).toBe(true);
    return (error as Error).message;
  }
  throw new Error('expected ERR_INVALID_ARGUMENT, nothing was thrown');
}

describe('implementationVariant', () => {
  test('client and cli are the two built-in variants', () => {
    expect(implementationVariant('client')).toBe(CLIENT_IMPLEMENTATION);
    expect(implementationVariant('cli')).toBe(ORACLE_IMPLEMENTATION);
    expect(CLIENT_IMPLEMENTATION.argv).toBeUndefined();
  });

  test('a reference adapter by name is its adapter.py, named by its directory', () => {
    for (const [name, path] of Object.entries(REFERENCE_ADAPTERS)) {
      const variant = implementationVariant(name, ['--x']);
      expect(variant.name).toBe(name);
      expect(variant.argv).toEqual([path, '--x']);
      expect(path.endsWith(`/adapters/${name}/adapter.py`)).toBe(true);
    }
  });

  test('a path is an adapter named by its file', () => {
    const dir = scratchDir('cth-variants-');
    const file = join(dir, 'my-adapter.sh');
    writeFileSync(file, '#!/bin/sh\n');
    chmodSync(file, 0o755);
    expect(implementationVariant(file)).toMatchObject({ name: 'my-adapter.sh', argv: [file] });
  });

  test('what names nothing is refused, naming the option it came from', () => {
    const dir = scratchDir('cth-variants-');
    const plain = join(dir, 'not-executable');
    writeFileSync(plain, '');
    expect(refusal(() => implementationVariant('nope', [], '--sut'))).toMatch(/^--sut=nope: no such file/);
    expect(refusal(() => implementationVariant(dir, [], '--systems'))).toMatch(/is not a file/);
    expect(refusal(() => implementationVariant(plain))).toMatch(/is not executable/);
    expect(refusal(() => implementationVariant('client', ['--api', 'conntrack']))).toMatch(/takes no adapter arguments/);
  });
});

describe('selectUnderTest', () => {
  test('unset is the client; CTH_SUT and CTH_SUT_ARGS choose an adapter', () => {
    expect(selectUnderTest({})).toBe(CLIENT_IMPLEMENTATION);
    expect(selectUnderTest({ CTH_SUT: 'cli' })).toBe(ORACLE_IMPLEMENTATION);
    expect(selectUnderTest({ CTH_SUT: 'pyroute2', CTH_SUT_ARGS: '["--api","conntrack"]' }).argv)
      .toEqual([REFERENCE_ADAPTERS.pyroute2, '--api', 'conntrack']);
  });

  test('bad CTH_SUT or CTH_SUT_ARGS is refused', () => {
    expect(refusal(() => selectUnderTest({ CTH_SUT: './no/such/adapter' }))).toMatch(/^CTH_SUT=\.\/no\/such\/adapter: no such file/);
    expect(refusal(() => selectUnderTest({ CTH_SUT: 'pyroute2', CTH_SUT_ARGS: '--api' }))).toMatch(/must be a JSON array of strings/);
    expect(refusal(() => selectUnderTest({ CTH_SUT_ARGS: '["--x"]' }))).toMatch(/^CTH_SUT=client: takes no adapter arguments/);
  });
});
