// The ctnetlink codec without a kernel: decoding of real dump bytes captured from Linux 6.18,
// property tests (random entries encode -> decode; random and corrupted bytes give only typed
// decode errors), and the shape of delete and dump requests.
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { decodeEntry, encodeCreate, encodeDelete, encodeDump } from '../../harness/conntrack/codec.ts';
import { keyOf, normalizeKey, type EntryInput } from '../../harness/conntrack/entry.ts';
import { NLA_F_NESTED } from '../../harness/netlink/constants.ts';
import { CTA_PROTOINFO, CTA_PROTOINFO_DCCP, DCCP_STATES } from '../../harness/conntrack/constants.ts';
import { tlv, u8 } from '../support/tlv.ts';
import { NetlinkDecodeError } from '../../harness/errors.ts';
import { NetlinkMessage, parseMessages } from '../../harness/netlink/message.ts';

const capture = JSON.parse(readFileSync(new URL('./fixtures/ctnetlink-dump-linux-6.18.json', import.meta.url), 'utf8')) as { messages: string[] };

function asMessage(buf: Buffer): NetlinkMessage {
  return new NetlinkMessage(buf, 0, buf.length);
}

describe('decoding a real dump captured from the kernel', () => {
  const entries = capture.messages.map((hex) => decodeEntry(asMessage(Buffer.from(hex, 'hex'))));

  test('every message decodes', () => {
    expect(entries).toHaveLength(6);
    expect(entries.every((e) => e !== undefined)).toBe(true);
  });

  test('ICMP echo with its reply type, zone and id', () => {
    expect(entries.find((e) => e?.protocol === 'icmp')).toMatchObject({
      family: 'ipv4', src: '1.1.1.1', dst: '2.2.2.2', icmpType: 8, icmpCode: 0, icmpId: 3333, zone: 5,
      reply: { src: '2.2.2.2', dst: '1.1.1.1', icmpType: 0, icmpCode: 0, icmpId: 3333 },
      status: ['CONFIRMED'], mark: 0,
    });
  });

  test('TCP state, IPv6 UDP with a mark, ICMPv6 in zone 0, SCTP state, GRE keys', () => {
    expect(entries.find((e) => e?.protocol === 'tcp')).toMatchObject({ sport: 1, dport: 2, state: 'ESTABLISHED', zone: 5 });
    expect(entries.find((e) => e?.protocol === 'udp')).toMatchObject({
      family: 'ipv6', src: '2001:db8::1', dst: '2001:db8::2', sport: 4, dport: 5, mark: 42,
    });
    expect(entries.find((e) => e?.protocol === 'icmpv6')).toMatchObject({ icmpType: 128, icmpId: 7, zone: 0, reply: { icmpType: 129 } });
    expect(entries.find((e) => e?.protocol === 'sctp')).toMatchObject({ state: 'ESTABLISHED', sport: 7, dport: 8 });
    expect(entries.find((e) => e?.protocol === 'gre')).toMatchObject({ sport: 9, dport: 10 });
    for (const e of entries) expect(typeof e?.id).toBe('number');
  });
});

const ipv4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((p) => p.join('.'));
const ipv6 = fc.ipV6();
const port = fc.integer({ min: 1, max: 65535 });
const zone = fc.integer({ min: 0, max: 65535 });

const entryArb: fc.Arbitrary<EntryInput> = fc.oneof(
  fc.record({
    protocol: fc.constantFrom('tcp', 'udp', 'sctp', 'udplite', 'dccp' as const),
    v6: fc.boolean(), a4: ipv4, b4: ipv4, a6: ipv6, b6: ipv6, sport: port, dport: port, zone,
    timeout: fc.integer({ min: 1, max: 1_000_000 }), mark: fc.nat(),
  }).map(({ v6, a4, b4, a6, b6, ...r }) => ({ ...r, src: v6 ? a6 : a4, dst: v6 ? b6 : b4 })),
  fc.record({
    src: ipv4, dst: ipv4, zone, icmpType: fc.constantFrom(0, 8, 13, 14, 15, 16, 17, 18), icmpCode: fc.nat(255), icmpId: fc.nat(65535),
  }).map((r) => ({ ...r, protocol: 'icmp' as const })),
  fc.record({
    src: ipv6, dst: ipv6, zone, icmpType: fc.constantFrom(128, 129, 139, 140), icmpCode: fc.nat(255), icmpId: fc.nat(65535),
  }).map((r) => ({ ...r, protocol: 'icmpv6' as const })),
  fc.record({ src: ipv4, dst: ipv4, sport: fc.nat(65535), dport: fc.nat(65535), zone }).map((r) => ({ ...r, protocol: 'gre' as const })),
);

describe('property: encode then decode', () => {
  test('a created entry decodes to the same key, reply tuple, timeout and mark', () => {
    fc.assert(
      fc.property(entryArb, (input) => {
        const key = normalizeKey(input);
        const decoded = decodeEntry(asMessage(encodeCreate(key, input, 1)));
        expect(keyOf(decoded)).toEqual(key);
        expect(decoded?.reply?.src).toBe(key.dst);
        expect(decoded?.timeout).toBe(input.timeout ?? 120);
        if (input.mark !== undefined) expect(decoded?.mark).toBe(input.mark);
        if (['tcp', 'sctp', 'dccp'].includes(String(key.protocol))) expect(decoded?.state).toBeDefined();
      }),
      { numRuns: 2000 },
    );
  });

  test('every nest of a request carries NLA_F_NESTED', () => {
    const msg = encodeDelete(normalizeKey({ protocol: 'udp', src: '1.1.1.1', dst: '2.2.2.2', sport: 1, dport: 2, zone: 3 }), 9);
    // nlmsghdr(16) + nfgenmsg(4), then CTA_TUPLE_ORIG (nested) whose first child is CTA_TUPLE_IP (nested).
    expect(msg.readUInt16LE(22) & NLA_F_NESTED).toBe(NLA_F_NESTED);
    expect(msg.readUInt16LE(26) & NLA_F_NESTED).toBe(NLA_F_NESTED);
    const [parsed] = parseMessages(msg);
    expect(parsed?.seq).toBe(9);
  });

  test('a dump request carries CTA_ZONE only when asked', () => {
    expect(encodeDump(1, {}).length).toBe(20);
    expect(encodeDump(1, { zone: 7 }).length).toBe(28);
  });
});

describe('property: hostile bytes', () => {
  const valid = capture.messages.map((hex) => Buffer.from(hex, 'hex'));

  function onlyDecodeErrors(buf: Buffer) {
    try {
      if (buf.length < 16) return;
      const len = Math.min(buf.readUInt32LE(0), buf.length);
      if (len < 16) return;
      decodeEntry(new NetlinkMessage(buf, 0, len));
    } catch (error) {
      if (!(error instanceof NetlinkDecodeError)) throw error;
    }
  }

  test('random buffers', () => {
    fc.assert(fc.property(fc.uint8Array({ minLength: 16, maxLength: 400 }), (bytes) => onlyDecodeErrors(Buffer.from(bytes))), { numRuns: 10_000 });
  });

  test('truncated and corrupted captured messages', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...valid), fc.nat(), fc.array(fc.tuple(fc.nat(), fc.nat(255)), { maxLength: 8 }),
        (orig, cut, flips) => {
          const buf = Buffer.from(orig.subarray(0, 16 + (cut % (orig.length - 15))));
          for (const [at, value] of flips) buf[at % buf.length] = value;
          buf.writeUInt32LE(buf.length, 0);
          onlyDecodeErrors(buf);
        },
      ),
      { numRuns: 10_000 },
    );
  });
});

describe('generic protocols, directional zones and labels', () => {
  test('property: any protocol number round-trips; generic ones carry addresses only', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 255 }).filter((n) => ![1, 6, 17, 33, 47, 58, 132, 136].includes(n)), fc.boolean(), ipv4, ipv4, ipv6, ipv6,
        (protocol, v6, a4, b4, a6, b6) => {
          const key = normalizeKey({ protocol, src: v6 ? a6 : a4, dst: v6 ? b6 : b4 });
          const decoded = decodeEntry(asMessage(encodeCreate(key, key, 1)));
          expect(keyOf(decoded)).toEqual(key);
          expect(decoded.reply).toEqual({ src: key.dst, dst: key.src });
          expect(decoded.sport).toBeUndefined();
        }),
      { numRuns: 500 },
    );
  });

  test('a directional zone goes into its tuple and comes back; labels are bit numbers', () => {
    const input: EntryInput = { protocol: 'udp', src: '1.1.1.1', dst: '2.2.2.2', sport: 1, dport: 2, origZone: 9, labels: [0, 9, 70, 127] };
    const key = normalizeKey(input);
    const decoded = decodeEntry(asMessage(encodeCreate(key, input, 1)));
    expect(decoded).toMatchObject({ zone: 0, origZone: 9, labels: [0, 9, 70, 127] });
    expect(decoded.replyZone).toBeUndefined();
    const reply = normalizeKey({ ...input, origZone: undefined, replyZone: 4 });
    expect(decodeEntry(asMessage(encodeCreate(reply, { ...input, origZone: undefined, replyZone: 4 }, 2)))).toMatchObject({ zone: 0, replyZone: 4 });
  });
});

describe('protocol info on create', () => {
  test('a DCCP state goes with a role (the client), which a DCCP tracker requires (EINVAL without it)', () => {
    const key = normalizeKey({ protocol: 'dccp', src: '10.0.0.1', dst: '10.0.0.2', sport: 1, dport: 2, zone: 0 });
    const msg = encodeCreate(key, { ...key, state: 'OPEN' }, 1);
    // Built by hand: CTA_PROTOINFO { CTA_PROTOINFO_DCCP { STATE = OPEN (4), ROLE = CLIENT (0) } }.
    const expected = tlv(CTA_PROTOINFO | NLA_F_NESTED, tlv(CTA_PROTOINFO_DCCP | NLA_F_NESTED, Buffer.concat([u8(1, DCCP_STATES.indexOf('OPEN')), u8(2, 0)])));
    expect(msg.indexOf(expected)).toBeGreaterThan(0);
    expect(decodeEntry(asMessage(msg))?.state).toBe('OPEN');
  });
});
