// The independent oracle: conntrack-tools' `conntrack` CLI run inside a namespace. Suites use it
// to cross-check the client, so a codec bug cannot pass by agreeing with itself.
import { writeFile } from 'node:fs/promises';
import tmp from 'tmp';
import { HarnessError, ValidationError } from '../errors.ts';
import { execute, type ExecuteOptions } from '../os/execute.ts';
import { assertNetnsName } from '../os/names.ts';
import { conntrackBinary, ORACLE_FEATURES_SINCE } from '../os/prerequisites.ts';
import { compareVersions } from '../os/versions.ts';
import { canonicalAddress, familyOf } from './address.ts';
import {
  assertZone, defaultState, normalizeKey, protocolNumber, protocolOf, tupleShape,
  type ConntrackEntry, type ConntrackKey, type ConntrackTuple, type EntryChanges, type EntryInput, type Family, type Protocol,
} from './entry.ts';
import type { ConntrackFilter } from './filter.ts';

tmp.setGracefulCleanup();

const CLI_TIMEOUT_MS = 120_000;

export type OracleFeature = keyof typeof ORACLE_FEATURES_SINCE;
/** Without -R, entries are created by this many `conntrack -I` processes at a time. */
const CREATE_CONCURRENCY = 8;

/** `conntrack --version` of each binary, asked once per process. */
const versions = new Map<string, Promise<string>>();

/** The version a conntrack binary reports (`1.4.6`). */
export function conntrackToolsVersion(binary: string = conntrackBinary()): Promise<string> {
  let version = versions.get(binary);
  if (!version) {
    version = execute([binary, '--version'], { timeout: 10_000 }).then(({ stdout, stderr }) => {
      const printed = `${stdout}${stderr}`;
      const v = /conntrack v(\d+\.\d+\.\d+)/.exec(printed)?.[1];
      if (!v) throw new HarnessError('ERR_ORACLE_PARSE', `${binary} --version printed no version: ${printed.trim()}`);
      return v;
    });
    versions.set(binary, version);
    version.catch(() => versions.delete(binary));
  }
  return version;
}

/** The filter keys filterArgs maps to conntrack options (the oracle's own list, not the client's). */
const ORACLE_FILTER_KEYS = new Set([
  'zone', 'origZone', 'replyZone', 'family', 'protocol', 'src', 'dst', 'replySrc', 'replyDst',
  'sport', 'dport', 'mark', 'status', 'state', 'nat',
]);

/**
 * conntrack-tools selects entries for -L, -D and -U by dumping and comparing in userspace, and that
 * comparison ignores --srckey/--dstkey (seen in 1.4.6, 1.4.7 and 1.4.8): `-D -p gre ... --srckey 1`
 * deletes every GRE entry of those addresses. Only -G (a kernel lookup) honours the keys. So the
 * oracle refuses a GRE key where it would select, rather than widen the selection.
 */
function refuseGreKeys(protocol: Protocol | number | undefined, keyed: boolean, what: string): void {
  if (keyed && (protocol === 'gre' || protocol === 47)) {
    throw new HarnessError('ERR_ORACLE_UNSUPPORTED', `conntrack ${what} cannot select by GRE key: it ignores --srckey/--dstkey and would match every GRE entry of those addresses`);
  }
}

/** `-p` for a protocol: its number when it is generic (names of those depend on /etc/protocols). */
function protoArg(protocol: Protocol): string {
  return tupleShape(protocol) === 'generic' ? String(protocolNumber(protocol)) : String(protocol);
}

/** The zone options of a key: `-w`, or the one directional zone. */
function zoneArgs(key: Pick<ConntrackKey, 'zone' | 'origZone' | 'replyZone'>): string[] {
  if (key.origZone !== undefined) return ['--orig-zone', String(key.origZone)];
  if (key.replyZone !== undefined) return ['--reply-zone', String(key.replyZone)];
  return ['-w', String(key.zone)];
}

/** `conntrack` arguments that select one entry by its original tuple and zone. */
export function tupleArgs(key: ConntrackKey, withZone = true): string[] {
  const args = ['-p', protoArg(key.protocol), '-s', key.src, '-d', key.dst];
  if (key.protocol === 'gre') {
    args.push('--srckey', String(key.sport), '--dstkey', String(key.dport));
  } else if (key.sport !== undefined) {
    args.push('--sport', String(key.sport), '--dport', String(key.dport));
  } else if (key.icmpType !== undefined) {
    const p = key.protocol === 'icmpv6' ? '--icmpv6' : '--icmp';
    args.push(`${p}-type`, String(key.icmpType), `${p}-code`, String(key.icmpCode), `${p}-id`, String(key.icmpId));
  }
  if (withZone) args.push(...zoneArgs(key));
  return args;
}

function natArg(nat: { address: string; port?: number }): string {
  const address = nat.address.includes(':') ? `[${nat.address}]` : nat.address;
  return nat.port === undefined ? nat.address : `${address}:${nat.port}`;
}

/** `conntrack -I` arguments for an entry (without the `-I`). */
export function createArgs(input: EntryInput): string[] {
  const key = normalizeKey(input);
  const args = tupleArgs(key);
  args.push('-t', String(input.timeout ?? 120));
  const state = input.state ?? defaultState(key.protocol);
  if (state !== undefined) args.push('--state', state);
  if (key.protocol === 'sctp') args.push('--orig-vtag', '1', '--reply-vtag', '2');
  // -u before -m: conntrack-tools 1.4.7 stores the -u bits in the mark when -u comes after -m
  // (`-m 7 -u ASSURED` creates mark=4).
  const status = (input.status ?? []).filter((s) => s === 'ASSURED' || s === 'SEEN_REPLY');
  if (status.length > 0) args.push('-u', status.join(','));
  if (input.mark !== undefined) args.push('-m', String(input.mark));
  if (input.snat) args.push('--src-nat', natArg(input.snat));
  if (input.dnat) args.push('--dst-nat', natArg(input.dnat));
  if (input.reply) {
    args.push('-r', input.reply.src, '-q', input.reply.dst);
    if (input.reply.sport !== undefined) args.push('--reply-port-src', String(input.reply.sport), '--reply-port-dst', String(input.reply.dport));
  }
  if (input.labels !== undefined) {
    throw new HarnessError('ERR_ORACLE_UNSUPPORTED', 'the oracle does not create labelled entries: conntrack --label-add needs label names from /etc/xtables/connlabel.conf');
  }
  return args;
}

function parseTuple(fields: Map<string, string>): ConntrackTuple {
  const tuple: ConntrackTuple = { src: canonicalAddress(fields.get('src') ?? ''), dst: canonicalAddress(fields.get('dst') ?? '') };
  const num = (k: string) => {
    const v = fields.get(k);
    return v === undefined ? undefined : Number(v);
  };
  if (fields.has('sport')) {
    tuple.sport = num('sport');
    tuple.dport = num('dport');
  } else if (fields.has('srckey')) {
    tuple.sport = num('srckey');
    tuple.dport = num('dstkey');
  } else if (fields.has('type')) {
    tuple.icmpType = num('type');
    tuple.icmpCode = num('code');
    tuple.icmpId = num('id');
  }
  return tuple;
}

/**
 * What the oracle's parsers return: an entry, plus what only the CLI prints. `deltaTime` is
 * `delta-time=` (text) or `<deltatime>` (XML), printed when the entry has a start timestamp: whole
 * seconds from the start to the moment the CLI printed the line (to the stop of a dying entry),
 * computed by libnetfilter_conntrack as `time(NULL) - start / 1e9`.
 */
export interface OracleEntry extends ConntrackEntry {
  deltaTime?: number;
}

const CTIME_MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/**
 * The time of a `[start=Thu Nov 26 20:07:14 2026]` field (`-o ktimestamp`), in ns since the epoch.
 * The CLI prints the start with ctime(3): local time, whole seconds. It runs with this process's
 * environment (TZ, /etc/localtime), so the text is read back as local time here too; the result is
 * a whole number of seconds. Undefined when the text is not ctime's.
 */
export function parseCtime(text: string): bigint | undefined {
  const m = /^[A-Z][a-z]{2} ([A-Z][a-z]{2}) +(\d{1,2}) (\d{2}):(\d{2}):(\d{2}) (\d{4,})$/.exec(text.trim());
  const month = m ? CTIME_MONTHS.indexOf(m[1]!) : -1;
  if (!m || month < 0) return undefined;
  const ms = new Date(Number(m[6]), month, Number(m[2]), Number(m[3]), Number(m[4]), Number(m[5])).getTime();
  return Number.isNaN(ms) ? undefined : BigInt(ms / 1000) * 1_000_000_000n;
}

/**
 * Parses one line of `conntrack -L -o extended,id`, also with `ktimestamp`: the tuples, zones
 * (`zone=`, `zone-orig=`, `zone-reply=`), `packets=`/`bytes=` per direction, the bracketed flags
 * (`[UNREPLIED]`, `[ASSURED]`, `[OFFLOAD]`, ... in `status`), `mark=`, `delta-time=`,
 * `[start=...]`/`[stop=...]` (whole seconds, see parseCtime), `helper=`, `use=` and `id=`.
 * A generic protocol is printed `unknown  200`: the number is read, and named where the model
 * knows a name (2 is `igmp`).
 */
export function parseExtendedLine(line: string): OracleEntry {
  const tokens = line.trim().split(/\s+/);
  const bad = (why: string): never => {
    throw new HarnessError('ERR_ORACLE_PARSE', `cannot parse conntrack output (${why}): ${line}`);
  };
  if (tokens.length < 6) bad('too short');
  const family = tokens[0] === 'ipv4' || tokens[0] === 'ipv6' ? tokens[0] : bad(`family ${tokens[0]}`);
  const protoNum = Number(tokens[3]);
  if (!Number.isInteger(protoNum) || protoNum < 0 || protoNum > 255) bad(`protocol ${tokens[3]}`);
  const protocol = protocolOf(protoNum);
  const entry: Partial<OracleEntry> = { family, protocol, timeout: Number(tokens[4]) };
  const status: string[] = [];
  const orig = new Map<string, string>();
  const reply = new Map<string, string>();
  const counters: Array<{ packets: number; bytes: number }> = [];
  const times: { start?: bigint; stop?: bigint } = {};
  let current = orig;
  let i = 5;
  if (tokens[i] && !tokens[i]!.includes('=') && !tokens[i]!.startsWith('[')) entry.state = tokens[i++];
  for (; i < tokens.length; i++) {
    const token = tokens[i]!;
    if (token.startsWith('[')) {
      // A flag (`[ASSURED]`), or `[start=Thu Nov 26 20:07:14 2026]`: spaces inside, so several tokens.
      let bracket = token;
      while (!bracket.endsWith(']') && i + 1 < tokens.length) bracket += ` ${tokens[++i]!}`;
      if (!bracket.endsWith(']')) bad(`unclosed ${bracket}`);
      const inner = bracket.slice(1, -1);
      const at = inner.indexOf('=');
      if (at < 0) status.push(inner);
      else if (inner.startsWith('start=') || inner.startsWith('stop=')) {
        times[inner.startsWith('start=') ? 'start' : 'stop'] = parseCtime(inner.slice(at + 1)) ?? bad(`time ${inner}`);
      } else bad(`bracketed ${inner}`);
      continue;
    }
    const eq = token.indexOf('=');
    if (eq < 0) continue;
    const k = token.slice(0, eq);
    const v = token.slice(eq + 1);
    if (k === 'src' && current.has('src')) current = reply;
    if (current === reply && (k === 'mark' || k === 'zone' || k === 'use' || k === 'secctx' || k === 'labels' || k === 'helper' || k === 'delta-time')) current = new Map();
    switch (k) {
      case 'mark': entry.mark = Number(v); break;
      case 'zone': entry.zone = Number(v); break;
      case 'zone-orig': entry.origZone = Number(v); break;
      case 'zone-reply': entry.replyZone = Number(v); break;
      case 'use': entry.use = Number(v); break;
      case 'helper': entry.helper = v; break;
      case 'delta-time': entry.deltaTime = Number(v); break;
      case 'packets': counters.push({ packets: Number(v), bytes: 0 }); break;
      case 'bytes': counters[counters.length - 1]!.bytes = Number(v); break;
      case 'id': if (current !== orig && current !== reply) entry.id = Number(v); else current.set(k, v); break;
      case 'srckey': case 'dstkey': current.set(k, String(Number.parseInt(v, 16))); break;
      default: current.set(k, v);
    }
  }
  const tuple = parseTuple(orig);
  const result: OracleEntry = { ...entry, ...tuple, family, protocol, zone: entry.zone ?? 0 } as OracleEntry;
  if (reply.size > 0) result.reply = parseTuple(reply);
  if (counters.length === 2) result.counters = { orig: counters[0]!, reply: counters[1]! };
  if (times.start !== undefined) result.timestamp = times.stop === undefined ? { start: times.start } : { start: times.start, stop: times.stop };
  result.status = status;
  return result;
}

/** An expectation as `conntrack -L expect` prints it (the family is not printed: it follows the addresses). */
export interface OracleExpectation {
  timeout: number;
  protocol: Protocol;
  tuple: ConntrackTuple;
  mask: { src: string; sport?: number };
  master: ConntrackTuple;
  class: number;
  helper?: string;
}

/** Parses one line of `conntrack -L expect`: timeout, proto=, the tuple, mask-*, master-*, class=, helper=. */
export function parseExpectLine(line: string): OracleExpectation {
  const tokens = line.trim().split(/\s+/);
  const bad = (why: string): never => {
    throw new HarnessError('ERR_ORACLE_PARSE', `cannot parse conntrack expect output (${why}): ${line}`);
  };
  const timeout = Number(tokens[0]);
  if (!Number.isInteger(timeout)) bad('timeout');
  const parts: Array<Map<string, string>> = [new Map(), new Map(), new Map()];
  let part = 0;
  let protocol: Protocol | undefined;
  let cls = 0;
  let helper: string | undefined;
  for (const token of tokens.slice(1)) {
    const eq = token.indexOf('=');
    if (eq < 0) continue;
    const k = token.slice(0, eq);
    const v = token.slice(eq + 1);
    if (k === 'proto') protocol = protocolOf(Number(v));
    else if (k === 'class') cls = Number(v);
    else if (k === 'helper') helper = v;
    else if (k.startsWith('mask-')) parts[(part = 1)]!.set(k.slice(5), v);
    else if (k.startsWith('master-')) parts[(part = 2)]!.set(k.slice(7), v);
    else parts[part]!.set(k, v);
  }
  if (protocol === undefined) bad('no proto=');
  const [tuple, mask, master] = parts.map(parseTuple) as [ConntrackTuple, ConntrackTuple, ConntrackTuple];
  const out: OracleExpectation = { timeout, protocol: protocol!, tuple, mask: mask.sport === undefined ? { src: mask.src } : { src: mask.src, sport: mask.sport }, master, class: cls };
  if (helper !== undefined) out.helper = helper;
  return out;
}

function xmlText(block: string, tag: string): string | undefined {
  return new RegExp(`<${tag}>([^<]*)</${tag}>`).exec(block)?.[1];
}

function xmlTuple(meta: string): ConntrackTuple & { protoNum: number } {
  const num = (tag: string) => {
    const v = xmlText(meta, tag);
    return v === undefined ? undefined : Number(v);
  };
  const protoNum = Number(/<layer4 protonum="(\d+)"/.exec(meta)?.[1]);
  const tuple: ConntrackTuple & { protoNum: number } = {
    src: canonicalAddress(xmlText(meta, 'src') ?? ''), dst: canonicalAddress(xmlText(meta, 'dst') ?? ''), protoNum,
  };
  if (xmlText(meta, 'sport') !== undefined) {
    tuple.sport = num('sport');
    tuple.dport = num('dport');
  } else if (xmlText(meta, 'srckey') !== undefined) {
    // GRE keys, in hex as in the text output: <srckey>0x401</srckey>.
    tuple.sport = Number.parseInt(xmlText(meta, 'srckey')!, 16);
    tuple.dport = Number.parseInt(xmlText(meta, 'dstkey') ?? '', 16);
  }
  return tuple;
}

/** `<counters><packets>N</packets><bytes>N</bytes></counters>` of one direction's meta. */
function xmlCounters(meta: string): { packets: number; bytes: number } | undefined {
  const block = /<counters>(.*?)<\/counters>/s.exec(meta)?.[1];
  if (block === undefined) return undefined;
  return { packets: Number(xmlText(block, 'packets')), bytes: Number(xmlText(block, 'bytes')) };
}

/**
 * Parses `conntrack -L -o xml` (also with `ktimestamp`). conntrack-tools 1.4.7 leaves ICMP
 * type/code/id out of the XML, so those fields are absent here; GRE keys are there, in hex
 * (`<srckey>0x401</srckey>`); `status` holds UNREPLIED/ASSURED as in -o extended. A directional
 * zone is a `<zone>` inside the original or reply meta, the zone of both directions one in the
 * independent meta; counters are per direction; `<timestamp><start>` (ktimestamp only) is in ns,
 * exact; `<helper>` follows the metas.
 */
export function parseXml(xml: string): OracleEntry[] {
  const flows = xml.match(/<flow>.*?<\/flow>/gs) ?? [];
  return flows.map((flow) => {
    const meta = (dir: string) => new RegExp(`<meta direction="${dir}">(.*?)</meta>`, 's').exec(flow)?.[1] ?? '';
    const orig = meta('original');
    const reply = meta('reply');
    const indep = meta('independent');
    const family = /<layer3 protonum="\d+" protoname="(ipv4|ipv6)"/.exec(orig)?.[1] as Family | undefined;
    const { protoNum, ...tuple } = xmlTuple(orig);
    const protocol = Number.isInteger(protoNum) ? protocolOf(protoNum) : undefined;
    if (!family || protocol === undefined) throw new HarnessError('ERR_ORACLE_PARSE', `cannot parse conntrack XML flow: ${flow}`);
    const { protoNum: _r, ...replyTuple } = xmlTuple(reply);
    const entry: OracleEntry = { family, protocol, ...tuple, zone: Number(xmlText(indep, 'zone') ?? 0), reply: replyTuple };
    const origZone = xmlText(orig, 'zone');
    const replyZone = xmlText(reply, 'zone');
    if (origZone !== undefined) entry.origZone = Number(origZone);
    if (replyZone !== undefined) entry.replyZone = Number(replyZone);
    const n = (tag: string) => xmlText(indep, tag);
    if (n('timeout') !== undefined) entry.timeout = Number(n('timeout'));
    if (n('mark') !== undefined) entry.mark = Number(n('mark'));
    if (n('id') !== undefined) entry.id = Number(n('id'));
    if (n('use') !== undefined) entry.use = Number(n('use'));
    if (n('state') !== undefined) entry.state = n('state');
    entry.status = ['unreplied', 'assured'].filter((f) => indep.includes(`<${f}/>`)).map((f) => f.toUpperCase());
    const origCounters = xmlCounters(orig);
    const replyCounters = xmlCounters(reply);
    if (origCounters && replyCounters) entry.counters = { orig: origCounters, reply: replyCounters };
    const stamps = /<timestamp>(.*?)<\/timestamp>/s.exec(indep)?.[1];
    const ns = (tag: string): bigint | undefined => {
      const v = stamps === undefined ? undefined : xmlText(stamps, tag);
      if (v !== undefined && !/^\d+$/.test(v)) throw new HarnessError('ERR_ORACLE_PARSE', `conntrack XML timestamp ${tag} ${v}: ${flow}`);
      return v === undefined ? undefined : BigInt(v);
    };
    const start = ns('start');
    const stop = ns('stop');
    if (start !== undefined) entry.timestamp = stop === undefined ? { start } : { start, stop };
    if (n('deltatime') !== undefined) entry.deltaTime = Number(n('deltatime'));
    const helper = xmlText(flow.replace(/<meta\b.*?<\/meta>/gs, ''), 'helper');
    if (helper !== undefined) entry.helper = helper;
    return entry;
  });
}

export interface ConntrackOracleOptions {
  netns: string;
  /** Milliseconds per command. Default 120 s. */
  timeout?: number;
  /** The conntrack binary: a path or a name in PATH. Default `CTH_CONNTRACK`, else `conntrack`. */
  binary?: string;
}

/** The conntrack CLI bound to one namespace. Never used without one. */
export class ConntrackOracle {
  readonly netns: string;
  readonly timeout: number;
  readonly binary: string;

  constructor(options: ConntrackOracleOptions) {
    this.netns = assertNetnsName(options.netns);
    this.timeout = options.timeout ?? CLI_TIMEOUT_MS;
    this.binary = options.binary ?? conntrackBinary();
  }

  run(args: string[], options: ExecuteOptions = {}) {
    return execute([this.binary, ...args], { runAsRoot: true, timeout: this.timeout, ...options, netns: this.netns });
  }

  /** The conntrack-tools version of this oracle's binary (`1.4.6`). */
  version(): Promise<string> {
    return conntrackToolsVersion(this.binary);
  }

  /** Whether this oracle's conntrack-tools has `feature` (ORACLE_FEATURES_SINCE). */
  async supports(feature: OracleFeature): Promise<boolean> {
    return compareVersions(await this.version(), ORACLE_FEATURES_SINCE[feature]) >= 0;
  }

  /**
   * `-f` options to run a listing or a deleteMatching once with: none when the filter names the family or
   * the CLI reaches both families anyway; else the family of the filter's addresses, or each family.
   */
  private async familyRuns(filter: ConntrackFilter): Promise<string[][]> {
    if (filter.family !== undefined || (await this.supports('bothFamilies'))) return [[]];
    const address = [filter.src, filter.dst, filter.replySrc, filter.replyDst].find((a) => a !== undefined);
    const family = address === undefined ? undefined : familyOf(address.split('/')[0]!);
    return (family === undefined ? ['ipv4', 'ipv6'] : [family]).map((f) => ['-f', f]);
  }

  /** Runs `args` once per familyRuns(filter) and joins the outputs. */
  private async perFamily(args: string[], filter: ConntrackFilter, options: ExecuteOptions = {}) {
    const runs = await Promise.all((await this.familyRuns(filter)).map((f) => this.run([...args, ...f], options)));
    return { stdout: runs.map((r) => r.stdout).join(''), stderr: runs.map((r) => r.stderr).join('') };
  }

  /**
   * `conntrack -L` arguments for a filter, one option per criterion. Criteria the CLI cannot express
   * throw ERR_ORACLE_UNSUPPORTED rather than be dropped.
   */
  static filterArgs(filter: ConntrackFilter = {}): string[] {
    const args: string[] = [];
    const f = filter;
    const unsupported = (why: string): never => {
      throw new HarnessError('ERR_ORACLE_UNSUPPORTED', `conntrack -L cannot express this filter: ${why}`);
    };
    // A key dropped here would widen a `-D` to the whole table: every key must map to an option.
    for (const key of Object.keys(f)) {
      if (!ORACLE_FILTER_KEYS.has(key)) throw new ValidationError('ERR_UNKNOWN_FILTER_KEY', 'filter', key, `the oracle has no option for filter key ${JSON.stringify(key)}`);
    }
    if (f.family !== undefined) args.push('-f', f.family);
    if (f.protocol !== undefined) args.push('-p', protoArg(f.protocol));
    if (f.zone !== undefined) args.push('-w', String(assertZone(f.zone)));
    if (f.origZone !== undefined) args.push('--orig-zone', String(f.origZone));
    if (f.replyZone !== undefined) args.push('--reply-zone', String(f.replyZone));
    if (f.src !== undefined) args.push('-s', f.src);
    if (f.dst !== undefined) args.push('-d', f.dst);
    if (f.replySrc !== undefined) args.push('-r', f.replySrc.includes('/') ? unsupported('-r takes no CIDR') : f.replySrc);
    if (f.replyDst !== undefined) args.push('-q', f.replyDst.includes('/') ? unsupported('-q takes no CIDR') : f.replyDst);
    if ((f.sport !== undefined || f.dport !== undefined || f.state !== undefined) && f.protocol === undefined) {
      unsupported('ports and states need a protocol (-p)');
    }
    refuseGreKeys(f.protocol, f.sport !== undefined || f.dport !== undefined, '-L/-D');
    if (f.sport !== undefined) args.push('--sport', String(f.sport));
    if (f.dport !== undefined) args.push('--dport', String(f.dport));
    if (f.state !== undefined) args.push('--state', f.state);
    if (f.mark !== undefined) {
      const m = typeof f.mark === 'number' ? { value: f.mark, mask: 0xffffffff } : f.mark;
      args.push('-m', `${m.value}/${m.mask}`);
    }
    if (f.status !== undefined) args.push('-u', f.status.join(','));
    if (f.nat !== undefined) args.push(f.nat === 'src' ? '--src-nat' : f.nat === 'dst' ? '--dst-nat' : '--any-nat');
    return args;
  }

  async list(filter: ConntrackFilter = {}): Promise<ConntrackEntry[]> {
    const args = ConntrackOracle.filterArgs(filter);
    const { stdout } = await this.perFamily(['-L', '-o', 'extended,id', ...args], filter);
    const entries = stdout.split('\n').filter((l) => l.trim().length > 0).map(parseExtendedLine);
    // The CLI ignores -w 0 on some versions: filter here too so the oracle means what it says.
    return filter.zone === undefined ? entries : entries.filter((e) => e.zone === filter.zone);
  }

  async count(filter: ConntrackFilter = {}): Promise<number> {
    return (await this.list(filter)).length;
  }

  /**
   * One entry by its original tuple and zone. `conntrack -G` refuses zone options (1.4.7), so this
   * is `-L` with the whole tuple and the zone as filters.
   */
  async get(entry: EntryInput): Promise<ConntrackEntry | undefined> {
    const key = normalizeKey(entry);
    const found = (await this.list({ ...filterOfKey(key) })).filter((e) => sameTuple(e, key));
    if (found.length > 1) throw new HarnessError('ERR_ORACLE_PARSE', `conntrack listed ${found.length} entries for one tuple and zone`);
    return found[0];
  }

  /**
   * `conntrack -U` by original tuple: returns how many entries it updated. conntrack -U takes no
   * zone option (1.4.7), so only zone-0 entries can be updated through the CLI.
   */
  async update(entry: EntryInput, changes: EntryChanges): Promise<number> {
    const key = normalizeKey(entry);
    if (key.zone !== 0 || key.origZone !== undefined || key.replyZone !== undefined) {
      throw new HarnessError('ERR_ORACLE_UNSUPPORTED', 'conntrack -U cannot select a zone (-w and --orig-zone are illegal with -U in conntrack-tools 1.4.6, 1.4.7 and 1.4.8)');
    }
    refuseGreKeys(key.protocol, true, '-U');
    const args = ['-U', '-f', key.family, ...tupleArgs(key, false)];
    if (changes.mark !== undefined) args.push('-m', changes.markMask === undefined ? String(changes.mark) : `${changes.mark}/${changes.markMask}`);
    if (changes.timeout !== undefined) args.push('-t', String(changes.timeout));
    if (changes.status !== undefined) args.push('-u', changes.status.join(','));
    if (changes.labels !== undefined) throw new HarnessError('ERR_ORACLE_UNSUPPORTED', 'the oracle does not change labels (conntrack needs connlabel.conf names)');
    const { stderr } = await this.run(args, { extraOkCodes: [1] });
    return summaryCount(stderr, 'updated');
  }

  /** `conntrack -D` with a filter: every entry that matches; returns how many were deleted. */
  async deleteMatching(filter: ConntrackFilter): Promise<number> {
    const args = ConntrackOracle.filterArgs(filter);
    // A bare `conntrack -D` deletes the whole table.
    if (args.length === 0) throw new ValidationError('ERR_INVALID_FILTER', 'filter', filter, 'the oracle deletes by filter only with at least one filter criterion');
    const { stderr } = await this.perFamily(['-D', ...args], filter, { extraOkCodes: [1] });
    return summaryCounts(stderr, 'deleted');
  }

  /**
   * `conntrack -L expect -f FAMILY`, for one family or both: without -f the CLI lists IPv4
   * expectations only (1.4.7).
   */
  async listExpectations(family?: Family): Promise<OracleExpectation[]> {
    const out: OracleExpectation[] = [];
    for (const f of family === undefined ? (['ipv4', 'ipv6'] as const) : [family]) {
      const { stdout } = await this.run(['-L', 'expect', '-f', f]);
      out.push(...stdout.split('\n').filter((l) => l.trim().length > 0).map(parseExpectLine));
    }
    return out;
  }

  /** `conntrack -S` and `-C`: per-CPU counters by their CLI names, and the table's count. */
  async stats(): Promise<{ cpus: Array<Record<string, number>>; count: number }> {
    const { stdout } = await this.run(['-S']);
    const cpus = stdout.split('\n').filter((l) => l.trim()).map((line) =>
      Object.fromEntries([...line.matchAll(/(\S+?)=(\d+)/g)].map((m) => [m[1]!, Number(m[2])])));
    const { stdout: count } = await this.run(['-C']);
    return { cpus, count: Number(count.trim()) };
  }

  /** `conntrack -L -o xml`: the second output format, for field-by-field cross-checks. */
  async listXml(filter: ConntrackFilter = {}): Promise<ConntrackEntry[]> {
    const { stdout } = await this.perFamily(['-L', '-o', 'xml', ...ConntrackOracle.filterArgs(filter)], filter);
    const entries = parseXml(stdout);
    return filter.zone === undefined ? entries : entries.filter((e) => e.zone === filter.zone);
  }

  /** `conntrack -I`: one process per entry. */
  async create(entry: EntryInput): Promise<void> {
    await this.createMany([entry]);
  }

  /**
   * Many entries: `conntrack -R FILE` in one process, from a private (0600) temp file. Before
   * conntrack-tools 1.4.7 there is no -R: one `conntrack -I` per entry, a few at a time.
   */
  async createMany(entries: readonly EntryInput[], argsOf: (entry: EntryInput) => string[] = createArgs): Promise<void> {
    if (entries.length === 0) return;
    const generic = entries.find((e) => tupleShape(normalizeKey(e).protocol) === 'generic');
    if (generic && !(await this.supports('genericCreate'))) {
      throw new HarnessError('ERR_ORACLE_UNSUPPORTED', `conntrack-tools ${await this.version()} cannot create an entry of protocol ${generic.protocol} (no tracker of its own): -I answers "invalid parameters" before ${ORACLE_FEATURES_SINCE.genericCreate}`);
    }
    const argv = entries.map((e) => ['-I', ...argsOf(e)]);
    if (entries.length > 1 && (await this.supports('loadFile'))) {
      await withPrivateFile(`${argv.map((a) => a.join(' ')).join('\n')}\n`, (path) => this.run(['-R', path]));
      return;
    }
    let next = 0;
    let failed = false;
    const worker = async () => {
      try {
        while (next < argv.length && !failed) await this.run(argv[next++]!);
      } catch (error) {
        failed = true; // the other workers stop after their current entry
        throw error;
      }
    };
    await Promise.all(Array.from({ length: Math.min(CREATE_CONCURRENCY, argv.length) }, worker));
  }

  /** `conntrack -D` by original tuple and zone; returns how many were deleted (0 when none matched). */
  async delete(entry: EntryInput): Promise<number> {
    const key = normalizeKey(entry);
    refuseGreKeys(key.protocol, true, '-D');
    const { stderr } = await this.run(['-D', ...tupleArgs(key)], { extraOkCodes: [1] });
    return summaryCount(stderr, 'deleted');
  }
}

/**
 * Writes `content` to a temp file only root can read (0600, made by tmp with O_EXCL), runs `fn`
 * with its path, and removes it whatever happens.
 */
export async function withPrivateFile<T>(content: string, fn: (path: string) => Promise<T>): Promise<T> {
  const file = tmp.fileSync({ prefix: 'cth-load-', postfix: '.txt', mode: 0o600 });
  try {
    await writeFile(file.name, content);
    return await fn(file.name);
  } finally {
    file.removeCallback();
  }
}

/** The sum of every "N flow entries have been deleted" line (one per family run). */
function summaryCounts(stderr: string, verb: 'deleted'): number {
  const counts = [...stderr.matchAll(new RegExp(`(\\d+) flow entries have been ${verb}`, 'g'))].map((m) => Number(m[1]));
  if (counts.length === 0) throw new HarnessError('ERR_ORACLE_PARSE', `conntrack printed no ${verb} count: ${stderr.trim()}`);
  return counts.reduce((a, b) => a + b, 0);
}

function summaryCount(stderr: string, verb: 'deleted' | 'updated'): number {
  const m = new RegExp(`(\\d+) flow entries have been ${verb}`).exec(stderr);
  if (!m) throw new HarnessError('ERR_ORACLE_PARSE', `conntrack printed no ${verb} count: ${stderr.trim()}`);
  return Number(m[1]);
}

/**
 * A filter selecting the entries that could share `key`'s tuple (exact addresses, ports, zone);
 * without GRE keys, which the CLI cannot select by (refuseGreKeys): get() compares those itself.
 */
function filterOfKey(key: ConntrackKey): ConntrackFilter {
  const f: ConntrackFilter = { family: key.family, protocol: key.protocol, src: key.src, dst: key.dst };
  if (key.sport !== undefined && key.protocol !== 'gre') Object.assign(f, { sport: key.sport, dport: key.dport });
  if (key.origZone !== undefined) f.origZone = key.origZone;
  else if (key.replyZone !== undefined) f.replyZone = key.replyZone;
  else f.zone = key.zone;
  return f;
}

function sameTuple(e: ConntrackEntry, key: ConntrackKey): boolean {
  return e.src === key.src && e.dst === key.dst && e.sport === key.sport && e.dport === key.dport
    && e.icmpType === key.icmpType && e.icmpCode === key.icmpCode && e.icmpId === key.icmpId
    && e.zone === key.zone && e.origZone === key.origZone;
}
