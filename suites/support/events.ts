// Reading ctnetlink event streams in tests: bounded reads that never lose an event to a timeout.
import type { ConntrackEvent } from '../../harness/conntrack/events.ts';
import { keyString } from '../../harness/conntrack/entry.ts';

/**
 * A reader of `events`: each call reads until `until` holds for what it read, or `ms` passed. A
 * next() still waiting when time is up is kept for the following call, so no event is lost to it.
 */
export function reader<E = ConntrackEvent>(events: AsyncIterator<E, undefined>) {
  let waiting: Promise<IteratorResult<E, undefined>> | undefined;
  return async (until: (seen: E[]) => boolean, ms = 10_000): Promise<E[]> => {
    const seen: E[] = [];
    const deadline = Date.now() + ms;
    while (!until(seen) && Date.now() < deadline) {
      waiting ??= events.next();
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<'late'>((r) => { timer = setTimeout(() => r('late'), Math.max(1, deadline - Date.now())); });
      const step = await Promise.race([waiting, late]);
      clearTimeout(timer);
      if (step === 'late') break;
      waiting = undefined;
      if (step.done) break;
      seen.push(step.value);
    }
    return seen;
  };
}

/** The keys of the events of one type, sorted. */
export const keysOf = (seen: readonly ConntrackEvent[], type: string): string[] =>
  seen.flatMap((e) => (e.type === type && 'entry' in e ? [keyString(e.entry)] : [])).sort();
