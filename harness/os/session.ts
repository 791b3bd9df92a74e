// A run's session, its whole life in one place: register (startSession), share with vitest's
// workers (joinSession), sweep what dead runs left (sweep), remove (endSession). A session owns
// every namespace the run creates: its id is in each name, and its owner (pid + process start
// time) is recorded under /run, so a sweeper tells dead runs from live ones by ownership, never
// by age.
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { onExit } from 'signal-exit';
import { HarnessError } from '../errors.ts';
import { netnsList } from './ip.ts';
import { destroyNetns } from './netns.ts';
import { processStartTime } from './proc.ts';

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

export function isSessionAlive(record: SessionRecord): boolean {
  return processStartTime(record.pid) === record.startTime;
}

export function readSession(id: string): SessionRecord | undefined {
  const record = readRecord(id);
  return record === 'unreadable' ? undefined : record;
}

/**
 * A session's record; undefined when there is none (or it is not JSON: a run killed while writing
 * it); `unreadable` when the file is there but this process may not read it (EACCES): that run
 * may be alive, so the sweep must not take it for dead.
 */
function readRecord(id: string): SessionRecord | undefined | 'unreadable' {
  if (!SESSION_ID.test(id)) return undefined;
  let text: string;
  try {
    text = readFileSync(join(SESSION_DIR, `${id}.json`), 'utf8');
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ENOENT' ? undefined : 'unreadable';
  }
  try {
    return JSON.parse(text) as SessionRecord;
  } catch {
    return undefined;
  }
}

/** Every readable session record, live or dead. */
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

function removeRecord(id: string): void {
  rmSync(join(SESSION_DIR, `${id}.json`), { force: true });
}

let current: SessionRecord | undefined;
/** The signal-exit hooks of sessions this process started, by id: cancelled when a session ends. */
const endings = new Map<string, () => void>();

/**
 * Registers a new session owned by this process and makes it current. Its record is removed
 * however the process ends (signal-exit, as execa does: exit, SIGINT, SIGTERM, SIGHUP...); after
 * a SIGKILL, the next sweep() removes it.
 */
export function startSession(): SessionRecord {
  const pid = process.pid;
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
  const removeOnExit = onExit(() => removeRecord(record.id));
  endings.set(record.id, removeOnExit);
  joinSession(record);
  return record;
}


/**
 * Makes `record` this process's session, and its workers': vitest's globalSetup starts the
 * session, its workers join it through CTH_SESSION (inherited) or `inject('sessionId')`.
 */
export function joinSession(record: SessionRecord): void {
  current = record;
  process.env[SESSION_ENV] = record.id;
}

/**
 * The session of this process: the one it started or joined, the one its parent exported in
 * CTH_SESSION, or (scripts, ad-hoc use) a new one owned by this process.
 */
export function currentSession(): SessionRecord {
  if (current) return current;
  const inherited = process.env[SESSION_ENV];
  const record = inherited ? readSession(inherited) : undefined;
  if (record) {
    current = record;
    return record;
  }
  return startSession();
}

/**
 * Ends a session this process started: namespaces its tests left (a crashed worker's) are
 * destroyed, then its record is removed. Returns the names destroyed.
 */
export async function endSession(record: SessionRecord): Promise<string[]> {
  const left = (await netnsList()).filter((name) => sessionOfNetns(name) === record.id);
  for (const name of left) await destroyNetns(name);
  removeRecord(record.id);
  endings.get(record.id)?.();
  endings.delete(record.id);
  if (current?.id === record.id) current = undefined;
  return left;
}

/** `cth-<session>-<suffix>` → session id, or undefined for names the harness did not make. */
export function sessionOfNetns(name: string): string | undefined {
  const m = /^cth-([a-z0-9]{6})-[a-z0-9]+$/.exec(name);
  return m?.[1];
}

export interface SweepReport {
  removed: string[];
  kept: string[];
  /** `cth-` names the harness cannot attribute to a session; left alone. */
  foreign: string[];
  sessionsRemoved: string[];
}

/**
 * Reaps what killed runs left behind: `cth-` namespaces whose owning session is dead, with their
 * processes, and dead sessions' records. A live run's namespaces are never touched, nor those of a run whose record this process cannot read.
 */
export async function sweep(): Promise<SweepReport> {
  const report: SweepReport = { removed: [], kept: [], foreign: [], sessionsRemoved: [] };
  for (const name of await netnsList()) {
    if (!name.startsWith(NETNS_PREFIX)) continue;
    const sessionId = sessionOfNetns(name);
    if (sessionId === undefined) {
      report.foreign.push(name);
      continue;
    }
    const record = readRecord(sessionId);
    if (record === 'unreadable' || (record && isSessionAlive(record))) {
      report.kept.push(name);
      continue;
    }
    await destroyNetns(name);
    report.removed.push(name);
  }
  for (const record of listSessions()) {
    if (!isSessionAlive(record)) {
      removeRecord(record.id);
      report.sessionsRemoved.push(record.id);
    }
  }
  return report;
}
