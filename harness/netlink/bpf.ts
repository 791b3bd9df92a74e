// Classic BPF socket filters (SO_ATTACH_FILTER): the instruction set as data, and the encoding
// the kernel takes (struct sock_filter { u16 code; u8 jt; u8 jf; u32 k; }, host byte order).
// Netlink filters reach attributes with the kernel's SKF_AD_NLATTR extension.

/** One instruction: `jt`/`jf` are relative jumps (instructions skipped) for conditional jumps. */
export interface BpfInstruction {
  code: number;
  jt: number;
  jf: number;
  k: number;
}

// linux/filter.h and linux/bpf_common.h
const BPF_LD = 0x00;
const BPF_LDX = 0x01;
const BPF_JMP = 0x05;
const BPF_RET = 0x06;
const BPF_MISC = 0x07;
const BPF_W = 0x00;
const BPF_H = 0x08;
const BPF_IMM = 0x00;
const BPF_ABS = 0x20;
const BPF_IND = 0x40;
const BPF_JEQ = 0x10;
const BPF_K = 0x00;
const BPF_TAX = 0x00;
const SKF_AD_OFF = -0x1000;
const SKF_AD_NLATTR = 12;

const op = (code: number, k = 0, jt = 0, jf = 0): BpfInstruction => ({ code, jt, jf, k: k >>> 0 });

/** The instructions a filter is written with. */
export const bpf = {
  /** A = k */
  loadImmediate: (k: number) => op(BPF_LD | BPF_IMM, k),
  /** X = k */
  loadXImmediate: (k: number) => op(BPF_LDX | BPF_W | BPF_IMM, k),
  /** A = offset of the first netlink attribute of type X at or after offset A, or 0 when none. */
  findNetlinkAttribute: () => op(BPF_LD | BPF_W | BPF_ABS, SKF_AD_OFF + SKF_AD_NLATTR),
  /** X = A */
  copyAToX: () => op(BPF_MISC | BPF_TAX),
  /** A = the big-endian u16 at X + k (as a number) */
  loadHalfIndirect: (k: number) => op(BPF_LD | BPF_H | BPF_IND, k),
  /** if A == k skip `jt` instructions, else skip `jf` */
  jumpIfEqual: (k: number, jt: number, jf: number) => op(BPF_JMP | BPF_JEQ | BPF_K, k, jt, jf),
  /** Keep the packet (up to k bytes; 0 drops it). */
  accept: () => op(BPF_RET | BPF_K, 0xffffffff),
  drop: () => op(BPF_RET | BPF_K, 0),
} as const;

/** The program as the kernel reads it. */
export function encodeBpf(program: readonly BpfInstruction[]): Buffer {
  const out = Buffer.alloc(program.length * 8);
  program.forEach((ins, i) => {
    out.writeUInt16LE(ins.code, i * 8);
    out.writeUInt8(ins.jt, i * 8 + 2);
    out.writeUInt8(ins.jf, i * 8 + 3);
    out.writeUInt32LE(ins.k, i * 8 + 4);
  });
  return out;
}
