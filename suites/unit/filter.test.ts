// The filter language without a kernel: validation (unknown keys and bad values refused with stable
// codes) and the user-space predicate every dump passes through, on hand-made entries.
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import type { ConntrackEntry } from '../../harness/conntrack/entry.ts';
import { addressToBytes, bytesToAddress } from '../../harness/conntrack/address.ts';
import { compileFilter, normalizeFilter, type ConntrackFilter } from '../../harness/conntrack/filter.ts';
import { codeOf } from '../support/codes.ts';


const base: ConntrackEntry = {
  family: 'ipv4', protocol: 'udp', src: '198.51.100.7', dst: '203.0.113.1', sport: 1000, dport: 53, zone: 5,
  reply: { src: '203.0.113.1', dst: '198.51.100.7', sport: 53, dport: 1000 }, mark: 0x12ab, status: ['SEEN_REPLY', 'ASSURED', 'CONFIRMED'],
};
const matches = (filter: ConntrackFilter, entry: ConntrackEntry = base) => compileFilter(normalizeFilter(filter))(entry);

describe('normalizeFilter', () => {
  test.each<[string, unknown, string]>([
    ['unknown key', { zone: 1, colour: 'red' }, 'ERR_UNKNOWN_FILTER_KEY'],
    ['a typo of a known key', { zones: 1 }, 'ERR_UNKNOWN_FILTER_KEY'],
    ['not an object', 5, 'ERR_INVALID_FILTER'],
    ['an array', [], 'ERR_INVALID_FILTER'],
    ['zone out of range', { zone: 70000 }, 'ERR_INVALID_ZONE'],
    ['prefix too long', { src: '10.0.0.0/33' }, 'ERR_INVALID_ADDRESS'],
    ['prefix not a number', { src: '10.0.0.0/x' }, 'ERR_INVALID_ADDRESS'],
    ['families disagree', { src: '10.0.0.1', dst: '2001:db8::1' }, 'ERR_FAMILY_MISMATCH'],
    ['family contradicts address', { family: 'ipv6', src: '10.0.0.1' }, 'ERR_FAMILY_MISMATCH'],
    ['mark value outside its mask', { mark: { value: 0x12, mask: 0x0f } }, 'ERR_INVALID_FILTER'],
    ['mark with an extra key', { mark: { value: 1, mask: 1, bits: 2 } }, 'ERR_INVALID_FILTER'],
    ['mark negative', { mark: -1 }, 'ERR_INVALID_FILTER'],
    ['unknown status flag', { status: ['SOMETIMES'] }, 'ERR_INVALID_FILTER'],
    ['empty status', { status: [] }, 'ERR_INVALID_FILTER'],
    ['state of another protocol', { protocol: 'sctp', state: 'TIME_WAIT' }, 'ERR_INVALID_FILTER'],
    ['state of a stateless protocol', { protocol: 'udp', state: 'ESTABLISHED' }, 'ERR_INVALID_FILTER'],
    ['nat kind', { nat: 'both' }, 'ERR_INVALID_FILTER'],
    ['protocol 256', { protocol: 256 }, 'ERR_UNKNOWN_PROTOCOL'],
  ])('%s: %s', (_, filter, code) => {
    expect(codeOf(() => normalizeFilter(filter))).toBe(code);
  });

  test('protocol numbers with a name become the name; the family follows the addresses', () => {
    expect(normalizeFilter({ protocol: 17, src: '10.0.0.0/8' })).toMatchObject({ protocol: 'udp', family: 'ipv4' });
    expect(normalizeFilter({ protocol: 200 }).protocol).toBe(200);
  });
});

describe('the user-space predicate', () => {
  test.each<[ConntrackFilter, boolean]>([
    [{}, true],
    [{ zone: 5 }, true],
    [{ zone: 0 }, false],
    [{ src: '198.51.100.0/24' }, true],
    [{ src: '198.51.101.0/24' }, false],
    [{ src: '0.0.0.0/0' }, true],
    [{ dst: '203.0.113.1' }, true],
    [{ replySrc: '203.0.113.1', replyDst: '198.51.100.7' }, true],
    [{ replyDst: '198.51.100.8' }, false],
    [{ sport: 1000, dport: 53 }, true],
    [{ sport: 53 }, false],
    [{ mark: 0x12ab }, true],
    [{ mark: { value: 0x1200, mask: 0xff00 } }, true],
    [{ mark: { value: 0x1300, mask: 0xff00 } }, false],
    [{ status: ['ASSURED', 'SEEN_REPLY'] }, true],
    [{ status: ['FIXED_TIMEOUT'] }, false],
    [{ nat: 'any' }, false],
    [{ origZone: 0, replyZone: 0 }, true],
    [{ origZone: 5 }, false],
    [{ family: 'ipv6' }, false],
    [{ protocol: 'udp' }, true],
    [{ protocol: 200 }, false],
  ])('%j -> %s', (filter, want) => {
    expect(matches(filter)).toBe(want);
  });

  test('NAT by status flags, directional zones by their own field', () => {
    const snat = { ...base, status: [...base.status!, 'SRC_NAT'] };
    expect([matches({ nat: 'src' }, snat), matches({ nat: 'dst' }, snat), matches({ nat: 'any' }, snat)]).toEqual([true, false, true]);
    const directional = { ...base, zone: 0, origZone: 9 };
    expect([matches({ origZone: 9 }, directional), matches({ zone: 0 }, directional), matches({ zone: 9 }, directional)]).toEqual([true, true, false]);
  });

  test('property: an IPv6 prefix matches any host bits, and no address with a network bit flipped', () => {
    fc.assert(fc.property(fc.ipV6(), fc.integer({ min: 1, max: 128 }), fc.uint8Array({ minLength: 16, maxLength: 16 }), fc.boolean(),
      (a, bits, noise, flip) => {
        // b: a's network bits, random host bits; with `flip`, the last network bit inverted.
        const bytes = addressToBytes(a, 'ipv6');
        for (let bit = bits; bit < 128; bit++) {
          const mask = 0x80 >> (bit & 7);
          bytes[bit >> 3] = (bytes[bit >> 3]! & ~mask) | (noise[bit >> 3]! & mask);
        }
        if (flip) bytes[(bits - 1) >> 3] = bytes[(bits - 1) >> 3]! ^ (0x80 >> ((bits - 1) & 7));
        const entry = { ...base, family: 'ipv6' as const, src: bytesToAddress(bytes) };
        expect(matches({ src: `${a}/${bits}` }, entry)).toBe(!flip);
      }), { numRuns: 1000 });
  });
});
