// The client against conntrack-tools, field by field: every protocol and family of the registry,
// created by the CLI with marks, states and status flags, then a partial delete by the client.
import { Conntrack } from '../../harness/conntrack/client.ts';
import { crossCheck } from '../../harness/conntrack/crosscheck.ts';
import { keyOf } from '../../harness/conntrack/entry.ts';
import { expectSameEntries } from '../../harness/fixtures/assertions.ts';
import { describe, expect, test } from '../../harness/fixtures/index.ts';
import { mixedSamples, oracleArgsOf } from '../../harness/protocols/index.ts';

describe('cross-check with conntrack-tools', () => {
  test('Conntrack.list equals conntrack -L -o xml field by field; delete of a subset leaves exactly the rest', async ({ netns, oracle, zone }) => {
    const entries = mixedSamples(zone, 4);
    await oracle.createMany(entries, oracleArgsOf);
    await using ct = await Conntrack.open({ netns: netns.name });
    const report = await crossCheck(ct, oracle, { zone });
    expect(report.compared).toBe(entries.length);
    expect(report.differences).toEqual([]);

    const listed = await ct.list({ zone });
    const half = listed.filter((_, i) => i % 2 === 0);
    const rest = listed.filter((_, i) => i % 2 === 1);
    const result = await ct.delete(half);
    expect(result.deleted).toHaveLength(half.length);
    expectSameEntries(await oracle.list({ zone }), rest.map(keyOf), 'left after deleting half');
    expect((await crossCheck(ct, oracle, { zone })).differences).toEqual([]);
  });
});

describe('cross-check of entries the client created', () => {
  test('marks, timeouts, states and status flags set by the client are what conntrack-tools reads back', async ({ netns, oracle, zone }) => {
    await using ct = await Conntrack.open({ netns: netns.name });
    const entries = mixedSamples(zone, 4);
    await ct.create(entries);
    const report = await crossCheck(ct, oracle, { zone });
    expect(report.compared).toBe(entries.length);
    expect(report.differences).toEqual([]);
    const listed = await ct.list({ zone });
    // Half of the samples asked for SEEN_REPLY+ASSURED (see mixedSamples): the kernel must have set both.
    expect(listed.filter((e) => e.status?.includes('ASSURED') && e.status.includes('SEEN_REPLY'))).toHaveLength(entries.length / 2);
    expect(listed.filter((e) => e.mark === 7)).toHaveLength(entries.length / 4);
  });
});
