// The oracle's parser on real `conntrack -L -o extended,id` lines captured from conntrack-tools
// 1.4.7 on Linux 6.18 (see the seed suite), and its argument builder.
import { describe, expect, test } from 'vitest';
import { createArgs, parseExtendedLine } from '../../harness/conntrack/oracle.ts';

describe('parseExtendedLine', () => {
  test('ICMP with its id and zone', () => {
    const e = parseExtendedLine('ipv4     2 icmp     1 99 src=1.1.1.1 dst=2.2.2.2 type=8 code=0 id=3333 [UNREPLIED] src=2.2.2.2 dst=1.1.1.1 type=0 code=0 id=3333 mark=0 zone=10 use=1 id=3360849700');
    expect(e).toMatchObject({
      family: 'ipv4', protocol: 'icmp', src: '1.1.1.1', dst: '2.2.2.2', icmpType: 8, icmpCode: 0, icmpId: 3333,
      zone: 10, mark: 0, id: 3360849700, timeout: 99, status: ['UNREPLIED'],
      reply: { src: '2.2.2.2', dst: '1.1.1.1', icmpType: 0, icmpCode: 0, icmpId: 3333 },
    });
  });
  test('TCP state and IPv6', () => {
    const e = parseExtendedLine('ipv6     10 tcp      6 99 ESTABLISHED src=2001:db8::1 dst=2001:db8::2 sport=1 dport=2 [UNREPLIED] src=2001:db8::2 dst=2001:db8::1 sport=2 dport=1 mark=0 zone=3 use=1 id=2866320599');
    expect(e).toMatchObject({ family: 'ipv6', protocol: 'tcp', tcpState: 'ESTABLISHED', sport: 1, dport: 2, zone: 3, id: 2866320599 });
    expect(e.reply).toEqual({ src: '2001:db8::2', dst: '2001:db8::1', sport: 2, dport: 1 });
  });
  test('GRE keys are hex', () => {
    const e = parseExtendedLine('ipv4     2 gre      47 99 src=1.1.1.1 dst=2.2.2.2 srckey=0x7 dstkey=0x8 [UNREPLIED] src=2.2.2.2 dst=1.1.1.1 srckey=0x8 dstkey=0x7 mark=0 zone=3 use=1 id=3089372116');
    expect(e).toMatchObject({ protocol: 'gre', sport: 7, dport: 8, zone: 3 });
  });
  test('zone 0 is omitted by the CLI', () => {
    const e = parseExtendedLine('ipv4     2 udp      17 29 src=10.0.0.1 dst=10.0.0.2 sport=4 dport=5 src=10.0.0.2 dst=10.0.0.1 sport=5 dport=4 [ASSURED] mark=0 use=1 id=1');
    expect(e.zone).toBe(0);
    expect(e.status).toEqual(['ASSURED']);
  });
  test('garbage is a typed error', () => {
    expect(() => parseExtendedLine('conntrack v1.4.7: 3 flow entries')).toThrow(expect.objectContaining({ code: 'ERR_ORACLE_PARSE' }));
  });
});

describe('createArgs', () => {
  test('seed TCP entry', () => {
    expect(createArgs({ protocol: 'tcp', src: '1.1.1.1', dst: '2.2.2.2', sport: 1, dport: 2, zone: 9 })).toEqual([
      '-p', 'tcp', '-s', '1.1.1.1', '-d', '2.2.2.2', '--sport', '1', '--dport', '2', '-w', '9', '-t', '120', '--state', 'ESTABLISHED',
    ]);
  });
  test('validates first', () => {
    expect(() => createArgs({ protocol: 'udp', src: '1.1.1.1', dst: '2.2.2.2', sport: 0, dport: 2 })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_PORT' }));
  });
});
