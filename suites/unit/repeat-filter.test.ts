// The dump's de-duplication without luck: entries that share a 32-bit kernel id are kept apart by
// their tuple hash, however many share it; only a true repeat (same id, same tuple) is dropped.
import { describe, expect, test } from 'vitest';
import { RepeatFilter } from '../../harness/conntrack/client.ts';

describe('RepeatFilter', () => {
  test('keeps entries sharing an id, drops repeats, also with three entries on one id', () => {
    const f = new RepeatFilter();
    const seen = (id: number, hash: number) => !f.isRepeat(id, hash);
    expect([seen(7, 1), seen(7, 2), seen(7, 3), seen(8, 1)]).toEqual([true, true, true, true]);
    expect([seen(7, 1), seen(7, 2), seen(7, 3), seen(8, 1)]).toEqual([false, false, false, false]);
  });

  test('keeps every pair across growth: 50,000 pairs (ids shared by two tuples) are new once, repeats after', () => {
    const f = new RepeatFilter();
    const pairs = Array.from({ length: 50_000 }, (_, i) => [(i >> 1) * 2654435761 >>> 0, i % 2 === 0 ? 0xffffffff : i] as const);
    expect(pairs.filter(([id, hash]) => f.isRepeat(id, hash))).toEqual([]);
    expect(pairs.every(([id, hash]) => f.isRepeat(id, hash))).toBe(true);
    expect(f.isRepeat(1, 2)).toBe(false);
  });
});
