// Hand-built netlink attributes for tests: raw TLV bytes made independently of the harness's own
// codec (MessageWriter writes, NestTable reads), so a test can feed either side bytes it trusts.
import { NLA_F_NESTED } from '../../harness/netlink/constants.ts';

/** Header + payload + zero padding to 4 bytes; `lenOverride` forges nla_len. */
export function tlv(rawType: number, payload: Uint8Array, lenOverride?: number): Buffer {
  const len = 4 + payload.length;
  const buf = Buffer.alloc((len + 3) & ~3);
  buf.writeUInt16LE(lenOverride ?? len, 0);
  buf.writeUInt16LE(rawType, 2);
  buf.set(payload, 4);
  return buf;
}

export const u8 = (type: number, v: number) => tlv(type, Buffer.from([v]));
export function be16(type: number, v: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(v, 0);
  return tlv(type, b);
}
export function be32(type: number, v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(v, 0);
  return tlv(type, b);
}
export function be64(type: number, v: bigint): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(v, 0);
  return tlv(type, b);
}
export function u32(type: number, v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v, 0);
  return tlv(type, b);
}
export const str = (type: number, v: string) => tlv(type, Buffer.from(`${v}\0`));
export const nest = (type: number, children: readonly Uint8Array[]) => tlv(type | NLA_F_NESTED, Buffer.concat(children));
