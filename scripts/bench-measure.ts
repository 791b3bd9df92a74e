// What the bench and its child processes measure with: the CPU time of waited-for children (the
// CLI's kernel share), the event loop's longest gap, and the JSON line a child prints last.
import koffi from 'koffi';

const RUSAGE_CHILDREN = -1;
/** struct rusage on x86_64: ru_utime and ru_stime (struct timeval each) first, 144 bytes in all. */
const RUSAGE_BYTES = 144;

let getrusage: ((who: number, usage: Buffer) => number) | undefined;

/**
 * System (kernel) time, in ms, of this process's waited-for children (getrusage(RUSAGE_CHILDREN)):
 * read before and after one CLI run, the difference is that run's.
 */
export function childrenSysMs(): number {
  getrusage ??= koffi.load('libc.so.6').func('int getrusage(int who, _Out_ uint8_t *usage)') as (who: number, usage: Buffer) => number;
  const usage = Buffer.alloc(RUSAGE_BYTES);
  if (getrusage(RUSAGE_CHILDREN, usage) !== 0) throw new Error(`getrusage failed: errno ${koffi.errno()}`);
  return Number(usage.readBigInt64LE(16)) * 1000 + Number(usage.readBigInt64LE(24)) / 1000;
}

/** Starts a 1 ms interval timer; `stop()` ends it and returns its longest gap, in ms. */
export function gapMeter(): { stop(): number } {
  let tick = performance.now();
  let longest = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    longest = Math.max(longest, now - tick);
    tick = now;
  }, 1);
  return {
    stop() {
      clearInterval(timer);
      return Math.max(longest, performance.now() - tick);
    },
  };
}

/** The last line of a child's stdout, parsed: where the bench's children put their result. */
export function lastJsonLine<T>(stdout: string): T {
  return JSON.parse(stdout.trim().split('\n').pop()!) as T;
}
