// The one way the harness waits for something eventually consistent (entries made by real packets,
// a listener, a process's output): p-retry looks again and again within a bounded total time, never
// a fixed sleep. With a `wakeup` (the next ctnetlink event, the next chunk of output) the next look
// comes as soon as something changed, so a wait lasts as long as the kernel takes; the growing poll
// interval stays as the fallback for changes that announce nothing.
import pRetry from 'p-retry';
import { HarnessError, ValidationError, WaitTimeoutError } from '../errors.ts';

/** What one look found: done with a value, or not yet with a description of what was seen. */
export type ProbeResult<T> = { done: true; value: T } | { done: false; seen: string };

export type Probe<T> = (attempt: number) => ProbeResult<T> | Promise<ProbeResult<T>>;

export function ready<T>(value: T): ProbeResult<T> {
  return { done: true, value };
}

export function notYet<T = never>(seen: string): ProbeResult<T> {
  return { done: false, seen };
}

export interface WaitOptions {
  /** What is expected, for the error message: e.g. `tcp entry 10.0.0.1:4000 -> 10.0.0.2:5000 in zone 7`. */
  what: string;
  /** Upper bound on the whole wait, probes included. Default 10 s. */
  timeoutMs?: number;
  /** First delay between two looks (ms, default 20); it grows by 1.5x up to `maxIntervalMs`. */
  intervalMs?: number;
  /** Longest delay between two looks (ms, default 250). */
  maxIntervalMs?: number;
  /**
   * Resolves when something changed that is worth another look; called again after each look that
   * found nothing. The next look comes at the wakeup or at the poll interval, whichever is first.
   */
  wakeup?: Wakeup;
}

/**
 * See `WaitOptions.wakeup`: resolves at the first change after `since` (a `performance.now()`
 * time: when the look that found nothing began), at once if one came already, so a change that
 * lands while a look runs is not lost. A wakeup that never resolves leaves the poll alone.
 */
export type Wakeup = (since: number) => Promise<unknown>;

/**
 * Something that changes and says so: `announce()` wakes whoever waits on `next` (a Wakeup) and
 * notes when; a wait asking about a time before the last change is answered at once. A promise is
 * made only while someone waits, so a change nobody waits for costs nothing.
 */
export class Changes {
  #lastAt = Number.NEGATIVE_INFINITY;
  #waiting: Promise<void> | undefined;
  #wake: (() => void) | undefined;

  readonly next: Wakeup = (since) => {
    if (this.#lastAt > since) return Promise.resolve();
    return (this.#waiting ??= new Promise<void>((resolve) => { this.#wake = resolve; }));
  };

  announce(): void {
    this.#lastAt = performance.now();
    const wake = this.#wake;
    if (wake === undefined) return;
    this.#wake = undefined;
    this.#waiting = undefined;
    wake();
  }
}

/**
 * A wakeup from an async iterator of changes (e.g. `client.events()`): each item is a change. The
 * iterator is read from now on (its items serve nothing else); when it ends or fails, nothing more
 * wakes a wait and the poll goes on alone.
 */
export function wakeupOn(changes: AsyncIterator<unknown>): Wakeup {
  const seen = new Changes();
  void (async () => {
    try {
      while (!(await changes.next()).done) seen.announce();
    } catch {
      // an ended source wakes nothing more
    }
  })();
  return seen.next;
}

export const DEFAULT_WAIT_TIMEOUT_MS = 10_000;

class NotYet extends Error {}
const DEADLINE = Symbol('deadline');

/**
 * Calls `probe` until it reports done, and returns its value. A probe that throws ends the wait
 * with that error at once (a failure is not "not yet"). When `timeoutMs` is over, even in the
 * middle of a probe, it throws a WaitTimeoutError (`ERR_WAIT_TIMEOUT`).
 */
export async function waitFor<T>(probe: Probe<T>, options: WaitOptions): Promise<T> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_WAIT_TIMEOUT_MS;
  if (typeof options.what !== 'string' || options.what.length === 0 || !(timeoutMs > 0) || !Number.isFinite(timeoutMs)) {
    throw new ValidationError('ERR_INVALID_ARGUMENT', 'options', options, 'waitFor needs { what } and a finite timeoutMs > 0');
  }
  const start = performance.now();
  const controller = new AbortController();
  let deadlineReached!: (marker: typeof DEADLINE) => void;
  const deadline = new Promise<typeof DEADLINE>((resolve) => { deadlineReached = resolve; });
  const timer = setTimeout(() => {
    deadlineReached(DEADLINE);
    controller.abort(DEADLINE);
  }, timeoutMs);
  let lastSeen = 'nothing (no look finished in time)';
  let attempts = 0;
  const timedOut = () => new WaitTimeoutError(options.what, lastSeen, attempts, performance.now() - start);
  const firstInterval = options.intervalMs ?? 20;
  const maxInterval = options.maxIntervalMs ?? 250;
  const wakeup = options.wakeup;
  // The pause between looks is taken here rather than by p-retry (whose own delay is 0), so that a
  // wakeup can cut it short.
  let lookStartedAt = performance.now();
  const pause = async (attempt: number): Promise<void> => {
    const ms = Math.min(firstInterval * 1.5 ** (attempt - 1), maxInterval);
    let timer: NodeJS.Timeout | undefined;
    const slept = new Promise<void>((resolve) => { timer = setTimeout(resolve, ms); });
    try {
      await Promise.race([slept, deadline, ...(wakeup ? [wakeup(lookStartedAt)] : [])]);
    } finally {
      clearTimeout(timer);
    }
  };
  try {
    return await pRetry(async (attempt) => {
      attempts = attempt;
      lookStartedAt = performance.now();
      const look = Promise.resolve().then(() => probe(attempt));
      look.catch(() => {}); // a probe still running at the deadline must not reject unhandled
      const result = await Promise.race([look, deadline]);
      if (result === DEADLINE) throw timedOut();
      if (result.done) return result.value;
      lastSeen = result.seen;
      throw new NotYet(result.seen);
    }, {
      retries: Number.POSITIVE_INFINITY,
      minTimeout: 0,
      maxTimeout: 0,
      onFailedAttempt: async ({ error, attemptNumber }) => {
        if (error instanceof NotYet) await pause(attemptNumber);
      },
      maxRetryTime: timeoutMs,
      shouldRetry: ({ error }) => error instanceof NotYet,
      signal: controller.signal,
    });
  } catch (error) {
    if (error instanceof NotYet || error === DEADLINE) throw timedOut();
    throw error;
  } finally {
    clearTimeout(timer);
  }
}
