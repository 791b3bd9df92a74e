// A session owns every namespace a run creates. Its id is in each namespace name and its owner
// (pid + process start time) is recorded under /run, so a sweeper can tell dead runs from live ones.
import { HarnessError } from '../errors.ts';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const SESSION_DIR = process.env.CTH_SESSION_DIR ?? '/run/conntrack-harness/sessions';
export const NETNS_PREFIX = 'cth-';
const SESSION_ENV = 'CTH_SESSION';
const SESSION_ID = /^[a-z0-9]{6}$/;

export interface SessionRecord {
  id: string;
  pid: number;
  /** Field 22 of /proc/<pid>/stat: tells a live owner from a recycled pid. */
  startTime: string;
  createdAt: string;
}

/**
 * The fields of /proc/<pid>/stat after the command name, so index 0 is the state (field 3),
 * 2 the process group (field 5), 19 the start time (field 22); undefined when the pid is gone.
 */
export function procStat(pid: number | string): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // comm (field 2) may contain spaces and parentheses: split after the last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

export function processStartTime(pid: number): string | undefined {
  return procStat(pid)?.[19];
}

export function isSessionAlive(record: SessionRecord): boolean {
  return processStartTime(record.pid) === record.startTime;
}

export function readSession(id: string): SessionRecord | undefined {
  try {
    return JSON.parse(readFileSync(join(SESSION_DIR, `${id}.json`), 'utf8')) as SessionRecord;
  } catch {
    return undefined;
  }
}

export function listSessions(): SessionRecord[] {
  let files: string[] = [];
  try {
    files = readdirSync(SESSION_DIR);
  } catch {
    return [];
  }
  return files
    .filter((f) => f.endsWith('.json'))
    .map((f) => readSession(f.slice(0, -5)))
    .filter((r): r is SessionRecord => r !== undefined);
}

/** Registers a new session owned by `pid` (the process whose death makes its namespaces garbage). */
export function createSession(pid = process.pid): SessionRecord {
  const startTime = processStartTime(pid);
  if (startTime === undefined) throw new HarnessError('ERR_SESSION', `cannot read start time of pid ${pid}`);
  mkdirSync(SESSION_DIR, { recursive: true, mode: 0o700 });
  const record: SessionRecord = {
    id: randomBytes(4).toString('hex').slice(0, 6),
    pid,
    startTime,
    createdAt: new Date().toISOString(),
  };
  writeFileSync(join(SESSION_DIR, `${record.id}.json`), JSON.stringify(record), { mode: 0o600, flag: 'wx' });
  return record;
}

export function removeSession(id: string): void {
  rmSync(join(SESSION_DIR, `${id}.json`), { force: true });
}

let current: SessionRecord | undefined;

/**
 * The session of this process: the one vitest's globalSetup exported in CTH_SESSION (shared by
 * all workers), or a new one owned by this process (scripts, ad-hoc use).
 */
export function currentSession(): SessionRecord {
  if (current) return current;
  const inherited = process.env[SESSION_ENV];
  if (inherited && SESSION_ID.test(inherited)) {
    const record = readSession(inherited);
    if (record) return (current = record);
  }
  current = createSession();
  process.env[SESSION_ENV] = current.id;
  process.once('exit', () => {
    if (current && current.pid === process.pid) removeSession(current.id);
  });
  return current;
}

export function exportSession(record: SessionRecord): void {
  current = record;
  process.env[SESSION_ENV] = record.id;
}

/** `cth-<session>-<suffix>` → session id, or undefined for names the harness did not make. */
export function sessionOfNetns(name: string): string | undefined {
  const m = /^cth-([a-z0-9]{6})-[a-z0-9]+$/.exec(name);
  return m?.[1];
}
