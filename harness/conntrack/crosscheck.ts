// Field-by-field comparison of what the client lists with what conntrack-tools prints (XML, and
// the extended text for the ICMP and GRE fields the XML leaves out). Used by a suite and a script.
import type { Conntrack } from './client.ts';
import type { ConntrackEntry } from './entry.ts';
import type { ConntrackFilter } from './filter.ts';
import type { ConntrackCli } from './oracle.ts';

export interface FieldDifference {
  /** Kernel id and tuple of the entry. */
  entry: string;
  field: string;
  client: unknown;
  oracle: unknown;
}

export interface CrossCheckReport {
  compared: number;
  differences: FieldDifference[];
}

/** Seconds may tick between the two reads. */
const TIMEOUT_SLACK = 2;

function describeEntry(e: ConntrackEntry): string {
  return `id=${e.id} ${e.family} ${e.protocol} ${e.src} -> ${e.dst} zone=${e.zone}`;
}

export async function crossCheck(client: Conntrack, oracle: ConntrackCli, filter: ConntrackFilter = {}): Promise<CrossCheckReport> {
  const [mine, xml, text] = [await client.list(filter), await oracle.listXml(filter), await oracle.list(filter)];
  const differences: FieldDifference[] = [];
  const byId = (list: ConntrackEntry[]) => new Map(list.map((e) => [e.id, e]));
  const xmlById = byId(xml);
  const textById = byId(text);
  for (const c of mine) {
    const x = xmlById.get(c.id);
    const t = textById.get(c.id);
    const name = describeEntry(c);
    if (!x || !t) {
      differences.push({ entry: name, field: '(presence)', client: 'listed', oracle: `${x ? '' : 'missing in XML '}${t ? '' : 'missing in text'}`.trim() });
      continue;
    }
    const diff = (field: string, a: unknown, b: unknown) => {
      if (JSON.stringify(a) !== JSON.stringify(b)) differences.push({ entry: name, field, client: a, oracle: b });
    };
    for (const f of ['family', 'protocol', 'src', 'dst', 'zone', 'mark'] as const) diff(f, c[f], x[f]);
    // libnetfilter_conntrack's XML names every protocol's state from the TCP table (SCTP
    // ESTABLISHED, state 4, comes out as FIN_WAIT); the text output names them right.
    diff('tcpState', c.tcpState, c.protocol === 'tcp' ? x.tcpState : t.tcpState);
    // Ports from the XML; ICMP fields and GRE keys only exist in the text output.
    const portSource = c.protocol === 'gre' ? t : x;
    diff('sport', c.sport, portSource.sport);
    diff('dport', c.dport, portSource.dport);
    diff('reply.src', c.reply?.src, x.reply?.src);
    diff('reply.dst', c.reply?.dst, x.reply?.dst);
    diff('reply.sport', c.reply?.sport, portSource.reply?.sport);
    diff('reply.dport', c.reply?.dport, portSource.reply?.dport);
    for (const f of ['icmpType', 'icmpCode', 'icmpId'] as const) {
      diff(f, c[f], t[f]);
      diff(`reply.${f}`, c.reply?.[f], t.reply?.[f]);
    }
    if (Math.abs((c.timeout ?? 0) - (x.timeout ?? 0)) > TIMEOUT_SLACK) diff('timeout', c.timeout, x.timeout);
    diff('unreplied', !(c.status ?? []).includes('SEEN_REPLY'), (x.status ?? []).includes('UNREPLIED'));
    diff('assured', (c.status ?? []).includes('ASSURED'), (x.status ?? []).includes('ASSURED'));
    xmlById.delete(c.id);
  }
  for (const x of xmlById.values()) {
    differences.push({ entry: describeEntry(x), field: '(presence)', client: 'missing', oracle: 'listed' });
  }
  return { compared: mine.length, differences };
}
