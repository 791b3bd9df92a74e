// IP addresses in entries are strings in canonical form (IPv6 compressed, lowercase) so entries
// from the kernel, the CLI and users compare equal; this converts between text and wire bytes.
import { isIPv4, isIPv6 } from 'node:net';

export type Family = 'ipv4' | 'ipv6';

export function familyOf(address: string): Family | undefined {
  if (isIPv4(address)) return 'ipv4';
  if (isIPv6(address) && !address.includes('%')) return 'ipv6';
  return undefined;
}

const canonicalCache = new Map<string, string>();

/** Canonical text of a valid address (`2001:0db8::0001` -> `2001:db8::1`). */
export function canonicalAddress(address: string): string {
  if (isIPv4(address)) return address;
  let c = canonicalCache.get(address);
  if (c === undefined) {
    c = bytesToAddress(addressToBytes(address, 'ipv6'));
    if (canonicalCache.size > 10_000) canonicalCache.clear();
    canonicalCache.set(address, c);
  }
  return c;
}

export function addressToBytes(address: string, family: Family): Buffer {
  if (family === 'ipv4') {
    const parts = address.split('.');
    const out = Buffer.allocUnsafe(4);
    for (let i = 0; i < 4; i++) out[i] = Number(parts[i]);
    return out;
  }
  const out = Buffer.alloc(16);
  let text = address;
  // An embedded IPv4 tail (::ffff:1.2.3.4) becomes two groups.
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    const b = addressToBytes(v4[1]!, 'ipv4');
    text = `${text.slice(0, v4.index)}${b.readUInt16BE(0).toString(16)}:${b.readUInt16BE(2).toString(16)}`;
  }
  const [head, tail] = text.includes('::') ? text.split('::') as [string, string] : [text, undefined];
  const headGroups = head ? head.split(':') : [];
  const tailGroups = tail ? tail.split(':') : [];
  headGroups.forEach((g, i) => out.writeUInt16BE(Number.parseInt(g, 16), i * 2));
  tailGroups.forEach((g, i) => out.writeUInt16BE(Number.parseInt(g, 16), 16 - (tailGroups.length - i) * 2));
  return out;
}

export function bytesToAddress(bytes: Buffer): string {
  if (bytes.length === 4) return `${bytes[0]}.${bytes[1]}.${bytes[2]}.${bytes[3]}`;
  // RFC 5952: longest run (>= 2) of zero groups becomes '::', first one wins on ties.
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(bytes.readUInt16BE(i));
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (gs: number[]) => gs.map((g) => g.toString(16)).join(':');
  if (bestStart < 0) return hex(groups);
  return `${hex(groups.slice(0, bestStart))}::${hex(groups.slice(bestStart + bestLen))}`;
}

/** Writes an address's wire bytes (4 or 16) into `buf` at `offset`, without allocating for IPv4. */
export function writeAddress(buf: Buffer, offset: number, address: string, family: Family): void {
  if (family === 'ipv6') {
    addressToBytes(address, 'ipv6').copy(buf, offset);
    return;
  }
  let part = 0;
  let value = 0;
  for (let i = 0; i < address.length; i++) {
    const c = address.charCodeAt(i);
    if (c === 46) {
      buf[offset + part++] = value;
      value = 0;
    } else {
      value = value * 10 + (c - 48);
    }
  }
  buf[offset + part] = value;
}
