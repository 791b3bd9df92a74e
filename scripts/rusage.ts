// CPU time of this process's waited-for children (getrusage(RUSAGE_CHILDREN)): the bench reads it
// before and after one CLI run to get that run's user and system (kernel) time.
import koffi from 'koffi';

const RUSAGE_CHILDREN = -1;
/** struct rusage on x86_64: ru_utime and ru_stime (struct timeval each) first, 144 bytes in all. */
const RUSAGE_BYTES = 144;

let getrusage: ((who: number, usage: Buffer) => number) | undefined;

export function childrenCpuMs(): { userMs: number; sysMs: number } {
  getrusage ??= koffi.load('libc.so.6').func('int getrusage(int who, _Out_ uint8_t *usage)') as (who: number, usage: Buffer) => number;
  const usage = Buffer.alloc(RUSAGE_BYTES);
  if (getrusage(RUSAGE_CHILDREN, usage) !== 0) throw new Error(`getrusage failed: errno ${koffi.errno()}`);
  const ms = (at: number) => Number(usage.readBigInt64LE(at)) * 1000 + Number(usage.readBigInt64LE(at + 8)) / 1000;
  return { userMs: ms(0), sysMs: ms(16) };
}
