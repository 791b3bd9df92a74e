// Unprivileged tests of the netlink codec: attribute and message round trips, ACK/ERROR decoding,
// and property tests proving malformed bytes can only ever raise NetlinkDecodeError.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isHarnessError } from '../../harness/errors.ts';
import {
  attrBytes,
  attrFlag,
  attrNest,
  attrString,
  attrsByType,
  attrU16be,
  attrU32be,
  attrU64be,
  attrU8,
  decodeDone,
  decodeError,
  encodeMessage,
  encodeNfMessage,
  errnoName,
  forEachMessage,
  iterateAttrs,
  NetlinkDecodeError,
  type NetlinkMessage,
  nestedByType,
  NLA_F_NESTED,
  NLA_F_NET_BYTEORDER,
  NLM_F_ACK,
  NLM_F_ACK_TLVS,
  NLM_F_CAPPED,
  NLM_F_DUMP,
  NLM_F_MULTI,
  NLM_F_REQUEST,
  NLMSG_DONE,
  NLMSG_ERROR,
  NLMSGERR_ATTR_MISS_TYPE,
  NLMSGERR_ATTR_MSG,
  NLMSGERR_ATTR_OFFS,
  parseMessages,
  readString,
  readU16be,
  readU32be,
  readU64be,
  readU8,
} from '../../harness/netlink/index.ts';

/** A raw attribute header + payload, with whatever type bits the test wants. */
function rawAttr(rawType: number, payload: Uint8Array, lenOverride?: number): Buffer {
  const len = 4 + payload.length;
  const buf = Buffer.alloc((len + 3) & ~3);
  buf.writeUInt16LE(lenOverride ?? len, 0);
  buf.writeUInt16LE(rawType, 2);
  buf.set(payload, 4);
  return buf;
}

function u32le(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n, 0);
  return b;
}

function i32le(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeInt32LE(n, 0);
  return b;
}

function expectDecodeError(fn: () => unknown, offset?: number): NetlinkDecodeError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(NetlinkDecodeError);
    const e = error as NetlinkDecodeError;
    expect(e.code).toBe('ERR_NETLINK_DECODE');
    expect(e.name).toBe('NetlinkDecodeError');
    if (offset !== undefined) expect(e.offset).toBe(offset);
    return e;
  }
  throw new Error('expected a NetlinkDecodeError');
}

describe('attribute encoders', () => {
  it('encode every integer width in network byte order, padded with zeros to 4 bytes', () => {
    expect(attrU8(1, 0xab)).toEqual(Buffer.from([5, 0, 1, 0, 0xab, 0, 0, 0]));
    expect(attrU16be(2, 0x1234)).toEqual(Buffer.from([6, 0, 2, 0, 0x12, 0x34, 0, 0]));
    expect(attrU32be(3, 0xdeadbeef)).toEqual(Buffer.from([8, 0, 3, 0, 0xde, 0xad, 0xbe, 0xef]));
    expect(attrU64be(4, 0x0102030405060708n)).toEqual(Buffer.from([12, 0, 4, 0, 1, 2, 3, 4, 5, 6, 7, 8]));
    expect(attrU64be(4, 0xffffffffffffffffn).subarray(4)).toEqual(Buffer.alloc(8, 0xff));
    expect(attrU64be(4, 513)).toEqual(attrU64be(4, 513n));
  });

  it('encode strings NUL-terminated, bytes verbatim, flags empty', () => {
    expect(attrString(5, 'abc')).toEqual(Buffer.from([8, 0, 5, 0, 0x61, 0x62, 0x63, 0]));
    expect(attrString(5, 'abcd')).toEqual(Buffer.from([9, 0, 5, 0, 0x61, 0x62, 0x63, 0x64, 0, 0, 0, 0]));
    expect(attrBytes(6, new Uint8Array([9, 8, 7, 6, 5]))).toEqual(Buffer.from([9, 0, 6, 0, 9, 8, 7, 6, 5, 0, 0, 0]));
    expect(attrFlag(7)).toEqual(Buffer.from([4, 0, 7, 0]));
  });

  it('always set NLA_F_NESTED on a nest, whose length covers the padded children', () => {
    const nest = attrNest(3, [attrU8(1, 7), attrU16be(2, 9)]);
    expect(nest.readUInt16LE(2)).toBe(3 | NLA_F_NESTED);
    expect(nest.readUInt16LE(0)).toBe(4 + 8 + 8);
    expect(nest.length).toBe(20);
    expect(attrNest(3, []).readUInt16LE(2)).toBe(3 | NLA_F_NESTED);
    // a child without padding is padded in place
    const odd = attrNest(1, [Buffer.from([5, 0, 1, 0, 0xff])]);
    expect(odd).toEqual(Buffer.from([12, 0, 1, 0x80, 5, 0, 1, 0, 0xff, 0, 0, 0]));
  });

  it('refuse out-of-range types and values with a ValidationError', () => {
    for (const fn of [
      () => attrU8(1, 256), () => attrU8(1, -1), () => attrU16be(1, 0x10000), () => attrU32be(1, 2 ** 32),
      () => attrU32be(1, 1.5), () => attrU64be(1, -1n), () => attrU64be(1, 2n ** 64n), () => attrU64be(1, 2 ** 60),
      () => attrU8(0x10000, 1), () => attrNest(-1, []), () => attrNest(1.5, []), () => attrBytes(1, new Uint8Array(0xfffc)),
    ]) {
      expect(fn).toThrow(expect.objectContaining({ name: 'ValidationError', code: 'ERR_INVALID_ARGUMENT' }));
    }
    expect(attrBytes(1, new Uint8Array(0xfffb)).readUInt16LE(0)).toBe(0xffff);
  });
});

describe('attribute decoders', () => {
  it('round-trip every encoder and hand out views, not copies', () => {
    const buf = Buffer.concat([
      attrU8(1, 200), attrU16be(2, 65535), attrU32be(3, 4294967295), attrU64be(4, 2n ** 63n + 5n),
      attrString(5, 'héllo'), attrBytes(6, Buffer.from([1, 2, 3])), attrFlag(7),
    ]);
    const attrs = [...iterateAttrs(buf)];
    expect(attrs.map((a) => a.type)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(readU8(attrs[0]!.value)).toBe(200);
    expect(readU16be(attrs[1]!.value)).toBe(65535);
    expect(readU32be(attrs[2]!.value)).toBe(4294967295);
    expect(readU64be(attrs[3]!.value)).toBe(2n ** 63n + 5n);
    expect(readString(attrs[4]!.value)).toBe('héllo');
    expect([...attrs[5]!.value]).toEqual([1, 2, 3]);
    expect(attrs[6]!.value.length).toBe(0);
    expect(attrs[0]!.value.buffer).toBe(buf.buffer);
    expect(attrs.map((a) => a.offset)).toEqual([0, 8, 16, 24, 36, 48, 56]);
  });

  it('mask the type and report the nested / byte-order flags', () => {
    const buf = Buffer.concat([rawAttr(NLA_F_NESTED | 9, attrU8(1, 1)), rawAttr(NLA_F_NET_BYTEORDER | 0x3fff, Buffer.alloc(4))]);
    const [a, b] = [...iterateAttrs(buf)];
    expect(a).toMatchObject({ type: 9, nested: true, netByteOrder: false });
    expect(b).toMatchObject({ type: 0x3fff, nested: false, netByteOrder: true });
    expect(readU8([...iterateAttrs(a!.value)][0]!.value)).toBe(1);
  });

  it('attrsByType: last one wins, types above maxType are skipped, region bounds respected', () => {
    const buf = Buffer.concat([attrU8(1, 1), attrU8(2, 2), attrU8(1, 3), attrU8(9, 9), attrNest(3, [attrU32be(1, 42)])]);
    const t = attrsByType(buf, 0, buf.length, 3);
    expect(t.length).toBe(4);
    expect(t[0]).toBeUndefined();
    expect(readU8(t[1]!)).toBe(3);
    expect(readU8(t[2]!)).toBe(2);
    expect(readU32be(nestedByType(t[3]!, 1)[1]!)).toBe(42);
    const only = attrsByType(buf, 8, 16, 3);
    expect(only[1]).toBeUndefined();
    expect(readU8(only[2]!)).toBe(2);
  });

  it('tolerate a missing pad after the last attribute of a region', () => {
    const buf = attrU8(1, 5).subarray(0, 5);
    expect(readU8([...iterateAttrs(buf)][0]!.value)).toBe(5);
  });

  it('throw NetlinkDecodeError with the offset for malformed attributes', () => {
    const good = attrU32be(1, 1);
    expectDecodeError(() => [...iterateAttrs(Buffer.concat([good, Buffer.from([8, 0])]))], 8);
    expectDecodeError(() => [...iterateAttrs(Buffer.concat([good, rawAttr(1, Buffer.alloc(0), 3)]))], 8);
    expectDecodeError(() => [...iterateAttrs(Buffer.concat([good, rawAttr(1, Buffer.alloc(4), 12)]))], 8);
    expectDecodeError(() => attrsByType(Buffer.concat([good, rawAttr(1, Buffer.alloc(0), 0)]), 0, 12, 5), 8);
    expectDecodeError(() => attrsByType(good, 0, 9, 5), 0);
    expectDecodeError(() => attrsByType(good, 4, 2, 5), 4);
    expectDecodeError(() => [...iterateAttrs(good, -1)]);
    expectDecodeError(() => [...iterateAttrs(good, 0.5, 8)]);
  });

  it('readers validate the payload length', () => {
    expectDecodeError(() => readU8(Buffer.alloc(2)));
    expectDecodeError(() => readU16be(Buffer.alloc(1)));
    expectDecodeError(() => readU32be(Buffer.alloc(8)));
    expectDecodeError(() => readU64be(Buffer.alloc(4)));
    const dgram = Buffer.concat([attrU8(1, 1), attrU16be(2, 2)]);
    const e = expectDecodeError(() => readU32be(attrsByType(dgram, 0, dgram.length, 2)[2]!));
    expect(e.offset).toBe(dgram.byteOffset + 12);
    expect(readString(Buffer.from('ab'))).toBe('ab');
  });
});

describe('messages', () => {
  it('encode nlmsghdr (host order) + nfgenmsg (res_id big-endian) + attributes', () => {
    const msg = encodeNfMessage({ type: 0x0104, flags: NLM_F_REQUEST | NLM_F_DUMP, seq: 0xfffffffe, family: 2, resId: 0x1234, attrs: [attrU8(1, 1), attrU32be(2, 7)] });
    expect(msg.length).toBe(16 + 4 + 8 + 8);
    expect(msg.readUInt32LE(0)).toBe(msg.length);
    expect(msg.readUInt16LE(4)).toBe(0x0104);
    expect(msg.readUInt16LE(6)).toBe(NLM_F_REQUEST | NLM_F_DUMP);
    expect(msg.readUInt32LE(8)).toBe(0xfffffffe);
    expect(msg.readUInt32LE(12)).toBe(0);
    expect([...msg.subarray(16, 20)]).toEqual([2, 0, 0x12, 0x34]);
    expect(() => encodeNfMessage({ type: 0x10000, flags: 0, seq: 1, family: 0, attrs: [] })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT' }));
    expect(() => encodeNfMessage({ type: 1, flags: 0, seq: -1, family: 0, attrs: [] })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT' }));
    expect(() => encodeNfMessage({ type: 1, flags: 0, seq: 1, family: 256, attrs: [] })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT' }));
  });

  it('parse many messages from one datagram, zero-copy', () => {
    const a = encodeNfMessage({ type: 0x0100, flags: NLM_F_MULTI, seq: 5, family: 10, attrs: [attrNest(1, [attrU8(2, 3)])] });
    const b = encodeMessage({ type: NLMSG_DONE, flags: NLM_F_MULTI, seq: 5, pid: 77, payload: [i32le(0)] });
    const c = encodeMessage({ type: 0x20, flags: 0, seq: 6, payload: [Buffer.from([1, 2, 3])] });
    const dgram = Buffer.concat([a, b, c]);
    const msgs = parseMessages(dgram);
    expect(msgs.map((m) => [m.type, m.flags, m.seq, m.pid, m.offset, m.length])).toEqual([
      [0x0100, NLM_F_MULTI, 5, 0, 0, a.length], [NLMSG_DONE, NLM_F_MULTI, 5, 77, a.length, 20], [0x20, 0, 6, 0, a.length + 20, 20],
    ]);
    expect(msgs[0]!.nfgen).toEqual({ family: 10, version: 0, resId: 0 });
    expect(msgs[1]!.nfgen).toBeUndefined();
    expect(msgs[0]!.payload.buffer).toBe(dgram.buffer);
    const nest = attrsByType(dgram, msgs[0]!.nfAttrsStart, msgs[0]!.end, 1)[1]!;
    expect(readU8(nestedByType(nest, 2)[2]!)).toBe(3);
    expect(decodeDone(msgs[1]!)).toEqual({ errno: 0, extAck: undefined });
    // visit returning false stops the walk
    let seen = 0;
    forEachMessage(dgram, () => ++seen < 2);
    expect(seen).toBe(2);
  });

  it('throw NetlinkDecodeError for truncated or inconsistent datagrams', () => {
    const m = encodeNfMessage({ type: 0x100, flags: 0, seq: 1, family: 2, attrs: [attrU32be(1, 1)] });
    expectDecodeError(() => parseMessages(Buffer.concat([m, m.subarray(0, 10)])), m.length);
    expectDecodeError(() => parseMessages(m.subarray(0, m.length - 1)), 0);
    const short = Buffer.from(m);
    short.writeUInt32LE(15, 0);
    expectDecodeError(() => parseMessages(short), 0);
    const zero = Buffer.from(m);
    zero.writeUInt32LE(0, 0);
    expectDecodeError(() => parseMessages(zero), 0);
    expect(parseMessages(Buffer.alloc(0))).toEqual([]);
  });
});

describe('NLMSG_ERROR and NLMSG_DONE', () => {
  const request = encodeNfMessage({ type: 0x0102, flags: NLM_F_REQUEST | NLM_F_ACK, seq: 42, family: 2, attrs: [attrU32be(3, 9)] });
  const one = (buf: Buffer): NetlinkMessage => {
    const msgs = parseMessages(buf);
    expect(msgs.length).toBe(1);
    return msgs[0]!;
  };

  it('errno 0 is an ACK; the echoed request header comes back', () => {
    const ack = encodeMessage({ type: NLMSG_ERROR, flags: NLM_F_CAPPED, seq: 42, payload: [i32le(0), request.subarray(0, 16)] });
    const reply = decodeError(one(ack));
    expect(reply).toEqual({ errno: 0, capped: true, extAck: undefined, request: { len: request.length, type: 0x0102, flags: NLM_F_REQUEST | NLM_F_ACK, seq: 42, pid: 0 } });
  });

  it('a negative error without ext ack, with the whole request echoed', () => {
    const err = encodeMessage({ type: NLMSG_ERROR, flags: 0, seq: 42, payload: [i32le(-2), request] });
    const reply = decodeError(one(err));
    expect(reply.errno).toBe(2);
    expect(errnoName(reply.errno)).toBe('ENOENT');
    expect(reply.capped).toBe(false);
    expect(reply.extAck).toBeUndefined();
  });

  it('extended ack after a capped request: message, offset, missing type', () => {
    const tlvs = [attrString(NLMSGERR_ATTR_MSG, 'missing tuple'), attrBytes(NLMSGERR_ATTR_OFFS, u32le(20)), attrBytes(NLMSGERR_ATTR_MISS_TYPE, u32le(1))];
    const err = encodeMessage({ type: NLMSG_ERROR, flags: NLM_F_CAPPED | NLM_F_ACK_TLVS, seq: 42, payload: [i32le(-22), request.subarray(0, 16), ...tlvs] });
    const reply = decodeError(one(err));
    expect(reply.errno).toBe(22);
    expect(reply.extAck).toEqual({ message: 'missing tuple', offset: 20, missingType: 1 });
  });

  it('extended ack after an uncapped (fully echoed, padded) request', () => {
    const odd = encodeMessage({ type: 0x0102, flags: NLM_F_REQUEST | NLM_F_ACK, seq: 43, payload: [Buffer.from([1, 2, 3])] });
    const unpadded = odd.subarray(0, 19);
    unpadded.writeUInt32LE(19, 0);
    const err = encodeMessage({ type: NLMSG_ERROR, flags: NLM_F_ACK_TLVS, seq: 43, payload: [i32le(-17), unpadded, attrString(NLMSGERR_ATTR_MSG, 'exists')] });
    const reply = decodeError(one(err));
    expect(reply.errno).toBe(17);
    expect(reply.request.len).toBe(19);
    expect(reply.extAck).toEqual({ message: 'exists' });
  });

  it('malformed errors are decode errors', () => {
    expectDecodeError(() => decodeError(one(encodeMessage({ type: NLMSG_ERROR, flags: 0, seq: 1, payload: [i32le(-1)] }))), 16);
    expectDecodeError(() => decodeError(one(encodeMessage({ type: NLMSG_ERROR, flags: 0, seq: 1, payload: [i32le(5), request.subarray(0, 16)] }))), 16);
    // uncapped with TLVs, but the echoed length claims more than is there
    expectDecodeError(() => decodeError(one(encodeMessage({ type: NLMSG_ERROR, flags: NLM_F_ACK_TLVS, seq: 1, payload: [i32le(-1), request.subarray(0, 16)] }))), 20);
    expectDecodeError(() => decodeError(one(encodeMessage({ type: NLMSG_ERROR, flags: NLM_F_CAPPED | NLM_F_ACK_TLVS, seq: 1, payload: [i32le(-1), request.subarray(0, 16), attrU8(NLMSGERR_ATTR_OFFS, 1)] }))));
  });

  it('NLMSG_DONE carries the dump errno and optional ext ack', () => {
    const done = encodeMessage({ type: NLMSG_DONE, flags: NLM_F_MULTI | NLM_F_ACK_TLVS, seq: 3, payload: [i32le(-16), attrString(NLMSGERR_ATTR_MSG, 'busy')] });
    expect(decodeDone(one(done))).toEqual({ errno: 16, extAck: { message: 'busy' } });
    expect(decodeDone(one(encodeMessage({ type: NLMSG_DONE, flags: NLM_F_MULTI, seq: 3, payload: [] })))).toEqual({ errno: 0, extAck: undefined });
  });
});

// ---------------------------------------------------------------------------------------------
// Property tests

type Tree = { kind: 'leaf'; type: number; bytes: Uint8Array } | { kind: 'nest'; type: number; children: Tree[] };

const attrType = fc.integer({ min: 0, max: 0x3fff });
const { tree } = fc.letrec<{ tree: Tree; leaf: Tree; nest: Tree }>((tie) => ({
  tree: fc.oneof({ depthSize: 'small', withCrossShrink: true }, tie('leaf'), tie('nest')),
  leaf: fc.record({ kind: fc.constant('leaf' as const), type: attrType, bytes: fc.uint8Array({ maxLength: 24 }) }),
  nest: fc.record({ kind: fc.constant('nest' as const), type: attrType, children: fc.array(tie('tree'), { maxLength: 4 }) }),
}));
const forest = fc.array(tree, { maxLength: 5 });

function encodeTree(t: Tree): Buffer {
  return t.kind === 'leaf' ? attrBytes(t.type, t.bytes) : attrNest(t.type, t.children.map(encodeTree));
}

function decodeForest(buf: Buffer, start = 0, end = buf.length): Tree[] {
  const out: Tree[] = [];
  for (const a of iterateAttrs(buf, start, end)) {
    out.push(a.nested ? { kind: 'nest', type: a.type, children: decodeForest(a.value) } : { kind: 'leaf', type: a.type, bytes: new Uint8Array(a.value) });
  }
  return out;
}

const READERS = [readU8, readU16be, readU32be, readU64be, readString];

/** Walks every attribute, recursing into anything flagged nested, touching every reader. */
function walkAll(buf: Buffer, start: number, end: number, depth = 0): number {
  let n = 0;
  for (const a of iterateAttrs(buf, start, end)) {
    n++;
    if (a.nested && depth < 32) n += walkAll(a.value, 0, a.value.length, depth + 1);
    try {
      READERS[a.type % READERS.length]!(a.value);
    } catch (error) {
      if (!(error instanceof NetlinkDecodeError)) throw error;
    }
  }
  attrsByType(buf, start, end, 16);
  return n;
}

/** Everything a consumer would do with a datagram. */
function consume(dgram: Buffer): void {
  forEachMessage(dgram, (msg) => {
    void msg.payload;
    void msg.nfgen;
    if (msg.type === NLMSG_ERROR) decodeError(msg);
    else if (msg.type === NLMSG_DONE) decodeDone(msg);
    walkAll(dgram, msg.nfAttrsStart, msg.end);
  });
}

function onlyDecodeErrors(fn: () => void): boolean {
  try {
    fn();
  } catch (error) {
    if (error instanceof NetlinkDecodeError && isHarnessError(error, 'ERR_NETLINK_DECODE')) return true;
    throw error;
  }
  return true;
}

const validDatagram = fc
  .array(
    fc.record({
      type: fc.oneof(fc.constantFrom(NLMSG_ERROR, NLMSG_DONE), fc.integer({ min: 0x10, max: 0xffff })),
      flags: fc.integer({ min: 0, max: 0xffff }),
      seq: fc.nat(),
      family: fc.integer({ min: 0, max: 255 }),
      attrs: forest,
    }),
    { minLength: 1, maxLength: 4 },
  )
  .map((msgs) => Buffer.concat(msgs.map((m) => encodeNfMessage({ ...m, attrs: m.attrs.map(encodeTree) }))));

const mutation = fc.oneof(
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('byte' as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ kind: fc.constant('u16' as const), at: fc.nat(), value: fc.integer({ min: 0, max: 0xffff }) }),
  fc.record({ kind: fc.constant('u32' as const), at: fc.nat(), value: fc.nat() }),
);

function mutate(buf: Buffer, muts: Array<{ kind: string; at: number; value?: number }>): Buffer {
  let out = Buffer.from(buf);
  for (const m of muts) {
    if (out.length === 0) break;
    const at = m.at % out.length;
    if (m.kind === 'truncate') out = out.subarray(0, at);
    else if (m.kind === 'byte') out[at] = m.value!;
    else if (m.kind === 'u16' && at + 2 <= out.length) out.writeUInt16LE(m.value!, at);
    else if (m.kind === 'u32' && at + 4 <= out.length) out.writeUInt32LE(m.value! >>> 0, at);
  }
  return out;
}

describe('property tests', () => {
  it('random attribute trees survive encode -> decode, with NLA_F_NESTED on every nest', () => {
    fc.assert(
      fc.property(forest, (trees) => {
        const buf = Buffer.concat(trees.map(encodeTree));
        expect(buf.length % 4).toBe(0);
        expect(decodeForest(buf)).toEqual(trees);
        const msg = encodeNfMessage({ type: 0x0101, flags: NLM_F_REQUEST, seq: 1, family: 2, attrs: trees.map(encodeTree) });
        const [parsed] = parseMessages(msg);
        expect(decodeForest(msg, parsed!.nfAttrsStart, parsed!.end)).toEqual(trees);
      }),
      { numRuns: 2000 },
    );
  }, 60_000);

  it('random bytes through the message parser and attribute decoder raise only NetlinkDecodeError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 256 }), (bytes) => {
        const buf = Buffer.from(bytes);
        onlyDecodeErrors(() => consume(buf));
        onlyDecodeErrors(() => walkAll(buf, 0, buf.length));
      }),
      { numRuns: 10000 },
    );
  }, 60_000);

  it('random bytes behind a valid header raise only NetlinkDecodeError', () => {
    fc.assert(
      fc.property(fc.constantFrom(NLMSG_ERROR, NLMSG_DONE, 0x100), fc.integer({ min: 0, max: 0xffff }), fc.uint8Array({ maxLength: 200 }), (type, flags, bytes) => {
        onlyDecodeErrors(() => consume(encodeMessage({ type, flags, seq: 1, payload: [bytes] })));
      }),
      { numRuns: 10000 },
    );
  }, 60_000);

  it('truncated and corrupted valid encodings raise only NetlinkDecodeError', () => {
    fc.assert(
      fc.property(validDatagram, fc.array(mutation, { minLength: 1, maxLength: 4 }), (dgram, muts) => {
        onlyDecodeErrors(() => consume(dgram));
        onlyDecodeErrors(() => consume(mutate(dgram, muts)));
      }),
      { numRuns: 10000 },
    );
  }, 120_000);
});
