// The oracle's parser of `conntrack -L expect` on a line captured from conntrack-tools 1.4.7 on
// Linux 6.18 (an FTP helper expectation made by a PORT command).
import { describe, expect, test } from 'vitest';
import { parseExpectLine } from '../../harness/conntrack/oracle.ts';

describe('parseExpectLine', () => {
  test('expected tuple, mask, master, class and helper', () => {
    const e = parseExpectLine('298 proto=6 src=10.213.100.2 dst=10.213.100.1 sport=0 dport=1025 mask-src=255.255.255.255 mask-dst=255.255.255.255 sport=0 dport=65535 master-src=10.213.100.1 master-dst=10.213.100.2 sport=57046 dport=21 class=0 helper=ftp');
    expect(e).toEqual({
      timeout: 298, protocol: 'tcp', class: 0, helper: 'ftp',
      tuple: { src: '10.213.100.2', dst: '10.213.100.1', sport: 0, dport: 1025 },
      mask: { src: '255.255.255.255', sport: 0 },
      master: { src: '10.213.100.1', dst: '10.213.100.2', sport: 57046, dport: 21 },
    });
  });

  test('a line without proto= is refused with ERR_ORACLE_PARSE', () => {
    expect(() => parseExpectLine('298 src=10.0.0.1 dst=10.0.0.2')).toThrow(expect.objectContaining({ code: 'ERR_ORACLE_PARSE' }));
  });
});
