// Validation of entries before any kernel call: every bad input gets a ValidationError with a
// stable code; good input is normalized (canonical addresses, family inferred, zone 0 default).
import { describe, expect, test } from 'vitest';
import { addressToBytes, bytesToAddress, canonicalAddress } from '../../harness/conntrack/address.ts';
import { normalizeKey, type EntryInput } from '../../harness/conntrack/entry.ts';
import { assertNetnsName } from '../../harness/os/names.ts';
import { codeOf } from '../support/codes.ts';

const udp = { protocol: 'udp', src: '1.1.1.1', dst: '2.2.2.2', sport: 4, dport: 5 } as const;


describe('normalizeKey', () => {
  test('infers the family, defaults the zone, canonicalizes IPv6', () => {
    expect(normalizeKey(udp)).toEqual({ ...udp, family: 'ipv4', zone: 0 });
    const v6 = normalizeKey({ protocol: 'tcp', src: '2001:0DB8:0:0:0:0:0:0001', dst: '2001:db8::2', sport: 1, dport: 2, zone: 7 });
    expect(v6.src).toBe('2001:db8::1');
    expect(v6.family).toBe('ipv6');
  });

  test.each<[string, Partial<EntryInput> & Record<string, unknown>, string]>([
    ['invalid address', { src: '1.1.1.256' }, 'ERR_INVALID_ADDRESS'],
    ['hostname', { dst: 'localhost' }, 'ERR_INVALID_ADDRESS'],
    ['mixed families', { dst: '2001:db8::2' }, 'ERR_FAMILY_MISMATCH'],
    ['family contradicts address', { family: 'ipv6' }, 'ERR_FAMILY_MISMATCH'],
    ['port 0', { sport: 0 }, 'ERR_INVALID_PORT'],
    ['port 65536', { dport: 65536 }, 'ERR_INVALID_PORT'],
    ['port -1', { sport: -1 }, 'ERR_INVALID_PORT'],
    ['port NaN', { sport: Number.NaN }, 'ERR_INVALID_PORT'],
    ['port 1.5', { sport: 1.5 }, 'ERR_INVALID_PORT'],
    ['port as string', { sport: '80' as unknown as number }, 'ERR_INVALID_PORT'],
    ['zone 65536', { zone: 65536 }, 'ERR_INVALID_ZONE'],
    ['zone -1', { zone: -1 }, 'ERR_INVALID_ZONE'],
    ['unknown protocol', { protocol: 'quic' as 'udp' }, 'ERR_UNKNOWN_PROTOCOL'],
    ['protocol of another family', { protocol: 'icmpv6', icmpType: 128 }, 'ERR_FAMILY_MISMATCH'],
  ])('%s', (_name, patch, code) => {
    expect(codeOf(() => normalizeKey({ ...udp, ...patch } as EntryInput))).toBe(code);
  });

  test('ICMP types without a reply type are refused', () => {
    const icmp = { protocol: 'icmp', src: '1.1.1.1', dst: '2.2.2.2', icmpId: 1, icmpCode: 0 } as const;
    expect(codeOf(() => normalizeKey({ ...icmp, icmpType: 3 }))).toBe('ERR_INVALID_ICMP');
    expect(codeOf(() => normalizeKey({ ...icmp, icmpType: 256 }))).toBe('ERR_INVALID_ICMP');
    expect(normalizeKey({ ...icmp, icmpType: 8 }).icmpType).toBe(8);
    const v6 = { protocol: 'icmpv6', src: '::1', dst: '::2', icmpId: 1 } as const;
    expect(codeOf(() => normalizeKey({ ...v6, icmpType: 1 }))).toBe('ERR_INVALID_ICMP');
    expect(normalizeKey({ ...v6, icmpType: 128 }).icmpCode).toBe(0);
  });

  test('non-objects are refused', () => {
    expect(codeOf(() => normalizeKey(null as unknown as EntryInput))).toBe('ERR_INVALID_ENTRY');
  });
});

describe('namespace names', () => {
  test.each(['a/b', '..', '../x', 'has space', 'x'.repeat(200), '', 'UPPER', '-lead', 'a.b'])('refuses %j', (name) => {
    expect(codeOf(() => assertNetnsName(name))).toBe('ERR_INVALID_NETNS_NAME');
  });
  test('accepts harness names', () => {
    expect(assertNetnsName('cth-abc123-0f0f0f0f')).toBe('cth-abc123-0f0f0f0f');
  });
});

describe('addresses', () => {
  test.each([
    ['::', '::'], ['::1', '::1'], ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'], ['fe80:0:0:0:0:0:0:0', 'fe80::'],
    ['2001:db8:1:2:3:4:5:6', '2001:db8:1:2:3:4:5:6'], ['0:0:1:0:0:0:0:1', '0:0:1::1'],
  ])('%s -> %s', (input, canonical) => {
    expect(canonicalAddress(input)).toBe(canonical);
    expect(bytesToAddress(addressToBytes(input, 'ipv6'))).toBe(canonical);
  });
  test('IPv4 round trip', () => {
    expect(bytesToAddress(addressToBytes('10.0.255.1', 'ipv4'))).toBe('10.0.255.1');
  });
});
