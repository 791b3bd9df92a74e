// Root-only tests of the netlink seam against the real kernel: sockets opened inside a scratch
// namespace (never the host's conntrack table), real dumps and errno replies, typed failures.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readlinkSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  AF_UNSPEC,
  forEachAttr,
  NestTable,
  encodeMessage,
  encodeNfMessage,
  forEachMessage,
  NETLINK_NETFILTER,
  NETLINK_ROUTE,
  NetlinkConnection,
  NetlinkErrnoError,
  type NetlinkMessage,
  NetlinkSocket,
  NetlinkTimeoutError,
  nfnlType,
  NFNETLINK_V0,
  NLM_F_ACK,
  NLM_F_DUMP,
  NLM_F_REQUEST,
  NLMSG_DONE,
} from '../../harness/netlink/index.ts';

const NFNL_SUBSYS_CTNETLINK = 1;
const IPCTNL_MSG_CT_GET_STATS_CPU = 4;
const IPCTNL_MSG_CT_GET_STATS = 5;
const RTM_GETLINK = 18;
const RTM_NEWLINK = 16;
const IFLA_IFNAME = 3;
const IFINFOMSG_LEN = 16;
/** The one rtnetlink attribute these tests read. */
const LINK = new NestTable('ifinfomsg', { [IFLA_IFNAME]: ['IFLA_IFNAME', 'string'] });

function countAttrs(buf: Buffer, start: number, end: number): number {
  let n = 0;
  forEachAttr(buf, start, end, () => n++);
  return n;
}

const skipReason = process.getuid?.() === 0 ? '' : 'kernel netlink tests need root';
if (skipReason && process.env.CI) throw new Error(`${skipReason}, and CI is set`);

// A name the sweeper attributes to this run's session (so it is reaped if the run dies, and kept
// while it lives); a name it ignores when run outside the kernel project's globalSetup.
function scratchName(): string {
  let session: string | undefined;
  try {
    session = inject('sessionId');
  } catch {
    session = undefined;
  }
  const suffix = randomBytes(4).toString('hex');
  return session && /^[a-z0-9]{6}$/.test(session) ? `cth-${session}-nl${suffix}` : `cth-nltest-${suffix}-x`;
}

const NETNS = scratchName();
const SELF_NS = '/proc/thread-self/ns/net';

function run(argv: string[]): void {
  execFileSync(argv[0]!, argv.slice(1), { timeout: 15_000, stdio: ['ignore', 'ignore', 'pipe'] });
}

function statsCpuDump(seq: number): Buffer {
  return encodeNfMessage({ type: nfnlType(NFNL_SUBSYS_CTNETLINK, IPCTNL_MSG_CT_GET_STATS_CPU), flags: NLM_F_REQUEST | NLM_F_DUMP, seq, family: AF_UNSPEC, attrs: [] });
}

function openFds(): number {
  return readdirSync('/proc/self/fd').length;
}

describe.skipIf(skipReason !== '')('netlink socket in a namespace (root)', () => {
  beforeAll(() => {
    run(['ip', 'netns', 'add', NETNS]);
    run(['ip', '-n', NETNS, 'link', 'add', 'nltest0', 'type', 'veth', 'peer', 'name', 'nltest1']);
  });

  afterAll(() => {
    try {
      run(['ip', 'netns', 'delete', NETNS]);
    } catch (error) {
      if (existsSync(`/run/netns/${NETNS}`)) throw error;
    }
  });

  it('opens inside the namespace and leaves this thread in its own namespace', () => {
    const before = readlinkSync(SELF_NS);
    const fds = openFds();
    const socket = NetlinkSocket.open({ protocol: NETLINK_NETFILTER, netns: NETNS });
    try {
      expect(readlinkSync(SELF_NS)).toBe(before);
      expect(socket.portId).toBeGreaterThan(0);
      expect(socket.extAck).toBe(true);
      expect(socket.netns).toBe(NETNS);
      expect(openFds()).toBe(fds + 1);
    } finally {
      socket.close();
    }
    expect(openFds()).toBe(fds);
  });

  it('really lives in the namespace: an rtnetlink link dump sees exactly its links', async () => {
    using conn = NetlinkConnection.open({ protocol: NETLINK_ROUTE, netns: NETNS });
    const names: string[] = [];
    const request = encodeMessage({ type: RTM_GETLINK, flags: NLM_F_REQUEST | NLM_F_DUMP, seq: conn.nextSeq(), payload: [Buffer.alloc(IFINFOMSG_LEN)] });
    await conn.dump(request, (msg) => {
      expect(msg.type).toBe(RTM_NEWLINK);
      LINK.scan(msg.buf, msg.offset + 16 + IFINFOMSG_LEN, msg.end);
      names.push(LINK.string(msg.buf, IFLA_IFNAME, msg.offset));
    });
    expect(names.sort()).toEqual(['lo', 'nltest0', 'nltest1']);
  });

  it('freshNetns: a socket in a new unnamed namespace (lo only), this thread unchanged, nothing left after close', async () => {
    const before = readlinkSync(SELF_NS);
    const fds = openFds();
    const names: string[] = [];
    {
      using conn = NetlinkConnection.open({ protocol: NETLINK_ROUTE, freshNetns: true });
      expect(readlinkSync(SELF_NS)).toBe(before);
      const request = encodeMessage({ type: RTM_GETLINK, flags: NLM_F_REQUEST | NLM_F_DUMP, seq: conn.nextSeq(), payload: [Buffer.alloc(IFINFOMSG_LEN)] });
      await conn.dump(request, (msg) => {
        LINK.scan(msg.buf, msg.offset + 16 + IFINFOMSG_LEN, msg.end);
        names.push(LINK.string(msg.buf, IFLA_IFNAME, msg.offset));
      });
    }
    expect(names).toEqual(['lo']);
    expect(readlinkSync(SELF_NS)).toBe(before);
    expect(openFds()).toBe(fds);
    expect(() => NetlinkSocket.open({ protocol: NETLINK_ROUTE, freshNetns: true, netns: NETNS })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT' }));
  });

  it('does a raw ctnetlink round trip: the per-CPU stats dump ends with NLMSG_DONE', async () => {
    using socket = NetlinkSocket.open({ protocol: NETLINK_NETFILTER, netns: NETNS });
    socket.send(statsCpuDump(77));
    const seen: Array<{ type: number; seq: number; pid: number }> = [];
    for (let done = false; !done;) {
      forEachMessage(await socket.recv(), (msg) => {
        seen.push({ type: msg.type, seq: msg.seq, pid: msg.pid });
        done ||= msg.type === NLMSG_DONE;
      });
    }
    expect(seen.length).toBeGreaterThanOrEqual(2);
    expect(seen.at(-1)!.type).toBe(NLMSG_DONE);
    for (const m of seen) expect(m).toMatchObject({ seq: 77, pid: socket.portId });
  });

  it('dumps per-CPU conntrack stats through the connection', async () => {
    using conn = NetlinkConnection.open({ protocol: NETLINK_NETFILTER, netns: NETNS });
    const messages: Array<{ type: number; version: number | undefined; attrs: number }> = [];
    const result = await conn.dump(statsCpuDump(conn.nextSeq()), (msg: NetlinkMessage) => {
      messages.push({ type: msg.type, version: msg.nfgen?.version, attrs: countAttrs(msg.buf, msg.nfAttrsStart, msg.end) });
    });
    expect(result).toEqual({ interrupted: false });
    expect(messages.length).toBeGreaterThanOrEqual(1);
    for (const m of messages) {
      expect(m.type).toBe(nfnlType(NFNL_SUBSYS_CTNETLINK, IPCTNL_MSG_CT_GET_STATS_CPU));
      expect(m.version).toBe(NFNETLINK_V0);
      expect(m.attrs).toBeGreaterThan(0);
    }
    // the connection is reusable after a dump
    let again = 0;
    await conn.dump(statsCpuDump(conn.nextSeq()), () => void again++);
    expect(again).toBe(messages.length);
  });

  it('gets one result per message in a transact, the bogus one refused with EINVAL', async () => {
    using conn = NetlinkConnection.open({ protocol: NETLINK_NETFILTER, netns: NETNS });
    const msg = (msgType: number) =>
      encodeNfMessage({ type: nfnlType(NFNL_SUBSYS_CTNETLINK, msgType), flags: NLM_F_REQUEST | NLM_F_ACK, seq: conn.nextSeq(), family: AF_UNSPEC, attrs: [] });
    const messages = [msg(IPCTNL_MSG_CT_GET_STATS), msg(0x63), msg(IPCTNL_MSG_CT_GET_STATS)];
    const results = await conn.transact(messages);
    expect(results.map((r) => r.seq)).toEqual(messages.map((m) => m.readUInt32LE(8)));
    expect(results[0]!.error).toBeUndefined();
    expect(results[2]!.error).toBeUndefined();
    const error = results[1]!.error;
    expect(error).toBeInstanceOf(NetlinkErrnoError);
    // What Linux answers for an unknown ctnetlink message type (nfnetlink finds no callback).
    expect(error).toMatchObject({ code: 'ERR_NETLINK_ERRNO', errno: 22, errnoName: 'EINVAL', seq: results[1]!.seq });
  });

  it('times out with a typed error instead of blocking forever, and timers run while it waits', async () => {
    using socket = NetlinkSocket.open({ protocol: NETLINK_NETFILTER, netns: NETNS, timeoutMs: 300 });
    let ticks = 0;
    const timer = setInterval(() => ticks++, 5);
    const started = performance.now();
    try {
      await expect(socket.recv()).rejects.toThrow(NetlinkTimeoutError);
    } finally {
      clearInterval(timer);
    }
    expect(performance.now() - started).toBeGreaterThanOrEqual(290);
    // A blocking recv would have let none fire; 300 ms of 5 ms ticks is 60.
    expect(ticks).toBeGreaterThan(20);
  });

  it('ends a wait that would never be answered with the caller\'s AbortSignal, at once', async () => {
    using socket = NetlinkSocket.open({ protocol: NETLINK_NETFILTER, netns: NETNS, timeoutMs: 60_000 });
    const started = performance.now();
    await expect(socket.recv({ signal: AbortSignal.timeout(100) })).rejects.toThrow(expect.objectContaining({ name: 'NetlinkAbortError', code: 'ERR_ABORTED' }));
    expect(performance.now() - started).toBeLessThan(1000);
    // Closing while the last poll may still be in flight on the thread pool is safe.
    socket.close();
  });

  it('refuses to truncate a datagram larger than the receive buffer', async () => {
    using socket = NetlinkSocket.open({ protocol: NETLINK_NETFILTER, netns: NETNS, recvBufferBytes: 32 });
    socket.send(statsCpuDump(5));
    await expect(socket.recv()).rejects.toThrow(expect.objectContaining({ name: 'NetlinkSocketError', code: 'ERR_NETLINK_SOCKET', syscall: 'recv', errnoName: 'EMSGSIZE' }));
  });

  it('switches back and leaks nothing when socket() fails inside the namespace', () => {
    const before = readlinkSync(SELF_NS);
    const fds = openFds();
    // No netlink family uses protocol 31.
    expect(() => NetlinkSocket.open({ protocol: 31, netns: NETNS })).toThrow(
      expect.objectContaining({ name: 'NetlinkSocketError', code: 'ERR_NETLINK_SOCKET', syscall: 'socket', errnoName: 'EPROTONOSUPPORT' }),
    );
    expect(readlinkSync(SELF_NS)).toBe(before);
    expect(openFds()).toBe(fds);
  });

  it('refuses bad namespace names before touching anything', () => {
    const before = readlinkSync(SELF_NS);
    for (const bad of ['', 'UPPER', '../etc', 'a/b', 'a..b', '-dash', '.dot', '_under', 'sp ace', 'x'.repeat(64), 'nul\0']) {
      expect(() => NetlinkSocket.open({ protocol: NETLINK_NETFILTER, netns: bad })).toThrow(
        expect.objectContaining({ name: 'ValidationError', code: 'ERR_INVALID_NETNS_NAME', field: 'netns' }),
      );
    }
    expect(readlinkSync(SELF_NS)).toBe(before);
  });

  it('reports a missing namespace as ERR_NETNS_NOT_FOUND', () => {
    const before = readlinkSync(SELF_NS);
    const fds = openFds();
    expect(() => NetlinkSocket.open({ protocol: NETLINK_NETFILTER, netns: `cth-nltest-missing-${randomBytes(4).toString('hex')}` })).toThrow(
      expect.objectContaining({ name: 'NetnsNotFoundError', code: 'ERR_NETNS_NOT_FOUND' }),
    );
    expect(readlinkSync(SELF_NS)).toBe(before);
    expect(openFds()).toBe(fds);
  });

  it('throws ERR_SOCKET_CLOSED for every use after close; close is idempotent', async () => {
    const conn = NetlinkConnection.open({ protocol: NETLINK_NETFILTER, netns: NETNS });
    const socket = conn.socket;
    conn.close();
    conn.close();
    socket.close();
    expect(socket.closed).toBe(true);
    const closed = expect.objectContaining({ code: 'ERR_SOCKET_CLOSED' });
    expect(() => socket.send(statsCpuDump(1))).toThrow(closed);
    await expect(socket.recv()).rejects.toThrow(closed);
    expect(() => socket.tryRecv()).toThrow(closed);
    expect(() => socket.portId).toThrow(closed);
    await expect(conn.dump(statsCpuDump(2), () => {})).rejects.toThrow(closed);
    await expect(conn.transact([encodeNfMessage({ type: nfnlType(1, IPCTNL_MSG_CT_GET_STATS), flags: NLM_F_REQUEST | NLM_F_ACK, seq: 3, family: 0, attrs: [] })])).rejects.toThrow(closed);
  });

  it('opens and closes many sockets without leaking descriptors or moving the thread', () => {
    const before = readlinkSync(SELF_NS);
    const fds = openFds();
    const sockets = Array.from({ length: 50 }, () => NetlinkSocket.open({ protocol: NETLINK_NETFILTER, netns: NETNS, recvBufferBytes: 64 * 1024 }));
    expect(new Set(sockets.map((s) => s.portId)).size).toBe(50);
    for (const s of sockets) s.close();
    expect(openFds()).toBe(fds);
    expect(readlinkSync(SELF_NS)).toBe(before);
  });
});
