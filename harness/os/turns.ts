// Long work in one call gives the event loop a turn every few milliseconds, so timers, test
// timeouts and signal handlers keep running (the bench reports the longest timer gap). An async
// loop whose awaits resolve at once (data already queued) runs as microtasks alone and starves
// timers just as a synchronous loop does; a setImmediate turn lets them in.
import { setImmediate } from 'node:timers/promises';

/** Work this long at most between two turns. */
export const TURN_EVERY_MS = 2;

/** Counts time since the last turn; `take()` yields one when it is due. */
export class Turns {
  #last = performance.now();

  /** True when a turn is due. */
  get due(): boolean {
    return performance.now() - this.#last > TURN_EVERY_MS;
  }

  /** Gives the event loop a turn if one is due. */
  async take(): Promise<void> {
    if (this.due) await this.now();
  }

  /** Gives the event loop a turn now. */
  async now(): Promise<void> {
    await setImmediate();
    this.#last = performance.now();
  }

  /** Counts from now: the caller just waited (a receive, a poll), which let the event loop run. */
  reset(): void {
    this.#last = performance.now();
  }
}
