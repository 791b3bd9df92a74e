// The kernel-version rule the client falls back on when its filter probe cannot run, and doctor's
// zone-filter line: tested at its edges, where a rule that compared minor numbers without the major
// would still pass on the 6.18 machine it was written on.
import { describe, expect, test } from 'vitest';
import { kernelFiltersByVersion } from '../../harness/conntrack/features.ts';
import { atLeast, kernelFiltersZones } from '../../harness/os/kernel.ts';

describe('atLeast', () => {
  test.each<[string, string, boolean]>([
    ['6.7.12', '6.8', false], ['6.8.0', '6.8', true], ['6.18.44-fc-v657', '6.8', true], ['7.0.1', '6.8', true],
    ['7.1.0', '6.8', true], ['10.0.0', '6.8', true], ['5.15.0-91-generic', '6.8', false], ['5.14.0-427.el9.x86_64', '5.15', false],
    ['5.15.0', '5.15', true], ['6.1.0-27-amd64', '5.8', true], ['5.7.19', '5.8', false], ['4.19.0', '5.8', false], ['garbage', '5.8', false],
  ])('%s >= %s: %s', (release, version, want) => {
    expect(atLeast(release, version)).toBe(want);
  });
});

describe('the fallback rule for kernel-side filters', () => {
  test.each<[string, { zone: boolean; status: boolean; tuple: boolean }]>([
    ['5.10.0-30-amd64', { zone: false, status: false, tuple: true }],
    ['5.14.0-427.el9.x86_64', { zone: false, status: false, tuple: true }],
    ['5.15.0-91-generic', { zone: false, status: true, tuple: true }],
    ['6.1.0-27-amd64', { zone: false, status: true, tuple: true }],
    ['6.7.0', { zone: false, status: true, tuple: true }],
    ['6.8.0-45-generic', { zone: true, status: true, tuple: true }],
    ['6.18.44', { zone: true, status: true, tuple: true }],
    ['7.0.0', { zone: true, status: true, tuple: true }],
    ['10.0.0', { zone: true, status: true, tuple: true }],
  ])('%s', (release, want) => {
    expect(kernelFiltersByVersion(release)).toEqual({ ...want, mark: true });
    expect(kernelFiltersZones(release)).toBe(want.zone);
  });
});
