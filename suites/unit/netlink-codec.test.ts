// Unprivileged tests of the netlink codec: attribute and message round trips, ACK/ERROR decoding,
// and property tests proving malformed bytes can only ever raise NetlinkDecodeError.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isHarnessError } from '../../harness/errors.ts';
import {
  decodeDone,
  decodeError,
  encodeMessage,
  encodeNfMessage,
  errnoName,
  forEachAttr,
  forEachMessage,
  MessageWriter,
  NestTable,
  NetlinkDecodeError,
  type NetlinkMessage,
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
} from '../../harness/netlink/index.ts';
import { be16, be32, be64, nest, str, tlv, u32, u8 } from '../support/tlv.ts';

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

describe('MessageWriter encodes attributes', () => {
  it('every integer width in network byte order, padded with zeros to 4 bytes; nests flagged NLA_F_NESTED', () => {
    const w = new MessageWriter();
    const msg = w.begin(0x100, 0, 1).u8(1, 0xab).u16be(2, 0x1234).u32be(3, 0xdeadbeef).nest(4).u8(5, 7).end().finish();
    expect(msg.subarray(16)).toEqual(Buffer.concat([u8(1, 0xab), be16(2, 0x1234), be32(3, 0xdeadbeef), nest(4, [u8(5, 7)])]));
    expect(msg.readUInt16LE(16 + 8 + 8 + 8 + 2)).toBe(4 | NLA_F_NESTED);
  });

  it('refuses out-of-range types and values with a ValidationError', () => {
    const w = new MessageWriter();
    for (const fn of [
      () => w.begin(1, 0, 1).u8(1, 256), () => w.begin(1, 0, 1).u8(1, -1), () => w.begin(1, 0, 1).u16be(1, 0x10000),
      () => w.begin(1, 0, 1).u32be(1, 2 ** 32), () => w.begin(1, 0, 1).u32be(1, 1.5), () => w.begin(1, 0, 1).u8(0x4000, 1),
      () => w.begin(1, 0, 1).nest(-1), () => w.begin(1, 0, 1).end(), () => w.begin(1, 0, 1).nest(1).finish(),
      () => w.begin(1, 0, 1).attr(1, 0xfffc), () => w.begin(1, 0, 1).attr(1, -3), () => w.begin(1, 0, 1).attr(1, 1.5),
    ]) {
      expect(fn).toThrow(expect.objectContaining({ name: 'ValidationError', code: 'ERR_INVALID_ARGUMENT' }));
    }
    expect(w.begin(1, 0, 1).attr(1, 0xfffb)).toBe(20);
  });
});

const INNER = new NestTable('inner', { 1: ['value', 'be32'] });
const TABLE = new NestTable('test', {
  1: ['byte', 'u8'], 2: ['short', 'be16'], 3: ['long', 'be32'], 4: ['huge', 'be64'], 5: ['text', 'string'],
  6: ['blob', 'binary'], 7: ['flag', 'flag'], 8: ['host', 'u32'], 9: ['inner', INNER], 10: ['addr', 'binary', 4],
});

describe('NestTable decodes attributes', () => {
  it('reads every kind where the scan found it, without copies', () => {
    const buf = Buffer.concat([
      u8(1, 200), be16(2, 65535), be32(3, 4294967295), be64(4, 2n ** 63n + 5n), str(5, 'héllo'), tlv(6, Buffer.from([1, 2, 3])),
      tlv(7, Buffer.alloc(0)), u32(8, 0x01020304), nest(9, [be32(1, 42)]), tlv(10, Buffer.from([10, 0, 0, 1])), u8(99, 1),
    ]);
    TABLE.scan(buf, 0, buf.length);
    expect(TABLE.u8(buf, 1, 0)).toBe(200);
    expect(TABLE.be16(buf, 2, 0)).toBe(65535);
    expect(TABLE.be32(buf, 3, 0)).toBe(4294967295);
    expect(TABLE.be64(buf, 4, 0)).toBe(2n ** 63n + 5n);
    expect(TABLE.string(buf, 5, 0)).toBe('héllo');
    expect([...TABLE.view(buf, 6, 0)]).toEqual([1, 2, 3]);
    expect(TABLE.view(buf, 6, 0).buffer).toBe(buf.buffer);
    expect(TABLE.has(7)).toBe(true);
    expect(TABLE.u32(buf, 8, 0)).toBe(0x01020304);
    expect(TABLE.enter(buf, 9)?.be32(buf, 1, 0)).toBe(42);
    expect(TABLE.offset(10, 0)).toBe(buf.length - 8 - 8 + 4);
    expect(TABLE.has(11)).toBe(false);
  });

  it('masks the type bits, keeps the last of a repeated attribute, skips undeclared ones, honours the region', () => {
    const buf = Buffer.concat([tlv(NLA_F_NET_BYTEORDER | 1, Buffer.from([1])), u8(1, 3), u8(40, 9), u8(2, 2)]);
    TABLE.scan(buf, 0, 16);
    expect(TABLE.u8(buf, 1, 0)).toBe(3);
    expect(TABLE.has(2)).toBe(false);
    const seen: Array<[number, boolean]> = [];
    forEachAttr(Buffer.concat([nest(9, [u8(1, 1)]), u8(5, 0)]), 0, 20, (type, nested) => seen.push([type, nested]));
    expect(seen).toEqual([[9, true], [5, false]]);
  });

  it('tolerates a missing pad after the last attribute of a region', () => {
    const buf = u8(1, 5).subarray(0, 5);
    TABLE.scan(buf, 0, buf.length);
    expect(TABLE.u8(buf, 1, 0)).toBe(5);
  });

  it('throws NetlinkDecodeError with the offset for malformed attributes and wrong sizes', () => {
    const good = be32(3, 1);
    expectDecodeError(() => TABLE.scan(Buffer.concat([good, Buffer.from([8, 0])]), 0, 10), 8);
    expectDecodeError(() => TABLE.scan(Buffer.concat([good, tlv(1, Buffer.alloc(0), 3)]), 0, 12), 8);
    expectDecodeError(() => TABLE.scan(Buffer.concat([good, tlv(1, Buffer.alloc(4), 12)]), 0, 16), 8);
    expectDecodeError(() => TABLE.scan(good, 0, 9), 8);
    expectDecodeError(() => forEachAttr(good, 4, 2, () => {}), 4);
    expectDecodeError(() => forEachAttr(good, -1, 8, () => {}));
    expectDecodeError(() => forEachAttr(good, 0.5, 8, () => {}));
    // A declared fixed size is checked at the scan, naming the table and the attribute.
    const e = expectDecodeError(() => TABLE.scan(Buffer.concat([u8(1, 1), be16(3, 2)]), 0, 16), 8);
    expect(e.message).toContain('test attribute long (3) must be 4 byte(s), got 2');
    expectDecodeError(() => TABLE.scan(tlv(10, Buffer.alloc(5)), 0, 12), 0);
    // A missing attribute is an error only when it is read.
    TABLE.scan(good, 0, 8);
    expect(expectDecodeError(() => TABLE.u8(good, 1, 77), 77).message).toContain('test without byte');
  });
});

describe('messages', () => {
  it('encode nlmsghdr (host order) + nfgenmsg (res_id big-endian) + attributes', () => {
    const msg = encodeNfMessage({ type: 0x0104, flags: NLM_F_REQUEST | NLM_F_DUMP, seq: 0xfffffffe, family: 2, resId: 0x1234, attrs: [u8(1, 1), be32(2, 7)] });
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
    const a = encodeNfMessage({ type: 0x0100, flags: NLM_F_MULTI, seq: 5, family: 10, attrs: [nest(1, [u8(2, 3)])] });
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
    const outer = new NestTable('outer', { 1: ['nest', new NestTable('inner', { 2: ['byte', 'u8'] })] });
    outer.scan(dgram, msgs[0]!.nfAttrsStart, msgs[0]!.end);
    expect(outer.enter(dgram, 1)?.u8(dgram, 2, 0)).toBe(3);
    expect(decodeDone(msgs[1]!)).toEqual({ errno: 0, extAck: undefined });
    // visit returning false stops the walk
    let seen = 0;
    forEachMessage(dgram, () => ++seen < 2);
    expect(seen).toBe(2);
  });

  it('throw NetlinkDecodeError for truncated or inconsistent datagrams', () => {
    const m = encodeNfMessage({ type: 0x100, flags: 0, seq: 1, family: 2, attrs: [be32(1, 1)] });
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
  const request = encodeNfMessage({ type: 0x0102, flags: NLM_F_REQUEST | NLM_F_ACK, seq: 42, family: 2, attrs: [be32(3, 9)] });
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
    const tlvs = [str(NLMSGERR_ATTR_MSG, 'missing tuple'), u32(NLMSGERR_ATTR_OFFS, 20), u32(NLMSGERR_ATTR_MISS_TYPE, 1)];
    const err = encodeMessage({ type: NLMSG_ERROR, flags: NLM_F_CAPPED | NLM_F_ACK_TLVS, seq: 42, payload: [i32le(-22), request.subarray(0, 16), ...tlvs] });
    const reply = decodeError(one(err));
    expect(reply.errno).toBe(22);
    expect(reply.extAck).toEqual({ message: 'missing tuple', offset: 20, missingType: 1 });
  });

  it('extended ack after an uncapped (fully echoed, padded) request', () => {
    const odd = encodeMessage({ type: 0x0102, flags: NLM_F_REQUEST | NLM_F_ACK, seq: 43, payload: [Buffer.from([1, 2, 3])] });
    const unpadded = odd.subarray(0, 19);
    unpadded.writeUInt32LE(19, 0);
    const err = encodeMessage({ type: NLMSG_ERROR, flags: NLM_F_ACK_TLVS, seq: 43, payload: [i32le(-17), unpadded, str(NLMSGERR_ATTR_MSG, 'exists')] });
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
    expectDecodeError(() => decodeError(one(encodeMessage({ type: NLMSG_ERROR, flags: NLM_F_CAPPED | NLM_F_ACK_TLVS, seq: 1, payload: [i32le(-1), request.subarray(0, 16), u8(NLMSGERR_ATTR_OFFS, 1)] }))));
  });

  it('NLMSG_DONE carries the dump errno and optional ext ack', () => {
    const done = encodeMessage({ type: NLMSG_DONE, flags: NLM_F_MULTI | NLM_F_ACK_TLVS, seq: 3, payload: [i32le(-16), str(NLMSGERR_ATTR_MSG, 'busy')] });
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

/** Writes a tree with MessageWriter, the harness's one attribute encoder (leaves as raw bytes). */
function writeTree(w: MessageWriter, t: Tree): void {
  if (t.kind === 'leaf') {
    const o = w.attr(t.type, t.bytes.length);
    w.buffer.set(t.bytes, o);
  } else {
    w.nest(t.type);
    for (const c of t.children) writeTree(w, c);
    w.end();
  }
}

/** The attributes of a message written by MessageWriter: everything after nlmsghdr + nfgenmsg. */
function encodeForest(trees: readonly Tree[]): Buffer {
  const w = new MessageWriter();
  w.begin(0x0101, NLM_F_REQUEST, 1, 2);
  for (const t of trees) writeTree(w, t);
  return Buffer.from(w.finish().subarray(20));
}

/** Hand-built TLVs of a tree, to compare the writer with. */
function encodeTree(t: Tree): Buffer {
  return t.kind === 'leaf' ? tlv(t.type, t.bytes) : nest(t.type, t.children.map(encodeTree));
}

function decodeForest(buf: Buffer, start = 0, end = buf.length): Tree[] {
  const out: Tree[] = [];
  forEachAttr(buf, start, end, (type, nested, offset, length) => {
    out.push(nested ? { kind: 'nest', type, children: decodeForest(buf, offset, offset + length) } : { kind: 'leaf', type, bytes: new Uint8Array(buf.subarray(offset, offset + length)) });
  });
  return out;
}

/** A table declaring every kind for types 0..15 (type % 9 picks it), nested into itself. */
const KINDS = ['u8', 'be16', 'be32', 'be64', 'u32', 'string', 'binary', 'flag'] as const;
const ANY: NestTable = new NestTable('any', Object.fromEntries(Array.from({ length: 16 }, (_, type) => [type, [`a${type}`, KINDS[type % 8]!]])));

/** Walks every attribute, recursing into anything flagged nested, scanning with a table of every kind and reading what it found. */
function walkAll(buf: Buffer, start: number, end: number, depth = 0): number {
  let n = 0;
  forEachAttr(buf, start, end, (type, nested, offset, length) => {
    n++;
    if (nested && depth < 32) n += walkAll(buf, offset, offset + length, depth + 1);
  });
  ANY.scan(buf, start, end);
  for (const def of ANY.defs) {
    if (!def || !ANY.has(def.type)) continue;
    if (def.kind === 'string') ANY.string(buf, def.type, start);
    else if (def.kind === 'be64') ANY.be64(buf, def.type, start);
    else if (def.kind === 'u8') ANY.u8(buf, def.type, start);
    else if (def.kind === 'be16') ANY.be16(buf, def.type, start);
    else if (def.kind === 'be32') ANY.be32(buf, def.type, start);
    else if (def.kind === 'u32') ANY.u32(buf, def.type, start);
    else ANY.view(buf, def.type, start);
  }
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
        const buf = encodeForest(trees);
        expect(buf.length % 4).toBe(0);
        expect(buf).toEqual(Buffer.concat(trees.map(encodeTree)));
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
