// Reaps what killed runs left behind: `cth-` namespaces whose owning session is dead (never by
// age, so a live concurrent run is safe), their processes, and dead session records.
import { netnsList } from './ip.ts';
import { destroyNetns } from './netns.ts';
import { isSessionAlive, listSessions, NETNS_PREFIX, readSession, removeSession, sessionOfNetns } from './session.ts';

export interface SweepReport {
  removed: string[];
  kept: string[];
  /** `cth-` names the harness cannot attribute to a session; left alone. */
  foreign: string[];
  sessionsRemoved: string[];
}

export async function sweep(): Promise<SweepReport> {
  const report: SweepReport = { removed: [], kept: [], foreign: [], sessionsRemoved: [] };
  for (const name of await netnsList()) {
    if (!name.startsWith(NETNS_PREFIX)) continue;
    const sessionId = sessionOfNetns(name);
    if (sessionId === undefined) {
      report.foreign.push(name);
      continue;
    }
    const record = readSession(sessionId);
    if (record && isSessionAlive(record)) {
      report.kept.push(name);
      continue;
    }
    await destroyNetns(name);
    report.removed.push(name);
  }
  for (const record of listSessions()) {
    if (!isSessionAlive(record)) {
      removeSession(record.id);
      report.sessionsRemoved.push(record.id);
    }
  }
  return report;
}
