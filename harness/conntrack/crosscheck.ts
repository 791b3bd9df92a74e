// Field-by-field comparison of what the client lists with what conntrack-tools prints, in the three
// output formats that together show every field: `-o extended,ktimestamp,id` (text), `-o
// xml,ktimestamp` and `-o save`; and of the set of entries both select for the same filter. Used by
// suites/kernel/crosscheck.test.ts and `npm run compare`, on the table of crosscheck-table.ts.
import { HarnessError } from '../errors.ts';
import { canonicalAddress, familyOf } from './address.ts';
import { dumpResumeReference } from './features.ts';
import type { ConntrackClient } from './client.ts';
import {
  assertProtocol, keyString, protocolOf,
  type ConntrackEntry, type ConntrackKey, type ConntrackTuple, type Protocol,
} from './entry.ts';
import type { ConntrackFilter } from './filter.ts';
import { ConntrackOracle, parseExtendedLine, parseXml, type OracleEntry } from './oracle.ts';

/** Which output of the CLI a value came from. `list` is `ConntrackOracle.list` (the set comparison). */
export type OracleSource = 'text' | 'xml' | 'save' | 'list';

export interface FieldDifference {
  /** Kernel id and tuple of the entry. */
  entry: string;
  field: string;
  source: OracleSource;
  client: unknown;
  oracle: unknown;
}

/** A compared value as JSON (bigints as `123n`; undefined as `undefined`). */
function showValue(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v)) ?? 'undefined';
}

/** One difference on one line: `<entry>: <field> [<source>] client=<value> oracle=<value>`. */
export function describeDifference(d: FieldDifference): string {
  return `${d.entry}: ${d.field} [${d.source}] client=${showValue(d.client)} oracle=${showValue(d.oracle)}`;
}

/** One line per difference, for a failure message (vitest abbreviates arrays of objects). */
export function describeDifferences(report: Pick<CrossCheckReport, 'differences'>): string {
  return report.differences.map(describeDifference).join('\n');
}

export interface FieldTally {
  compared: number;
  differences: number;
}

/** An entry one side selects and the other does not, for a reason measured and predicted (see cliNatSelects). */
export interface ExplainedDifference {
  entry: string;
  /** Which side lists the entry. */
  listedBy: 'client' | 'oracle';
  why: string;
}

export interface CrossCheckReport {
  filter: ConntrackFilter;
  /** Entries the client listed. */
  compared: number;
  /** Entries `conntrack -L` (ConntrackOracle.list) listed for the same filter. */
  oracleListed: number;
  differences: FieldDifference[];
  /**
   * Set differences that are not errors: the CLI's documented rule, applied to the client's own
   * reading of the entry, predicts exactly this difference (only ICMP under a `nat` filter).
   */
  explained: ExplainedDifference[];
  /** Per field: how many comparisons were made and how many of them differed. */
  fields: Record<string, FieldTally>;
}

/** Both read `use` of an idle entry, and one of them from a dump that resumed on it (dumpResumeReference). */
function oneResumeReferenceApart(a: number | undefined, b: number | undefined): boolean {
  return a !== undefined && b !== undefined && Math.min(a, b) >= 1 && Math.abs(a - b) === 1;
}

/**
 * The timeouts the CLI may print for an entry the client read as `timeout` seconds, listing from
 * `clientStart` (ms) on, when the CLI ran until out.t1: the kernel counts down in whole seconds, so
 * it may have lost as many as the seconds between the two reads (a CLI process takes seconds
 * under emulation), one more for the rounding, and gained one by rounding.
 */
function timeoutRange(timeout: number, out: CliOutput, clientStart: number): [number, number] {
  return [timeout - Math.ceil((out.t1 - clientStart) / 1000) - 1, timeout + 1];
}

/** The `-u` flags `-o save` prints (conntrack_status_map of conntrack-tools 1.4.7); none is `UNSET`. */
export const SAVE_STATUS_FLAGS = ['SEEN_REPLY', 'ASSURED', 'FIXED_TIMEOUT', 'EXPECTED'] as const;

/** An entry as `conntrack -L -o save` prints it: a `-A` line that would create it again. */
export interface SaveEntry extends ConntrackKey {
  reply: ConntrackTuple;
  timeout?: number;
  state?: string;
  /** The `-u` flags, each one of SAVE_STATUS_FLAGS; `[]` for `-u UNSET`. */
  status: string[];
  /**
   * `-n` instead of `-q`: libnetfilter_conntrack's "is SNAT" (NFCT_GOPT_IS_SNAT), which is
   * SRC_NAT_DONE set and a reply destination that differs from the original source. A port-only
   * SNAT is not `-n` (its reply port shows it).
   */
  snat: boolean;
  /** `-g` instead of `-r`: DST_NAT_DONE set and a reply source that differs from the original destination. */
  dnat: boolean;
}

/** Options of `-o save` that the model has no field for. */
const SAVE_IGNORED = new Set(['-c', '--orig-vtag', '--reply-vtag']);
const SAVE_KNOWN = new Set([
  '-t', '-u', '-w', '--orig-zone', '--reply-zone', '-s', '-d', '-r', '-q', '-g', '-n', '-p', '--state',
  '--sport', '--dport', '--reply-port-src', '--reply-port-dst', '--srckey', '--dstkey', '--reply-key-src', '--reply-key-dst',
  '--icmp-type', '--icmp-code', '--icmp-id', '--icmpv6-type', '--icmpv6-code', '--icmpv6-id', ...SAVE_IGNORED,
]);

/**
 * Parses one line of `conntrack -L -o save` (conntrack-tools 1.4.7), e.g.
 * `-A -t 119 -u UNSET -w 77 -s 10.7.0.1 -d 10.7.0.2 -g 10.7.8.8 -n 10.7.9.9 -p tcp --sport 4005 ...`.
 * Every option takes one value. Generic protocols are `-p <number>`; ICMP has no reply type there.
 */
export function parseSaveLine(line: string): SaveEntry {
  const tokens = line.trim().split(/\s+/);
  const bad = (why: string): never => {
    throw new HarnessError('ERR_ORACLE_PARSE', `cannot parse conntrack -o save output (${why}): ${line}`);
  };
  if (tokens[0] !== '-A') bad('no -A');
  const opts = new Map<string, string>();
  for (let i = 1; i < tokens.length; i += 2) {
    const option = tokens[i]!;
    const value = tokens[i + 1];
    if (!SAVE_KNOWN.has(option)) bad(`unknown option ${option}`);
    if (value === undefined) bad(`${option} without a value`);
    if (opts.has(option)) bad(`${option} twice`);
    opts.set(option, value!);
  }
  const num = (option: string): number | undefined => {
    const v = opts.get(option);
    if (v === undefined) return undefined;
    if (!/^\d+$/.test(v)) bad(`${option} ${v}`);
    return Number(v);
  };
  const address = (option: string): string => {
    const v = opts.get(option) ?? bad(`no ${option}`);
    if (!familyOf(v)) bad(`${option} ${v}`);
    return canonicalAddress(v);
  };
  const p = opts.get('-p') ?? bad('no -p');
  let protocol: Protocol;
  try {
    protocol = /^\d+$/.test(p) ? protocolOf(Number(p)) : assertProtocol(p);
  } catch {
    return bad(`protocol ${p}`);
  }
  const src = address('-s');
  const u = opts.get('-u') ?? bad('no -u');
  const status = u === 'UNSET' ? [] : u.split(',');
  if (status.some((f) => !(SAVE_STATUS_FLAGS as readonly string[]).includes(f))) bad(`-u ${u}`);
  const entry: SaveEntry = {
    family: familyOf(src)!, protocol, src, dst: address('-d'), zone: num('-w') ?? 0,
    reply: { src: address(opts.has('-g') ? '-g' : '-r'), dst: address(opts.has('-n') ? '-n' : '-q') },
    status, snat: opts.has('-n'), dnat: opts.has('-g'),
  };
  if (opts.has('--orig-zone')) entry.origZone = num('--orig-zone');
  if (opts.has('--reply-zone')) entry.replyZone = num('--reply-zone');
  if (opts.has('-t')) entry.timeout = num('-t');
  if (opts.has('--state')) entry.state = opts.get('--state');
  const pair = (a: string, b: string, into: ConntrackTuple, as: ['sport', 'dport'] | ['icmpType', 'icmpCode']) => {
    if (opts.has(a)) {
      into[as[0]] = num(a);
      into[as[1]] = num(b);
    }
  };
  pair('--sport', '--dport', entry, ['sport', 'dport']);
  pair('--srckey', '--dstkey', entry, ['sport', 'dport']);
  pair('--reply-port-src', '--reply-port-dst', entry.reply, ['sport', 'dport']);
  pair('--reply-key-src', '--reply-key-dst', entry.reply, ['sport', 'dport']);
  for (const icmp of ['--icmp', '--icmpv6']) {
    pair(`${icmp}-type`, `${icmp}-code`, entry, ['icmpType', 'icmpCode']);
    if (opts.has(`${icmp}-id`)) entry.icmpId = num(`${icmp}-id`);
  }
  return entry;
}

/** A deterministic text for any value (bigints included, object keys sorted), to compare values. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (typeof v === 'bigint') return `${v}n`;
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
      return Object.fromEntries(Object.entries(v).filter(([, x]) => x !== undefined).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    }
    return v;
  }) ?? 'undefined';
}

function describeEntry(e: ConntrackKey & { id?: number }): string {
  const zones = `zone=${e.zone}${e.origZone !== undefined ? ` orig-zone=${e.origZone}` : ''}${e.replyZone !== undefined ? ` reply-zone=${e.replyZone}` : ''}`;
  const ports = e.sport !== undefined ? ` ${e.sport} -> ${e.dport}` : e.icmpType !== undefined ? ` type=${e.icmpType} id=${e.icmpId}` : '';
  return `id=${e.id} ${e.family} ${e.protocol} ${e.src} -> ${e.dst}${ports} ${zones}`;
}

const NS_PER_S = 1_000_000_000n;

/** Whole seconds of a timestamp (what `[start=...]` and `delta-time=` are computed from). */
function seconds(ts: ConntrackEntry['timestamp']): ConntrackEntry['timestamp'] {
  if (!ts) return undefined;
  return ts.stop === undefined ? { start: (ts.start / NS_PER_S) * NS_PER_S } : { start: (ts.start / NS_PER_S) * NS_PER_S, stop: (ts.stop / NS_PER_S) * NS_PER_S };
}

/**
 * What libnetfilter_conntrack keeps in the 16-bit "port" of a tuple's source or destination, the
 * field NFCT_GOPT_IS_SPAT/IS_DPAT compare: ports and GRE keys as such; for ICMP the id (source)
 * and the type and code bytes (destination), read as one big-endian number; 0 for a generic protocol.
 */
function l4Port(t: ConntrackTuple | undefined, side: 'src' | 'dst'): number {
  if (!t) return 0;
  if (t.icmpType !== undefined) return side === 'src' ? t.icmpId ?? 0 : (t.icmpType << 8) | (t.icmpCode ?? 0);
  return (side === 'src' ? t.sport : t.dport) ?? 0;
}

/**
 * Whether `conntrack -L --src-nat` / `--dst-nat` / `--any-nat` (no address) lists `e`: conntrack-tools
 * 1.4.7's filter_nat with libnetfilter_conntrack's NFCT_GOPT_IS_SNAT/IS_SPAT (SRC_NAT_DONE and a
 * reply destination address, or port, that differs from the original source's) and IS_DNAT/IS_DPAT
 * (DST_NAT_DONE and the reply source against the original destination). Measured: ctnetlink NAT
 * sets both *_NAT_DONE bits, and for ICMP the "ports" are the id against the type/code bytes, so
 * `--dst-nat` lists an ICMP entry with SNAT only unless its id equals type << 8 | code (id 9 is
 * listed, id 2048 = 0x0800 for an echo request is not), and `--src-nat` one with DNAT only unless
 * its id equals the reply's type << 8 | code. The client's `nat` filter is the kernel's
 * SRC_NAT/DST_NAT bit: those ICMP entries are where the two legitimately differ.
 */
export function cliNatSelects(e: ConntrackEntry, nat: 'src' | 'dst' | 'any'): boolean {
  const has = (flag: string) => (e.status ?? []).includes(flag);
  const snat = has('SRC_NAT_DONE') && (e.reply?.dst !== e.src || l4Port(e.reply, 'dst') !== l4Port(e, 'src'));
  const dnat = has('DST_NAT_DONE') && (e.reply?.src !== e.dst || l4Port(e.reply, 'src') !== l4Port(e, 'dst'));
  return nat === 'src' ? snat : nat === 'dst' ? dnat : snat || dnat;
}

/** The client's `nat` filter: the kernel's SRC_NAT / DST_NAT status bits. */
function clientNatSelects(e: ConntrackEntry, nat: 'src' | 'dst' | 'any'): boolean {
  const has = (flag: string) => (e.status ?? []).includes(flag);
  return nat === 'src' ? has('SRC_NAT') : nat === 'dst' ? has('DST_NAT') : has('SRC_NAT') || has('DST_NAT');
}

interface CliOutput {
  stdout: string;
  /** Date.now() just before the command started and just after it ended. */
  t0: number;
  t1: number;
}

/**
 * How far time(2) may lag behind Date.now(): glibc answers it from the vDSO's coarse clock, which
 * moves once per tick (4 ms with this kernel's CONFIG_HZ=250; 10 ms at the lowest HZ, 100).
 */
const COARSE_CLOCK_LAG_MS = 10;

/**
 * The `delta-time=` the CLI may have printed for an entry with timestamp `ts`, run between `t0`
 * and `t1` (ms): libnetfilter_conntrack prints `time(NULL) - start/1e9` (or `stop/1e9 - start/1e9`
 * for a dying entry), so the value lies in this interval, bounds included.
 */
function deltaRange(ts: NonNullable<ConntrackEntry['timestamp']>, out: CliOutput): [number, number] {
  const start = Number(ts.start / NS_PER_S);
  if (ts.stop !== undefined) return [Number(ts.stop / NS_PER_S) - start, Number(ts.stop / NS_PER_S) - start];
  return [Math.floor((out.t0 - COARSE_CLOCK_LAG_MS) / 1000) - start, Math.floor(out.t1 / 1000) - start];
}

async function cliList(oracle: ConntrackOracle, format: string, args: readonly string[]): Promise<CliOutput> {
  const t0 = Date.now();
  const { stdout } = await oracle.run(['-L', '-o', format, ...args]);
  return { stdout, t0, t1: Date.now() };
}

const lines = (text: string) => text.split('\n').filter((l) => l.trim().length > 0);

/** Entries by kernel id; ids are 32-bit hashes and may repeat, so the tuple picks among equals. */
class ById<T extends ConntrackKey & { id?: number }> {
  readonly #byId = new Map<number | undefined, T[]>();

  constructor(entries: readonly T[]) {
    for (const e of entries) this.#byId.set(e.id, [...(this.#byId.get(e.id) ?? []), e]);
  }

  /** Removes and returns the entry with `c`'s id (and tuple, when several share the id). */
  take(c: ConntrackEntry): T | undefined {
    const candidates = this.#byId.get(c.id) ?? [];
    const found = candidates.find((e) => keyString(e) === keyString(c)) ?? (candidates.length === 1 ? candidates[0] : undefined);
    if (found) this.#byId.set(c.id, candidates.filter((e) => e !== found));
    return found;
  }

  get rest(): T[] {
    return [...this.#byId.values()].flat();
  }
}

/**
 * Compares `client.list(filter)` with what conntrack-tools prints for the same filter, field by
 * field, and the set of entries each side selects:
 *
 * - text (`-o extended,ktimestamp,id`): family, protocol (a generic one by number, `unknown  200`),
 *   addresses, zone, origZone (`zone-orig=`), replyZone (`zone-reply=`), ports, GRE keys, ICMP
 *   type/code/id, the reply tuple (NAT included), mark, timeout, state, use, counters,
 *   `delta-time=`, the start timestamp to the second (`[start=...]`, ctime), helper, and the flags
 *   it prints: `[UNREPLIED]` (SEEN_REPLY clear), and after the reply tuple `[OFFLOAD]` when OFFLOAD
 *   is set, else `[ASSURED]` when ASSURED is (libnetfilter_conntrack's __snprintf_status_assured);
 * - XML (`-o xml,ktimestamp`): the same minus ICMP fields (GRE keys are there, in hex), with the
 *   start timestamp exact in ns (`<timestamp><start>`) and SEEN_REPLY/ASSURED as
 *   `<unreplied/>`/`<assured/>`; the state only for TCP, as the XML names every protocol's state
 *   from the TCP table;
 * - save (`-o save`): the key, the reply tuple, the state, the timeout, the `-u` flags (SEEN_REPLY,
 *   ASSURED, FIXED_TIMEOUT, EXPECTED), and `-n`/`-g`, compared with the rule the CLI applies (see
 *   SaveEntry) to the client's SRC_NAT_DONE/DST_NAT_DONE bits and tuples;
 * - the set: the keys of `client.list(filter)` against those of `ConntrackOracle.list(filter)`, and
 *   every entry of each output must match one the client listed (by id) and the other way round.
 *   Under a `nat` filter the CLI's rule (cliNatSelects) applied to the client's entries must also
 *   predict exactly what the CLI lists (`(set: CLI NAT rule)`); where that rule and the kernel's
 *   NAT bit disagree for an ICMP entry, the entry is reported in `explained`, not as a difference.
 *
 * `use` is compared exactly: both sides read it from a dump, where the kernel reports the entry's
 * own count (1 for an idle entry). A GET (`conntrack -G`, `ConntrackClient.get`) reports one more (2),
 * the reference the lookup holds while it answers; the cross-check never compares a GET. On a
 * kernel whose resumed dumps hold a reference on the entry they resume from (5.10; probed by
 * dumpResumeReference), the CLI's 8 KiB batches and the client's larger ones resume on different
 * entries, so there the two may differ by exactly one.
 * `delta-time` must lie in the interval the CLI's run allows (deltaRange), the timeout in the one
 * the seconds between the client's read and the CLI's allow (timeoutRange).
 * Labels are not compared: the CLI prints them only by connlabel.conf name.
 */
export async function crossCheck(client: ConntrackClient, oracle: ConntrackOracle, filter: ConntrackFilter = {}): Promise<CrossCheckReport> {
  const args = ConntrackOracle.filterArgs(filter);
  // Probed first (once per process, seconds under emulation): its time is not the two reads'.
  const resumeReference = await dumpResumeReference();
  const clientStart = Date.now();
  const mine = await client.list(filter);
  const textOut = await cliList(oracle, 'extended,ktimestamp,id', args);
  const xmlOut = await cliList(oracle, 'xml,ktimestamp', args);
  const saveOut = await cliList(oracle, 'save', args);
  // As ConntrackOracle.list/listXml do: the zone filter is re-applied to what the CLI printed.
  const inZone = <T extends ConntrackKey>(entries: T[]): T[] => (filter.zone === undefined ? entries : entries.filter((e) => e.zone === filter.zone));
  // The text output is what ConntrackOracle.list parses: it is also the set the CLI selects.
  const listed = inZone(lines(textOut.stdout).map(parseExtendedLine));
  const text = new ById<OracleEntry>(listed);
  const xml = new ById<OracleEntry>(inZone(parseXml(xmlOut.stdout)));
  const saved = new Map<string, SaveEntry[]>();
  for (const s of inZone(lines(saveOut.stdout).map(parseSaveLine))) saved.set(keyString(s), [...(saved.get(keyString(s)) ?? []), s]);

  const differences: FieldDifference[] = [];
  const fields: Record<string, FieldTally> = {};
  const record = (entry: string, field: string, source: OracleSource, same: boolean, a: unknown, b: unknown) => {
    const tally = (fields[field] ??= { compared: 0, differences: 0 });
    tally.compared++;
    if (!same) {
      tally.differences++;
      differences.push({ entry, field, source, client: a, oracle: b });
    }
  };
  const eq = (entry: string, field: string, source: OracleSource, a: unknown, b: unknown) => record(entry, field, source, canonical(a) === canonical(b), a, b);

  // The set: what each side selects for this filter.
  const mineKeys = new Set(mine.map(keyString));
  const listedKeys = new Set(listed.map(keyString));
  const explained: ExplainedDifference[] = [];
  const explainedKeys = new Set<string>();
  const explainedIds = new Set<number>();
  let withoutNat: Map<string, ConntrackEntry> | undefined;
  if (filter.nat !== undefined) {
    // The CLI's own NAT rule applied to the client's entries must predict the CLI's selection exactly.
    const { nat: _nat, ...rest } = filter;
    withoutNat = new Map((await client.list(rest)).map((e) => [keyString(e), e]));
    const predicted = new Set([...withoutNat].filter(([, e]) => cliNatSelects(e, filter.nat!)).map(([k]) => k));
    for (const k of new Set([...predicted, ...listedKeys])) {
      record(k, '(set: CLI NAT rule)', 'list', predicted.has(k) === listedKeys.has(k), predicted.has(k) ? 'predicted' : 'not predicted', listedKeys.has(k) ? 'listed' : 'missing');
    }
  }
  for (const k of new Set([...mineKeys, ...listedKeys])) {
    const [a, b] = [mineKeys.has(k), listedKeys.has(k)];
    const e = withoutNat?.get(k);
    if (a !== b && filter.nat !== undefined && e && (e.protocol === 'icmp' || e.protocol === 'icmpv6')
      && clientNatSelects(e, filter.nat) === a && cliNatSelects(e, filter.nat) === b) {
      explained.push({ entry: k, listedBy: a ? 'client' : 'oracle', why: `ICMP under --${filter.nat}-nat: the CLI compares the id with the type/code bytes (cliNatSelects); the kernel's ${filter.nat === 'dst' ? 'DST_NAT' : filter.nat === 'src' ? 'SRC_NAT' : 'SRC_NAT/DST_NAT'} bit says otherwise` });
      explainedKeys.add(k);
      if (e.id !== undefined) explainedIds.add(e.id);
      record(k, '(set: ICMP NAT quirk)', 'list', true, a ? 'listed' : 'missing', b ? 'listed' : 'missing');
      continue;
    }
    record(k, '(set)', 'list', a === b, a ? 'listed' : 'missing', b ? 'listed' : 'missing');
  }

  for (const c of mine) {
    const name = describeEntry(c);
    const has = (flag: string) => (c.status ?? []).includes(flag);
    const t = text.take(c);
    const x = xml.take(c);
    const candidates = saved.get(keyString(c)) ?? [];
    const s = candidates.shift();
    for (const [source, o] of [['text', t], ['xml', x], ['save', s]] as const) {
      record(name, '(presence)', source, o !== undefined, 'listed', o === undefined ? 'missing' : 'listed');
    }
    const key = ['family', 'protocol', 'src', 'dst', 'zone', 'origZone', 'replyZone'] as const;
    const ports = ['sport', 'dport'] as const;
    const icmp = ['icmpType', 'icmpCode', 'icmpId'] as const;
    for (const [source, o, out] of [['text', t, textOut], ['xml', x, xmlOut], ['save', s, saveOut]] as const) {
      if (!o) continue;
      for (const f of key) eq(name, f, source, c[f], o[f]);
      for (const f of ports) eq(name, f, source, c[f], o[f]);
      for (const f of ['src', 'dst'] as const) eq(name, `reply.${f}`, source, c.reply?.[f], o.reply?.[f]);
      for (const f of ports) eq(name, `reply.${f}`, source, c.reply?.[f], o.reply?.[f]);
      const range = c.timeout === undefined ? undefined : timeoutRange(c.timeout, out, clientStart);
      const timeoutOk = range !== undefined && o.timeout !== undefined && o.timeout >= range[0] && o.timeout <= range[1];
      record(name, 'timeout', source, timeoutOk || (c.timeout === undefined && o.timeout === undefined), range ? `${c.timeout} (${range[0]}..${range[1]})` : c.timeout, o.timeout);
    }
    // ICMP type/code/id: in the text both ways, in save the original only, not in the XML.
    if (t) for (const f of icmp) {
      eq(name, f, 'text', c[f], t[f]);
      eq(name, `reply.${f}`, 'text', c.reply?.[f], t.reply?.[f]);
    }
    if (s) for (const f of icmp) eq(name, f, 'save', c[f], s[f]);
    // The state: named right in text and save; the XML names every protocol's state from the TCP
    // table (SCTP ESTABLISHED comes out as FIN_WAIT), so it is compared there for TCP only.
    if (t) eq(name, 'state', 'text', c.state, t.state);
    if (x && c.protocol === 'tcp') eq(name, 'state', 'xml', c.state, x.state);
    if (s) eq(name, 'state', 'save', c.state, s.state);
    for (const [source, o, out] of [['text', t, textOut], ['xml', x, xmlOut]] as const) {
      if (!o) continue;
      for (const f of ['mark', 'counters', 'helper'] as const) eq(name, f, source, c[f], o[f]);
      record(name, 'use', source, c.use === o.use || (resumeReference && oneResumeReferenceApart(c.use, o.use)), c.use, o.use);
      // Timestamps: exact (ns) in the XML, whole seconds in the text's ctime.
      if (source === 'xml') eq(name, 'timestamp', source, c.timestamp, o.timestamp);
      else eq(name, 'timestamp', source, seconds(c.timestamp), o.timestamp);
      if (c.timestamp) {
        const [lo, hi] = deltaRange(c.timestamp, out);
        record(name, 'deltaTime', source, o.deltaTime !== undefined && o.deltaTime >= lo && o.deltaTime <= hi, lo === hi ? lo : `${lo}..${hi}`, o.deltaTime);
      } else {
        record(name, 'deltaTime', source, o.deltaTime === undefined, undefined, o.deltaTime);
      }
      eq(name, 'status.SEEN_REPLY', source, has('SEEN_REPLY'), !(o.status ?? []).includes('UNREPLIED'));
    }
    if (x) eq(name, 'status.ASSURED', 'xml', has('ASSURED'), (x.status ?? []).includes('ASSURED'));
    if (t) {
      const shown = t.status ?? [];
      const after = has('OFFLOAD') ? 'OFFLOAD' : has('ASSURED') ? 'ASSURED' : undefined;
      eq(name, 'status.ASSURED', 'text', after === 'ASSURED', shown.includes('ASSURED'));
      eq(name, 'status.OFFLOAD', 'text', after === 'OFFLOAD', shown.includes('OFFLOAD'));
      // Exactly these flags, in the order printed: nothing else may appear in brackets.
      eq(name, 'status (text flags)', 'text', [...(has('SEEN_REPLY') ? [] : ['UNREPLIED']), ...(after ? [after] : [])], shown);
    }
    if (s) {
      for (const f of SAVE_STATUS_FLAGS) eq(name, `status.${f}`, 'save', has(f), s.status.includes(f));
      // `-n`/`-g`: NFCT_GOPT_IS_SNAT/IS_DNAT, applied to the client's bits and tuples.
      eq(name, 'nat.src (-n)', 'save', has('SRC_NAT_DONE') && c.reply?.dst !== c.src, s.snat);
      eq(name, 'nat.dst (-g)', 'save', has('DST_NAT_DONE') && c.reply?.src !== c.dst, s.dnat);
    }
  }
  for (const [source, rest] of [['text', text.rest], ['xml', xml.rest], ['save', [...saved.values()].flat()]] as const) {
    for (const o of rest) {
      // An entry the set comparison explained is in every output of the CLI, and not the client's
      // (by id: the XML has no ICMP fields, so its key is not the entry's).
      const id = (o as { id?: number }).id;
      if (source === 'save' ? explainedKeys.has(keyString(o)) : id !== undefined && explainedIds.has(id)) record(describeEntry(o), '(set: ICMP NAT quirk)', source, true, 'missing', 'listed');
      else record(describeEntry(o), '(presence)', source, false, 'missing', 'listed');
    }
  }
  return { filter, compared: mine.length, oracleListed: listed.length, differences, explained, fields };
}

/** Adds every tally of `report` to `into` (for a summary over several filters). */
export function addTallies(into: Record<string, FieldTally>, report: CrossCheckReport): Record<string, FieldTally> {
  for (const [field, t] of Object.entries(report.fields)) {
    const sum = (into[field] ??= { compared: 0, differences: 0 });
    sum.compared += t.compared;
    sum.differences += t.differences;
  }
  return into;
}
