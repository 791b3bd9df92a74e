// The oracle's parsers on real `conntrack -L` output captured from conntrack-tools 1.4.7 on Linux
// 6.18 (`-o extended,id` from the seed suite; `-o extended,ktimestamp,id`, `-o xml,ktimestamp` and
// `-o save` from `npm run compare`'s table), the cross-check's NAT rule, and the argument builder.
import { describe, expect, test } from 'vitest';
import { cliNatSelects, parseSaveLine } from '../../harness/conntrack/crosscheck.ts';
import { ConntrackOracle, createArgs, parseCtime, parseExtendedLine, parseXml } from '../../harness/conntrack/oracle.ts';

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
    expect(e).toMatchObject({ family: 'ipv6', protocol: 'tcp', state: 'ESTABLISHED', sport: 1, dport: 2, zone: 3, id: 2866320599 });
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

// Captured on Linux 6.18 with conntrack-tools 1.4.7, counters and timestamps on in the namespace
// (`npm run compare`'s table, and the probes behind cliNatSelects): the constants at the end.
describe('parseExtendedLine: generic protocols, directional zones, counters, timestamps, helper', () => {
  /** `[start=...]` is ctime(3), local time: read back in this process's time zone, like the CLI's. */
  const local = (y: number, mo: number, d: number, h: number, mi: number, s: number) => BigInt(new Date(y, mo, d, h, mi, s).getTime() / 1000) * 1_000_000_000n;

  test('a generic protocol by number, SNAT in the reply tuple, counters, delta-time and [start=...]', () => {
    expect(parseExtendedLine(LINE_200)).toEqual({
      family: 'ipv4', protocol: 200, src: '10.7.0.3', dst: '10.7.0.4', zone: 77, timeout: 119, mark: 0, use: 1, id: 1836066091,
      reply: { src: '10.7.0.4', dst: '10.7.9.9' }, status: ['UNREPLIED'],
      counters: { orig: { packets: 0, bytes: 0 }, reply: { packets: 0, bytes: 0 } },
      deltaTime: 0, timestamp: { start: local(2026, 10, 26, 20, 7, 14) },
    });
  });
  test('IGMP is named (the CLI prints `unknown  2`)', () => {
    const e = parseExtendedLine(LINE_IGMP6);
    expect(e).toMatchObject({ family: 'ipv6', protocol: 'igmp', zone: 77, mark: 7, status: ['ASSURED'], deltaTime: 0 });
    expect(e.timestamp).toBeUndefined();
    expect(e.sport).toBeUndefined();
  });
  test('zone-orig= after the original tuple, zone-reply= after the reply tuple; zone is then 0', () => {
    const o = parseExtendedLine(LINE_ORIG_ZONE);
    expect(o).toMatchObject({ zone: 0, origZone: 9, sport: 4002, dport: 53, reply: { src: '10.7.1.2', dst: '10.7.1.1', sport: 53, dport: 4002 } });
    expect(o.replyZone).toBeUndefined();
    const r = parseExtendedLine(LINE_REPLY_ZONE);
    expect(r).toMatchObject({ zone: 0, replyZone: 8, reply: { src: '10.7.2.2', dst: '10.7.2.1', sport: 53, dport: 4003 }, id: 3987601269 });
    expect(r.origZone).toBeUndefined();
  });
  test('a real flow: non-zero counters per direction, helper=, [start=...] before use=', () => {
    expect(parseExtendedLine(LINE_HELPER)).toMatchObject({
      protocol: 'tcp', state: 'ESTABLISHED', sport: 40556, dport: 2121, helper: 'ftp', use: 1, id: 2252108010, deltaTime: 1,
      counters: { orig: { packets: 2, bytes: 112 }, reply: { packets: 1, bytes: 60 } }, status: ['ASSURED'],
      timestamp: { start: local(2026, 10, 26, 20, 8, 39) },
    });
  });
  test('ICMP ids in both tuples are not the entry id, with counters between', () => {
    expect(parseExtendedLine(LINE_ICMP)).toMatchObject({ icmpType: 8, icmpCode: 0, icmpId: 1, id: 2091721443, reply: { icmpType: 0, icmpCode: 0, icmpId: 1 } });
  });
  test('a bracket that never closes, a bracketed field it does not know, or a time that is not ctime\'s is a typed error', () => {
    for (const bad of [
      LINE_200.replace(' 2026] use=1 id=1836066091', ''),
      LINE_200.replace('[start=Thu', '[begin=Thu'),
      LINE_200.replace('Nov 26', 'Foo 26'),
    ]) {
      expect(() => parseExtendedLine(bad), bad).toThrow(expect.objectContaining({ code: 'ERR_ORACLE_PARSE' }));
    }
  });
  test('parseCtime: ctime pads a one-digit day with a space; the result is whole seconds', () => {
    expect(parseCtime('Fri Nov  6 01:02:03 2026')).toBe(local(2026, 10, 6, 1, 2, 3));
    expect(parseCtime('Thu Nov 26 20:07:14 2026')! % 1_000_000_000n).toBe(0n);
    expect(parseCtime('yesterday')).toBeUndefined();
  });
});

describe('parseXml: directional zones, counters, exact timestamps, GRE keys, helper', () => {
  test('<zone> inside the original meta is origZone, inside the reply meta replyZone; <timestamp><start> is exact', () => {
    const [o, r] = parseXml(`<?xml version="1.0" encoding="utf-8"?>\n<conntrack>\n${XML_ORIG_ZONE}\n${XML_REPLY_ZONE}\n</conntrack>\n`);
    expect(o).toEqual({
      family: 'ipv4', protocol: 'udp', src: '10.7.1.1', dst: '10.7.1.2', sport: 4002, dport: 53, zone: 0, origZone: 9,
      reply: { src: '10.7.1.2', dst: '10.7.1.1', sport: 53, dport: 4002 }, timeout: 119, mark: 0, use: 1, id: 3460926001,
      status: ['UNREPLIED'], counters: { orig: { packets: 0, bytes: 0 }, reply: { packets: 0, bytes: 0 } },
      timestamp: { start: 1795723634279468823n }, deltaTime: 0,
    });
    expect(r).toMatchObject({ zone: 0, replyZone: 8, timestamp: { start: 1795723634279473242n } });
    expect(r!.origZone).toBeUndefined();
  });
  test('the helper follows the metas; counters are per direction', () => {
    expect(parseXml(XML_HELPER)[0]).toMatchObject({
      helper: 'ftp', state: 'ESTABLISHED', use: 1, deltaTime: 1, counters: { orig: { packets: 2, bytes: 112 }, reply: { packets: 1, bytes: 60 } },
    });
  });
  test('GRE keys are in the XML, in hex; a generic protocol is protoname="unknown" with its number', () => {
    const [gre, generic] = parseXml(`${XML_GRE}\n${XML_200}`);
    expect(gre).toMatchObject({ protocol: 'gre', sport: 0x401, dport: 0x35, reply: { sport: 0x35, dport: 0x401 } });
    expect(generic).toMatchObject({ protocol: 200, zone: 77, reply: { src: '10.7.0.4', dst: '10.7.9.9' }, deltaTime: 0 });
    expect(generic!.timestamp).toBeUndefined();
    expect(generic!.helper).toBeUndefined();
  });
});

describe('parseSaveLine (-o save)', () => {
  test('-n and -g stand for -q and -r when the CLI sees NAT; -u lists the flags it knows', () => {
    expect(parseSaveLine(SAVE_DOUBLE_NAT)).toEqual({
      family: 'ipv4', protocol: 'tcp', src: '10.7.0.1', dst: '10.7.0.2', sport: 4005, dport: 80, zone: 77, timeout: 119,
      reply: { src: '10.7.8.8', dst: '10.7.9.9', sport: 8080, dport: 7000 }, state: 'ESTABLISHED', status: [], snat: true, dnat: true,
    });
    expect(parseSaveLine(SAVE_FIXED)).toMatchObject({ zone: 0, status: ['SEEN_REPLY', 'ASSURED', 'FIXED_TIMEOUT'], snat: false, dnat: false });
  });
  test('a port-only SNAT is not -n: only its reply port shows it', () => {
    expect(parseSaveLine(SAVE_PORT_ONLY)).toMatchObject({ snat: false, reply: { src: '10.9.0.2', dst: '10.9.0.1', sport: 53, dport: 6000 } });
  });
  test('generic protocols by number, directional zones, GRE keys in decimal, ICMP without a reply type', () => {
    expect(parseSaveLine(SAVE_ORIG_ZONE_IGMP)).toEqual({
      family: 'ipv4', protocol: 'igmp', src: '10.7.3.1', dst: '224.0.0.22', zone: 0, origZone: 5, timeout: 119,
      reply: { src: '224.0.0.22', dst: '10.7.3.1' }, status: [], snat: false, dnat: false,
    });
    expect(parseSaveLine(SAVE_REPLY_ZONE)).toMatchObject({ zone: 0, replyZone: 8 });
    expect(parseSaveLine(SAVE_200_V6)).toMatchObject({ family: 'ipv6', protocol: 200, status: ['SEEN_REPLY', 'ASSURED'] });
    expect(parseSaveLine(SAVE_GRE)).toMatchObject({ protocol: 'gre', sport: 1025, dport: 53, reply: { sport: 53, dport: 1025 } });
    const icmp = parseSaveLine(SAVE_ICMPV6);
    expect(icmp).toMatchObject({ protocol: 'icmpv6', icmpType: 128, icmpCode: 0, icmpId: 1 });
    expect(icmp.reply).toEqual({ src: '2001:db8:ffff::1', dst: '2001:db8::1' });
    expect(parseSaveLine(SAVE_SCTP)).toMatchObject({ protocol: 'sctp', state: 'ESTABLISHED' });
  });
  test('anything else is a typed error', () => {
    for (const bad of [
      '-D -t 1',
      SAVE_GRE.replace('-u SEEN_REPLY,ASSURED', '-u SEEN_REPLY,DYING'),
      SAVE_GRE.replace('-p gre', '-p nope'),
      `${SAVE_GRE} --label-add foo`,
      SAVE_GRE.replace(' --reply-key-dst 1025', ' --reply-key-dst'),
    ]) {
      expect(() => parseSaveLine(bad), bad).toThrow(expect.objectContaining({ code: 'ERR_ORACLE_PARSE' }));
    }
  });
});

describe('cliNatSelects: conntrack -L --src-nat/--dst-nat without an address', () => {
  // Entries as the client lists them after create with snat/dnat (ctnetlink NAT sets both *_NAT_DONE bits).
  const icmp = (icmpId: number, status: string[], reply: { src: string; dst: string }) => ({
    family: 'ipv4' as const, protocol: 'icmp' as const, src: '10.7.0.6', dst: '10.7.0.7', zone: 0, icmpType: 8, icmpCode: 0, icmpId,
    reply: { ...reply, icmpType: 0, icmpCode: 0, icmpId }, status,
  });
  const snatDone = ['CONFIRMED', 'SRC_NAT', 'SRC_NAT_DONE', 'DST_NAT_DONE'];
  const dnatDone = ['CONFIRMED', 'DST_NAT', 'SRC_NAT_DONE', 'DST_NAT_DONE'];
  test('an ICMP echo with SNAT only is --dst-nat too unless its id is type << 8 | code (measured: id 9 listed, 2048 not)', () => {
    expect(cliNatSelects(icmp(9, snatDone, { src: '10.7.0.7', dst: '10.7.9.9' }), 'dst')).toBe(true);
    expect(cliNatSelects(icmp(2048, snatDone, { src: '10.7.0.7', dst: '10.7.9.9' }), 'dst')).toBe(false);
    expect(cliNatSelects(icmp(9, snatDone, { src: '10.7.0.7', dst: '10.7.9.9' }), 'src')).toBe(true);
  });
  test('an ICMP echo with DNAT only is --src-nat too unless its id is the reply type << 8 | code (0)', () => {
    expect(cliNatSelects(icmp(9, dnatDone, { src: '10.7.8.8', dst: '10.7.0.6' }), 'src')).toBe(true);
    expect(cliNatSelects(icmp(0, dnatDone, { src: '10.7.8.8', dst: '10.7.0.6' }), 'src')).toBe(false);
  });
  test('without *_NAT_DONE nothing is NAT, whatever the reply tuple (an explicit reply is not NAT)', () => {
    expect(cliNatSelects(icmp(9, ['CONFIRMED'], { src: '10.7.0.7', dst: '10.7.0.6' }), 'any')).toBe(false);
    const explicit = {
      family: 'ipv4' as const, protocol: 'udp' as const, src: '10.7.0.8', dst: '10.7.0.9', sport: 4006, dport: 53, zone: 0,
      reply: { src: '10.7.0.10', dst: '10.7.0.11', sport: 53, dport: 4006 }, status: ['CONFIRMED'],
    };
    expect(cliNatSelects(explicit, 'any')).toBe(false);
  });
  test('a port-only SNAT is --src-nat (by its port), not --dst-nat', () => {
    const portOnly = {
      family: 'ipv4' as const, protocol: 'udp' as const, src: '10.9.0.1', dst: '10.9.0.2', sport: 5004, dport: 53, zone: 0,
      reply: { src: '10.9.0.2', dst: '10.9.0.1', sport: 53, dport: 6000 }, status: snatDone,
    };
    expect(cliNatSelects(portOnly, 'src')).toBe(true);
    expect(cliNatSelects(portOnly, 'dst')).toBe(false);
  });
});

const LINE_200 = 'ipv4     2 unknown  200 119 src=10.7.0.3 dst=10.7.0.4 packets=0 bytes=0 [UNREPLIED] src=10.7.0.4 dst=10.7.9.9 packets=0 bytes=0 mark=0 zone=77 delta-time=0 [start=Thu Nov 26 20:07:14 2026] use=1 id=1836066091';
const LINE_IGMP6 = 'ipv6     10 unknown  2 299 src=2001:db8::1 dst=2001:db8:ffff::1 packets=0 bytes=0 src=2001:db8:ffff::1 dst=2001:db8::1 packets=0 bytes=0 [ASSURED] mark=7 zone=77 delta-time=0 use=1 id=2799938668';
const LINE_ORIG_ZONE = 'ipv4     2 udp      17 119 src=10.7.1.1 dst=10.7.1.2 sport=4002 dport=53 zone-orig=9 packets=0 bytes=0 [UNREPLIED] src=10.7.1.2 dst=10.7.1.1 sport=53 dport=4002 packets=0 bytes=0 mark=0 delta-time=0 [start=Thu Nov 26 20:07:14 2026] use=1 id=3460926001';
const LINE_REPLY_ZONE = 'ipv4     2 udp      17 119 src=10.7.2.1 dst=10.7.2.2 sport=4003 dport=53 packets=0 bytes=0 [UNREPLIED] src=10.7.2.2 dst=10.7.2.1 sport=53 dport=4003 zone-reply=8 packets=0 bytes=0 mark=0 delta-time=0 [start=Thu Nov 26 20:07:14 2026] use=1 id=3987601269';
const LINE_HELPER = 'ipv4     2 tcp      6 431999 ESTABLISHED src=127.0.0.1 dst=127.0.0.1 sport=40556 dport=2121 packets=2 bytes=112 src=127.0.0.1 dst=127.0.0.1 sport=2121 dport=40556 packets=1 bytes=60 [ASSURED] mark=0 delta-time=1 [start=Thu Nov 26 20:08:39 2026] helper=ftp use=1 id=2252108010';
const LINE_ICMP = 'ipv4     2 icmp     1 299 src=198.51.0.0 dst=203.0.113.1 type=8 code=0 id=1 packets=0 bytes=0 src=203.0.113.1 dst=198.51.0.0 type=0 code=0 id=1 packets=0 bytes=0 [ASSURED] mark=7 zone=77 delta-time=0 use=1 id=2091721443';
const XML_ORIG_ZONE = '<flow><meta direction="original"><layer3 protonum="2" protoname="ipv4"><src>10.7.1.1</src><dst>10.7.1.2</dst></layer3><layer4 protonum="17" protoname="udp"><sport>4002</sport><dport>53</dport></layer4><zone>9</zone><counters><packets>0</packets><bytes>0</bytes></counters></meta><meta direction="reply"><layer3 protonum="2" protoname="ipv4"><src>10.7.1.2</src><dst>10.7.1.1</dst></layer3><layer4 protonum="17" protoname="udp"><sport>53</sport><dport>4002</dport></layer4><counters><packets>0</packets><bytes>0</bytes></counters></meta><meta direction="independent"><timeout>119</timeout><mark>0</mark><use>1</use><id>3460926001</id><unreplied/><timestamp><start>1795723634279468823</start></timestamp><deltatime>0</deltatime></meta></flow>';
const XML_REPLY_ZONE = '<flow><meta direction="original"><layer3 protonum="2" protoname="ipv4"><src>10.7.2.1</src><dst>10.7.2.2</dst></layer3><layer4 protonum="17" protoname="udp"><sport>4003</sport><dport>53</dport></layer4><counters><packets>0</packets><bytes>0</bytes></counters></meta><meta direction="reply"><layer3 protonum="2" protoname="ipv4"><src>10.7.2.2</src><dst>10.7.2.1</dst></layer3><layer4 protonum="17" protoname="udp"><sport>53</sport><dport>4003</dport></layer4><zone>8</zone><counters><packets>0</packets><bytes>0</bytes></counters></meta><meta direction="independent"><timeout>119</timeout><mark>0</mark><use>1</use><id>3987601269</id><unreplied/><timestamp><start>1795723634279473242</start></timestamp><deltatime>0</deltatime></meta></flow>';
const XML_HELPER = '<flow><meta direction="original"><layer3 protonum="2" protoname="ipv4"><src>127.0.0.1</src><dst>127.0.0.1</dst></layer3><layer4 protonum="6" protoname="tcp"><sport>40556</sport><dport>2121</dport></layer4><counters><packets>2</packets><bytes>112</bytes></counters></meta><meta direction="reply"><layer3 protonum="2" protoname="ipv4"><src>127.0.0.1</src><dst>127.0.0.1</dst></layer3><layer4 protonum="6" protoname="tcp"><sport>2121</sport><dport>40556</dport></layer4><counters><packets>1</packets><bytes>60</bytes></counters></meta><meta direction="independent"><state>ESTABLISHED</state><timeout>431999</timeout><mark>0</mark><use>1</use><id>2252108010</id><assured/><timestamp><start>1795723719519327148</start></timestamp><deltatime>1</deltatime></meta><helper>ftp</helper></flow>';
const XML_GRE = '<flow><meta direction="original"><layer3 protonum="2" protoname="ipv4"><src>198.51.0.0</src><dst>203.0.113.1</dst></layer3><layer4 protonum="47" protoname="gre"><srckey>0x401</srckey><dstkey>0x35</dstkey></layer4><counters><packets>0</packets><bytes>0</bytes></counters></meta><meta direction="reply"><layer3 protonum="2" protoname="ipv4"><src>203.0.113.1</src><dst>198.51.0.0</dst></layer3><layer4 protonum="47" protoname="gre"><srckey>0x35</srckey><dstkey>0x401</dstkey></layer4><counters><packets>0</packets><bytes>0</bytes></counters></meta><meta direction="independent"><timeout>299</timeout><mark>7</mark><zone>77</zone><use>1</use><id>4205064039</id><assured/><deltatime>0</deltatime></meta></flow>';
const XML_200 = '<flow><meta direction="original"><layer3 protonum="2" protoname="ipv4"><src>10.7.0.3</src><dst>10.7.0.4</dst></layer3><layer4 protonum="200" protoname="unknown"></layer4><counters><packets>0</packets><bytes>0</bytes></counters></meta><meta direction="reply"><layer3 protonum="2" protoname="ipv4"><src>10.7.0.4</src><dst>10.7.9.9</dst></layer3><layer4 protonum="200" protoname="unknown"></layer4><counters><packets>0</packets><bytes>0</bytes></counters></meta><meta direction="independent"><timeout>119</timeout><mark>0</mark><zone>77</zone><use>1</use><id>1836066091</id><unreplied/><deltatime>0</deltatime></meta></flow>';
const SAVE_DOUBLE_NAT = '-A -t 119 -u UNSET -w 77 -s 10.7.0.1 -d 10.7.0.2 -g 10.7.8.8 -n 10.7.9.9 -p tcp --sport 4005 --dport 80 --reply-port-src 8080 --reply-port-dst 7000 --state ESTABLISHED';
const SAVE_FIXED = '-A -t 119 -u SEEN_REPLY,ASSURED,FIXED_TIMEOUT -s 10.7.4.1 -d 10.7.4.2 -r 10.7.4.2 -q 10.7.4.1 -p udp --sport 4004 --dport 53 --reply-port-src 53 --reply-port-dst 4004';
const SAVE_PORT_ONLY = '-A -t 119 -u UNSET -s 10.9.0.1 -d 10.9.0.2 -r 10.9.0.2 -q 10.9.0.1 -p udp --sport 5004 --dport 53 --reply-port-src 53 --reply-port-dst 6000';
const SAVE_ORIG_ZONE_IGMP = '-A -t 119 -u UNSET --orig-zone 5 -s 10.7.3.1 -d 224.0.0.22 -r 224.0.0.22 -q 10.7.3.1 -p 2';
const SAVE_REPLY_ZONE = '-A -t 119 -u UNSET --reply-zone 8 -s 10.7.2.1 -d 10.7.2.2 -r 10.7.2.2 -q 10.7.2.1 -p udp --sport 4003 --dport 53 --reply-port-src 53 --reply-port-dst 4003';
const SAVE_200_V6 = '-A -t 299 -u SEEN_REPLY,ASSURED -w 77 -s 2001:db8::1 -d 2001:db8:ffff::1 -r 2001:db8:ffff::1 -q 2001:db8::1 -p 200';
const SAVE_GRE = '-A -t 299 -u SEEN_REPLY,ASSURED -w 77 -s 198.51.0.0 -d 203.0.113.1 -r 203.0.113.1 -q 198.51.0.0 -p gre --srckey 1025 --dstkey 53 --reply-key-src 53 --reply-key-dst 1025';
const SAVE_ICMPV6 = '-A -t 299 -u SEEN_REPLY,ASSURED -w 77 -s 2001:db8::1 -d 2001:db8:ffff::1 -r 2001:db8:ffff::1 -q 2001:db8::1 -p icmpv6 --icmpv6-type 128 --icmpv6-code 0 --icmpv6-id 1';
const SAVE_SCTP = '-A -t 299 -u SEEN_REPLY,ASSURED -w 77 -s 198.51.0.0 -d 203.0.113.1 -r 203.0.113.1 -q 198.51.0.0 -p sctp --sport 1025 --dport 53 --reply-port-src 53 --reply-port-dst 1025 --state ESTABLISHED --orig-vtag 16777216 --reply-vtag 33554432';

describe('GRE keys: conntrack -L/-D/-U ignore --srckey/--dstkey, so the oracle refuses to select by them', () => {
  const gre = { protocol: 'gre', src: '10.0.0.1', dst: '10.0.0.2', sport: 1, dport: 2, zone: 0 } as const;
  const refused = expect.objectContaining({ code: 'ERR_ORACLE_UNSUPPORTED', message: expect.stringMatching(/GRE key/) });

  test('in a filter (-L, -D), by name or by number; GRE alone is fine', () => {
    expect(() => ConntrackOracle.filterArgs({ protocol: 'gre', sport: 1 })).toThrow(refused);
    expect(() => ConntrackOracle.filterArgs({ protocol: 47, dport: 1 })).toThrow(refused);
    expect(ConntrackOracle.filterArgs({ protocol: 'gre', zone: 3 })).toEqual(['-p', 'gre', '-w', '3']);
    expect(ConntrackOracle.filterArgs({ protocol: 'udp', sport: 1 })).toEqual(['-p', 'udp', '--sport', '1']);
  });

  test('for one entry (-D, -U), before any command runs', async () => {
    // No such namespace: a command would fail differently.
    const oracle = new ConntrackOracle({ netns: 'cth-nosuch_1' });
    await expect(oracle.delete(gre)).rejects.toThrow(refused);
    await expect(oracle.update(gre, { mark: 1 })).rejects.toThrow(refused);
  });
});
