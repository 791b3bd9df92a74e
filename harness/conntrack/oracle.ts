// The independent oracle: conntrack-tools' `conntrack` CLI run inside a namespace. Suites use it
// to cross-check the client, so a codec bug cannot pass by agreeing with itself.
import { writeFile } from 'node:fs/promises';
import tmp from 'tmp';
import { HarnessError } from '../errors.ts';
import { execute, type ExecuteOptions } from '../system/execute.ts';
import { assertNetnsName } from '../system/names.ts';
import { canonicalAddress } from './address.ts';
import { defaultState } from './codec.ts';
import {
  assertFamily, assertProtocol, assertZone, normalizeKey, protocolByNumber,
  type ConntrackEntry, type ConntrackKey, type ConntrackTuple, type EntryInput, type Family, type ProtocolName,
} from './entry.ts';

tmp.setGracefulCleanup();

export interface ListFilter {
  zone?: number;
  family?: Family;
  protocol?: ProtocolName;
}

const CLI_TIMEOUT_MS = 120_000;

/** `conntrack` arguments that select one entry by its original tuple and zone. */
export function tupleArgs(key: ConntrackKey): string[] {
  const args = ['-p', key.protocol, '-s', key.src, '-d', key.dst];
  if (key.protocol === 'gre') {
    args.push('--srckey', String(key.sport), '--dstkey', String(key.dport));
  } else if (key.sport !== undefined) {
    args.push('--sport', String(key.sport), '--dport', String(key.dport));
  } else {
    const p = key.protocol === 'icmpv6' ? '--icmpv6' : '--icmp';
    args.push(`${p}-type`, String(key.icmpType), `${p}-code`, String(key.icmpCode), `${p}-id`, String(key.icmpId));
  }
  args.push('-w', String(key.zone));
  return args;
}

/** `conntrack -I` arguments for an entry (without the `-I`). */
export function createArgs(input: EntryInput): string[] {
  const key = normalizeKey(input);
  const args = tupleArgs(key);
  args.push('-t', String(input.timeout ?? 120));
  const state = input.tcpState ?? defaultState(key.protocol);
  if (state !== undefined) args.push('--state', state);
  if (key.protocol === 'sctp') args.push('--orig-vtag', '1', '--reply-vtag', '2');
  if (input.mark !== undefined) args.push('-m', String(input.mark));
  const status = (input.status ?? []).filter((s) => s === 'ASSURED' || s === 'SEEN_REPLY');
  if (status.length > 0) args.push('-u', status.join(','));
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

/** Parses one line of `conntrack -L -o extended,id`. */
export function parseExtendedLine(line: string): ConntrackEntry {
  const tokens = line.trim().split(/\s+/);
  const bad = (why: string): never => {
    throw new HarnessError('ERR_ORACLE_PARSE', `cannot parse conntrack output (${why}): ${line}`);
  };
  if (tokens.length < 6) bad('too short');
  const family = tokens[0] === 'ipv4' || tokens[0] === 'ipv6' ? tokens[0] : bad(`family ${tokens[0]}`);
  const protocol = protocolByNumber(Number(tokens[3])) ?? bad(`protocol ${tokens[3]}`);
  const entry: Partial<ConntrackEntry> = { family, protocol, timeout: Number(tokens[4]) };
  const status: string[] = [];
  const orig = new Map<string, string>();
  const reply = new Map<string, string>();
  let current = orig;
  let i = 5;
  if (tokens[i] && !tokens[i]!.includes('=') && !tokens[i]!.startsWith('[')) entry.tcpState = tokens[i++];
  for (; i < tokens.length; i++) {
    const token = tokens[i]!;
    if (token.startsWith('[')) {
      status.push(token.slice(1, -1));
      continue;
    }
    const eq = token.indexOf('=');
    if (eq < 0) continue;
    const k = token.slice(0, eq);
    const v = token.slice(eq + 1);
    if (k === 'src' && current.has('src')) current = reply;
    if (current === reply && (k === 'mark' || k === 'zone' || k === 'use' || k === 'secctx' || k === 'labels')) current = new Map();
    switch (k) {
      case 'mark': entry.mark = Number(v); break;
      case 'zone': entry.zone = Number(v); break;
      case 'id': if (current !== orig && current !== reply) entry.id = Number(v); else current.set(k, v); break;
      case 'srckey': case 'dstkey': current.set(k, String(Number.parseInt(v, 16))); break;
      default: current.set(k, v);
    }
  }
  const tuple = parseTuple(orig);
  const result: ConntrackEntry = { ...entry, ...tuple, family, protocol, zone: entry.zone ?? 0 } as ConntrackEntry;
  if (reply.size > 0) result.reply = parseTuple(reply);
  result.status = status;
  return result;
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
  }
  return tuple;
}

/**
 * Parses `conntrack -L -o xml`. conntrack-tools 1.4.7 leaves ICMP type/code/id and GRE keys out
 * of the XML, so those fields are absent here; `status` holds UNREPLIED/ASSURED as in -o extended.
 */
export function parseXml(xml: string): ConntrackEntry[] {
  const flows = xml.match(/<flow>.*?<\/flow>/gs) ?? [];
  return flows.map((flow) => {
    const meta = (dir: string) => new RegExp(`<meta direction="${dir}">(.*?)</meta>`, 's').exec(flow)?.[1] ?? '';
    const orig = meta('original');
    const reply = meta('reply');
    const indep = meta('independent');
    const family = /<layer3 protonum="\d+" protoname="(ipv4|ipv6)"/.exec(orig)?.[1] as Family | undefined;
    const { protoNum, ...tuple } = xmlTuple(orig);
    const protocol = protocolByNumber(protoNum);
    if (!family || !protocol) throw new HarnessError('ERR_ORACLE_PARSE', `cannot parse conntrack XML flow: ${flow}`);
    const { protoNum: _r, ...replyTuple } = xmlTuple(reply);
    const entry: ConntrackEntry = { family, protocol, ...tuple, zone: Number(xmlText(indep, 'zone') ?? 0), reply: replyTuple };
    const n = (tag: string) => xmlText(indep, tag);
    if (n('timeout') !== undefined) entry.timeout = Number(n('timeout'));
    if (n('mark') !== undefined) entry.mark = Number(n('mark'));
    if (n('id') !== undefined) entry.id = Number(n('id'));
    if (n('state') !== undefined) entry.tcpState = n('state');
    entry.status = ['unreplied', 'assured'].filter((f) => indep.includes(`<${f}/>`)).map((f) => f.toUpperCase());
    return entry;
  });
}

/** The conntrack CLI bound to one namespace. Never used without one. */
export class ConntrackCli {
  readonly netns: string;
  readonly timeout: number;

  constructor(options: { netns: string; timeout?: number }) {
    this.netns = assertNetnsName(options.netns);
    this.timeout = options.timeout ?? CLI_TIMEOUT_MS;
  }

  run(args: string[], options: ExecuteOptions = {}) {
    return execute(['conntrack', ...args], { runAsRoot: true, timeout: this.timeout, ...options, netns: this.netns });
  }

  static filterArgs(filter: ListFilter = {}): string[] {
    const args: string[] = [];
    if (filter.family !== undefined) args.push('-f', assertFamily(filter.family));
    if (filter.protocol !== undefined) args.push('-p', assertProtocol(filter.protocol));
    if (filter.zone !== undefined) args.push('-w', String(assertZone(filter.zone)));
    return args;
  }

  async list(filter: ListFilter = {}): Promise<ConntrackEntry[]> {
    const args = ConntrackCli.filterArgs(filter);
    const { stdout } = await this.run(['-L', '-o', 'extended,id', ...args]);
    const entries = stdout.split('\n').filter((l) => l.trim().length > 0).map(parseExtendedLine);
    // The CLI ignores -w 0 on some versions: filter here too so the oracle means what it says.
    return filter.zone === undefined ? entries : entries.filter((e) => e.zone === filter.zone);
  }

  async count(filter: ListFilter = {}): Promise<number> {
    return (await this.list(filter)).length;
  }

  /** `conntrack -L -o xml`: the second output format, for field-by-field cross-checks. */
  async listXml(filter: ListFilter = {}): Promise<ConntrackEntry[]> {
    const { stdout } = await this.run(['-L', '-o', 'xml', ...ConntrackCli.filterArgs(filter)]);
    const entries = parseXml(stdout);
    return filter.zone === undefined ? entries : entries.filter((e) => e.zone === filter.zone);
  }

  /** `conntrack -I`: one process per entry. */
  async create(entry: EntryInput): Promise<void> {
    await this.run(['-I', ...createArgs(entry)]);
  }

  /** `conntrack -R FILE`: many entries in one process, from a private (0600) temp file. */
  async createMany(entries: readonly EntryInput[], argsOf: (entry: EntryInput) => string[] = createArgs): Promise<void> {
    if (entries.length === 0) return;
    const lines = entries.map((e) => ['-I', ...argsOf(e)].join(' '));
    await withPrivateFile(`${lines.join('\n')}\n`, (path) => this.run(['-R', path]));
  }

  /** `conntrack -D` by original tuple and zone; returns how many were deleted (0 when none matched). */
  async delete(entry: EntryInput): Promise<number> {
    const { stderr } = await this.run(['-D', ...tupleArgs(normalizeKey(entry))], { extraOkCodes: [1] });
    return deletedCount(stderr);
  }

  /** `conntrack -D -w ZONE`: every entry of a zone. */
  async deleteZone(zone: number): Promise<number> {
    const { stderr } = await this.run(['-D', '-w', String(assertZone(zone))], { extraOkCodes: [1] });
    return deletedCount(stderr);
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

function deletedCount(stderr: string): number {
  const m = /(\d+) flow entries have been deleted/.exec(stderr);
  if (!m) throw new HarnessError('ERR_ORACLE_PARSE', `conntrack -D printed no count: ${stderr.trim()}`);
  return Number(m[1]);
}
