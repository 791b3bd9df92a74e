// What /proc says about a process: the fields of its stat line.
import { readFileSync } from 'node:fs';

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

/** Field 22 of /proc/<pid>/stat, in clock ticks since boot: with the pid, it names one process. */
export function processStartTime(pid: number): string | undefined {
  return procStat(pid)?.[19];
}
