// Unprivileged tests of NetlinkConnection's request logic (batching, per-message results, dump
// streaming, errors) against a scripted fake socket, so no kernel or root is needed.
import { describe, expect, it } from 'vitest';
import {
  encodeMessage,
  encodeNfMessage,
  forEachMessage,
  MAX_BATCH_BYTES,
  NetlinkConnection,
  NetlinkErrnoError,
  type NetlinkSocket,
  NetlinkTimeoutError,
  NLM_F_ACK,
  NLM_F_ACK_TLVS,
  NLM_F_CAPPED,
  NLM_F_DUMP,
  NLM_F_DUMP_INTR,
  NLM_F_MULTI,
  NLM_F_REQUEST,
  NLMSG_DONE,
  NLMSG_ERROR,
  NLMSGERR_ATTR_MSG,
} from '../../harness/netlink/index.ts';
import { be32, str } from '../support/tlv.ts';

function i32le(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeInt32LE(n, 0);
  return b;
}

/** A kernel stand-in: turns each sent datagram into queued reply datagrams. */
class FakeSocket {
  sends: Buffer[] = [];
  queue: Buffer[] = [];
  closed = false;
  readonly portId = 1234;
  constructor(private readonly answer: (request: Buffer, fake: FakeSocket) => Buffer[]) {}

  send(buf: Uint8Array): void {
    const copy = Buffer.from(buf);
    this.sends.push(copy);
    this.queue.push(...this.answer(copy, this));
  }

  tryRecv(): Buffer | undefined {
    return this.queue.shift();
  }

  async recv(): Promise<Buffer> {
    const next = this.queue.shift();
    if (!next) throw new NetlinkTimeoutError('no netlink reply within 5 ms', 5);
    return next;
  }

  close(): void {
    this.closed = true;
  }
}

function connect(answer: (request: Buffer, fake: FakeSocket) => Buffer[]): { conn: NetlinkConnection; fake: FakeSocket } {
  const fake = new FakeSocket(answer);
  return { conn: new NetlinkConnection(fake as unknown as NetlinkSocket), fake };
}

function ackFor(req: Buffer, offset: number, errno: number, text?: string): Buffer {
  const header = req.subarray(offset, offset + 16);
  const seq = req.readUInt32LE(offset + 8);
  const flags = NLM_F_CAPPED | (text ? NLM_F_ACK_TLVS : 0);
  return encodeMessage({ type: NLMSG_ERROR, flags, seq, payload: [i32le(-errno), header, ...(text ? [str(NLMSGERR_ATTR_MSG, text)] : [])] });
}

/**
 * As the kernel does: the messages of a datagram in order, an error for every failed one (seq % 3
 * === 0 fails), a success ACK only for those that ask (NLM_F_ACK); unrelated messages in between.
 */
function ackingKernel(request: Buffer): Buffer[] {
  const replies: Buffer[] = [encodeMessage({ type: 0x0100, flags: 0, seq: 999_999, payload: [] })]; // unrelated
  forEachMessage(request, (msg) => {
    replies.push(encodeNfMessage({ type: 0x0100, flags: 0, seq: msg.seq, family: 2, attrs: [] })); // an echo, ignored
    if (msg.seq % 3 === 0) replies.push(ackFor(request, msg.offset, 2, 'no such entry'));
    else if ((msg.flags & NLM_F_ACK) !== 0) replies.push(ackFor(request, msg.offset, 0));
  });
  const out: Buffer[] = [];
  for (let i = 0; i < replies.length; i += 7) out.push(Buffer.concat(replies.slice(i, i + 7)));
  return out;
}

function request(conn: NetlinkConnection, flags = NLM_F_REQUEST | NLM_F_ACK, padding = 0): Buffer {
  return encodeNfMessage({ type: 0x0102, flags, seq: conn.nextSeq(), family: 2, attrs: [be32(1, 7), Buffer.alloc(padding)] });
}

describe('NetlinkConnection.transact', () => {
  it('packs messages into sends of at most 64 KiB and returns one result per message, in order', async () => {
    const { conn, fake } = connect(ackingKernel);
    const messages = Array.from({ length: 5000 }, (_, i) => request(conn, NLM_F_REQUEST | NLM_F_ACK, (i % 5) * 4));
    const results = await conn.transact(messages);
    expect(results.length).toBe(5000);
    const total = messages.reduce((n, m) => n + m.length, 0);
    expect(fake.sends.length).toBe(Math.ceil(total / MAX_BATCH_BYTES));
    for (const s of fake.sends) expect(s.length).toBeLessThanOrEqual(MAX_BATCH_BYTES);
    // On the wire, only each send's last message asks for an ACK; the rest is unchanged.
    const sent = fake.sends.flatMap((send) => {
      const parts: Buffer[] = [];
      forEachMessage(send, (msg) => { parts.push(Buffer.from(send.subarray(msg.offset, msg.offset + msg.length))); });
      return parts.map((part, k) => ({ part, last: k === parts.length - 1 }));
    });
    expect(sent.length).toBe(messages.length);
    sent.forEach(({ part, last }, i) => {
      expect((part.readUInt16LE(6) & NLM_F_ACK) !== 0, `message ${i} asks for an ACK`).toBe(last);
      part.writeUInt16LE(part.readUInt16LE(6) | NLM_F_ACK, 6);
      expect(part.equals(messages[i]!.subarray(0, part.length))).toBe(true);
    });
    results.forEach((r, i) => {
      const seq = messages[i]!.readUInt32LE(8);
      expect(r.seq).toBe(seq);
      if (seq % 3 === 0) {
        expect(r.error).toBeInstanceOf(NetlinkErrnoError);
        expect(r.error).toMatchObject({ code: 'ERR_NETLINK_ERRNO', errno: 2, errnoName: 'ENOENT', seq, extAck: 'no such entry' });
      } else {
        expect(r.error).toBeUndefined();
      }
    });
  });

  it('sends a message larger than a batch on its own', async () => {
    const { conn, fake } = connect(ackingKernel);
    const big = request(conn, NLM_F_REQUEST | NLM_F_ACK, MAX_BATCH_BYTES);
    const small = request(conn);
    expect((await conn.transact([small, big])).map((r) => r.error)).toEqual([undefined, undefined]);
    expect(fake.sends.map((s) => s.length)).toEqual([small.length, big.length]);
  });

  it('rejects messages without REQUEST|ACK, with a duplicate seq, or not netlink, before sending anything', async () => {
    const { conn, fake } = connect(ackingKernel);
    const ok = request(conn);
    await expect(conn.transact([ok, request(conn, NLM_F_REQUEST)])).rejects.toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT' }));
    await expect(conn.transact([ok, ok])).rejects.toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT' }));
    await expect(conn.transact([ok, Buffer.alloc(8)])).rejects.toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT' }));
    expect(fake.sends).toEqual([]);
    expect(await conn.transact([])).toEqual([]);
  });

  it('runs concurrent operations one after the other, each getting its own answers', async () => {
    const { conn, fake } = connect(ackingKernel);
    const a = Array.from({ length: 30 }, () => request(conn));
    const b = Array.from({ length: 30 }, () => request(conn));
    const [ra, rb] = await Promise.all([conn.transact(a), conn.transact(b)]);
    expect(ra.map((r) => r.seq)).toEqual(a.map((m) => m.readUInt32LE(8)));
    expect(rb.map((r) => r.seq)).toEqual(b.map((m) => m.readUInt32LE(8)));
    expect(fake.sends).toHaveLength(2);
  });

  it('times out with a typed error when an ACK never comes', async () => {
    const { conn } = connect(() => []);
    await expect(conn.transact([request(conn)])).rejects.toThrow(expect.objectContaining({ code: 'ERR_NETLINK_TIMEOUT', name: 'NetlinkTimeoutError' }));
  });

  it('nextSeq counts up from 1', () => {
    const { conn } = connect(() => []);
    expect([conn.nextSeq(), conn.nextSeq(), conn.nextSeq()]).toEqual([1, 2, 3]);
  });
});

interface DumpScript {
  entries: number;
  perDatagram?: number;
  intrAt?: number;
  finalErrno?: number;
  error?: number;
}

function dumpingKernel(script: DumpScript) {
  return (req: Buffer): Buffer[] => {
    const seq = req.readUInt32LE(8);
    if (script.error) return [ackFor(req, 0, script.error, 'refused')];
    const per = script.perDatagram ?? 50;
    const out: Buffer[] = [];
    let batch: Buffer[] = [encodeNfMessage({ type: 0x0101, flags: NLM_F_MULTI, seq: seq + 1000, family: 2, attrs: [] })]; // stale
    for (let i = 0; i < script.entries; i++) {
      const flags = NLM_F_MULTI | (script.intrAt === i ? NLM_F_DUMP_INTR : 0);
      batch.push(encodeNfMessage({ type: 0x0100, flags, seq, family: 2, attrs: [be32(1, i)] }));
      if (batch.length >= per) {
        out.push(Buffer.concat(batch));
        batch = [];
      }
    }
    batch.push(encodeMessage({ type: NLMSG_DONE, flags: NLM_F_MULTI, seq, payload: [i32le(-(script.finalErrno ?? 0))] }));
    out.push(Buffer.concat(batch));
    return out;
  };
}

describe('NetlinkConnection.dump', () => {
  const dumpRequest = (conn: NetlinkConnection) => encodeNfMessage({ type: 0x0101, flags: NLM_F_REQUEST | NLM_F_DUMP, seq: conn.nextSeq(), family: 2, attrs: [] });

  it('streams 100k entries in order until NLMSG_DONE, ignoring other seqs', async () => {
    const { conn } = connect(dumpingKernel({ entries: 100_000 }));
    let n = 0;
    let inOrder = true;
    const started = performance.now();
    const result = await conn.dump(dumpRequest(conn), (msg) => {
      if (msg.buf.readUInt32BE(msg.nfAttrsStart + 4) !== n) inOrder = false;
      n++;
    });
    const ms = performance.now() - started;
    expect(result).toEqual({ interrupted: false });
    expect(n).toBe(100_000);
    expect(inOrder).toBe(true);
    expect(ms).toBeLessThan(2000);
  });

  it('reports NLM_F_DUMP_INTR', async () => {
    const { conn } = connect(dumpingKernel({ entries: 10, intrAt: 4 }));
    expect(await conn.dump(dumpRequest(conn), () => {})).toEqual({ interrupted: true });
  });

  it('throws NetlinkErrnoError for an NLMSG_ERROR reply or an errno in NLMSG_DONE', async () => {
    const refused = connect(dumpingKernel({ entries: 0, error: 1 })).conn;
    await expect(refused.dump(dumpRequest(refused), () => {})).rejects.toThrow(expect.objectContaining({ errnoName: 'EPERM', extAck: 'refused' }));
    const failed = connect(dumpingKernel({ entries: 3, finalErrno: 16 })).conn;
    await expect(failed.dump(dumpRequest(failed), () => {})).rejects.toThrow(expect.objectContaining({ code: 'ERR_NETLINK_ERRNO', errnoName: 'EBUSY' }));
  });

  it('drains the rest of the dump when the callback throws, then rethrows', async () => {
    const { conn, fake } = connect(dumpingKernel({ entries: 500, perDatagram: 20 }));
    let calls = 0;
    await expect(conn.dump(dumpRequest(conn), () => {
      calls++;
      throw new Error('boom');
    })).rejects.toThrow('boom');
    expect(calls).toBe(1);
    expect(fake.queue).toEqual([]);
    let n = 0;
    await conn.dump(dumpRequest(conn), () => void n++);
    expect(n).toBe(500);
  });

  it('closes the connection when a dump times out half-way: the rest of it would reach the next reader', async () => {
    const { conn, fake } = connect(dumpingKernel({ entries: 100, perDatagram: 20 }));
    let n = 0;
    // The kernel stand-in goes quiet after the first datagram.
    await expect(conn.dump(dumpRequest(conn), () => {
      if (++n === 1) fake.queue.length = 0;
    })).rejects.toThrow(expect.objectContaining({ code: 'ERR_NETLINK_TIMEOUT' }));
    expect(fake.closed).toBe(true);
  });

  it('refuses every request while a dump is still being read, and serves them again after it ended or was broken off', async () => {
    const { conn, fake } = connect(dumpingKernel({ entries: 200, perDatagram: 20 }));
    let n = 0;
    const chunks = conn.dumpChunks(dumpRequest(conn), () => void n++);
    await chunks.next();
    const first = n;
    expect(first).toBeGreaterThan(0);
    await expect(conn.transact([request(conn)])).rejects.toThrow(expect.objectContaining({ code: 'ERR_SOCKET_BUSY', name: 'SocketBusyError' }));
    await expect(conn.request(request(conn), () => {})).rejects.toThrow(expect.objectContaining({ code: 'ERR_SOCKET_BUSY' }));
    await expect(conn.dump(dumpRequest(conn), () => {})).rejects.toThrow(expect.objectContaining({ code: 'ERR_SOCKET_BUSY' }));
    expect(fake.sends).toHaveLength(1);
    await chunks.return(undefined as never);
    expect(fake.queue).toEqual([]);
    await conn.dump(dumpRequest(conn), () => void n++);
    expect(n).toBe(first + 200);
  });

  it('fails a call made while a caller-held dump still waits for its turn, instead of waiting for the loop', async () => {
    const { conn } = connect(dumpingKernel({ entries: 200, perDatagram: 20 }));
    const chunks = conn.dumpChunks(dumpRequest(conn), () => {});
    const first = chunks.next();
    await expect(conn.transact([request(conn)])).rejects.toThrow(expect.objectContaining({ code: 'ERR_SOCKET_BUSY' }));
    await first;
    await chunks.return(undefined as never);
  });

  it('closes the connection when reading the rest of a broken-off dump fails', async () => {
    const { conn, fake } = connect(dumpingKernel({ entries: 200, perDatagram: 20 }));
    const chunks = conn.dumpChunks(dumpRequest(conn), () => {});
    await chunks.next();
    fake.queue.length = 0; // the kernel stand-in goes quiet: the rest never comes
    await expect(chunks.return(undefined as never)).rejects.toThrow(expect.objectContaining({ code: 'ERR_NETLINK_TIMEOUT' }));
    expect(fake.closed).toBe(true);
  });

  it('a queued call whose signal fired while it waited sends nothing', async () => {
    const { conn, fake } = connect(ackingKernel);
    const controller = new AbortController();
    const first = conn.transact([request(conn)]);
    const second = conn.transact([request(conn)], { signal: controller.signal });
    controller.abort();
    await first;
    await expect(second).rejects.toThrow(expect.objectContaining({ code: 'ERR_ABORTED' }));
    expect(fake.sends).toHaveLength(1);
  });

  it('refuses a request without NLM_F_DUMP, and closes the socket on dispose', async () => {
    const { conn, fake } = connect(dumpingKernel({ entries: 1 }));
    await expect(conn.dump(request(conn), () => {})).rejects.toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT' }));
    conn[Symbol.dispose]();
    expect(fake.closed).toBe(true);
  });
});
