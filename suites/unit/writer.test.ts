// The in-place message writer: messages that cross a chunk boundary are moved whole and stay
// byte-identical to hand-built TLVs; earlier views are never overwritten.
import { describe, expect, test } from 'vitest';
import { be16, be32, nest, tlv, u8 } from '../support/tlv.ts';
import { encodeNfMessage } from '../../harness/netlink/message.ts';
import { MessageWriter } from '../../harness/netlink/writer.ts';

// A raw attribute of 0-12 bytes first, so chunk boundaries fall on every kind of write.
function viaWriter(w: MessageWriter, seq: number): Buffer {
  w.begin(0x0100, 5, seq, 2);
  const o = w.attr(9, seq % 13);
  w.buffer.fill(seq & 255, o, o + (seq % 13));
  return w.nest(1).u8(1, seq & 255).u16be(2, seq & 0xffff).end().u32be(7, seq).finish();
}

function viaEncoders(seq: number): Buffer {
  return encodeNfMessage({
    type: 0x0100, flags: 5, seq, family: 2,
    attrs: [tlv(9, Buffer.alloc(seq % 13, seq & 255)), nest(1, [u8(1, seq & 255), be16(2, seq & 0xffff)]), be32(7, seq)],
  });
}

describe('MessageWriter', () => {
  test('thousands of messages across chunk boundaries equal the plain encoding, and stay intact', () => {
    const w = new MessageWriter();
    const views = Array.from({ length: 100_000 }, (_, i) => viaWriter(w, i + 1));
    views.forEach((view, i) => expect(view.equals(viaEncoders(i + 1)), `message ${i + 1}`).toBe(true));
  });

  test('an unfinished message (a write threw) is discarded by the next begin()', () => {
    const w = new MessageWriter();
    const first = viaWriter(w, 1);
    w.begin(0x0100, 5, 2, 2).nest(1);
    expect(() => w.u8(1, 256)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT' }));
    const third = viaWriter(w, 3);
    expect(first.equals(viaEncoders(1))).toBe(true);
    expect(third.equals(viaEncoders(3))).toBe(true);
  });
});
