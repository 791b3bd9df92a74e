// waitFor's timing: a wakeup cuts the pause between looks short, the poll stays as the fallback,
// the deadline holds whatever the wakeup does; wakeupOn keeps one pending next() so no change is lost.
import { WaitTimeoutError } from '../../harness/errors.ts';
import { describe, expect, test } from 'vitest';
import { notYet, ready, waitFor, wakeupOn } from '../../harness/os/wait.ts';

/** An async iterator whose items are pushed by the test. */
function changes() {
  const waiting: ((step: IteratorResult<number>) => void)[] = [];
  const queued: number[] = [];
  let done = false;
  return {
    push(n: number) {
      const take = waiting.shift();
      if (take) take({ value: n, done: false });
      else queued.push(n);
    },
    end() {
      done = true;
      for (const take of waiting.splice(0)) take({ value: undefined, done: true });
    },
    iterator: {
      next: (): Promise<IteratorResult<number>> => {
        if (queued.length > 0) return Promise.resolve({ value: queued.shift()!, done: false });
        if (done) return Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve) => waiting.push(resolve));
      },
    } satisfies AsyncIterator<number>,
  };
}

describe('waitFor with a wakeup', () => {
  test('a change prompts the next look at once, long before the poll interval', async () => {
    let value = 0;
    const source = changes();
    setTimeout(() => { value = 1; source.push(1); }, 50);
    const started = performance.now();
    const result = await waitFor(() => (value === 1 ? ready('seen') : notYet(`value ${value}`)),
      { what: 'value 1', intervalMs: 5_000, maxIntervalMs: 5_000, wakeup: wakeupOn(source.iterator) });
    expect(result).toBe('seen');
    expect(performance.now() - started).toBeLessThan(1_000);
  });

  test('a change that comes while a look runs is not lost: the next pause ends at once', async () => {
    let value = 0;
    const source = changes();
    const wakeup = wakeupOn(source.iterator);
    let looks = 0;
    const started = performance.now();
    const result = await waitFor(async () => {
      looks++;
      if (looks === 1) source.push(0); // a change before any pause: the first pause ends at once
      if (looks === 2) {
        // The change lands during this look, after it decided "not yet".
        setTimeout(() => { value = 1; source.push(1); }, 0);
        await new Promise((r) => setTimeout(r, 20));
        return notYet('not yet');
      }
      return value === 1 ? ready(looks) : notYet(`value ${value}`);
    }, { what: 'value 1', intervalMs: 2_000, maxIntervalMs: 2_000, wakeup });
    expect(result).toBe(3);
    // Only the wakeup can make it: the poll would look again after 2 s.
    expect(performance.now() - started).toBeLessThan(1_000);
  });

  test('without changes the poll goes on, and an ended source leaves only the poll', async () => {
    let looks = 0;
    const source = changes();
    source.end();
    const result = await waitFor(() => (++looks === 4 ? ready(looks) : notYet(`${looks}`)),
      { what: 'four looks', intervalMs: 5, maxIntervalMs: 10, wakeup: wakeupOn(source.iterator) });
    expect(result).toBe(4);
  });

  test('the deadline holds while a wakeup never comes', async () => {
    const started = performance.now();
    const error = await waitFor(() => notYet('nothing'),
      { what: 'nothing', timeoutMs: 200, intervalMs: 10_000, maxIntervalMs: 10_000, wakeup: () => new Promise(() => {}) }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WaitTimeoutError);
    expect(performance.now() - started).toBeLessThan(1_000);
  });

  test('a wakeup that fires all the time still ends at the deadline', async () => {
    const error = await waitFor(() => notYet('nothing'),
      { what: 'nothing', timeoutMs: 150, wakeup: () => new Promise((r) => setTimeout(r, 1)) }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WaitTimeoutError);
    expect((error as WaitTimeoutError).attempts).toBeGreaterThan(10);
    expect((error as WaitTimeoutError).elapsedMs).toBeLessThan(1_000);
  });
});
