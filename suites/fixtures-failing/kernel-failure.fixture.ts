// A kernel test that fails on purpose, never part of the default run: ci-reports.test.ts runs it in
// a child vitest to prove the JUnit failure carries the namespace's conntrack table and ruleset.
import { expect, test } from '../../harness/fixtures/index.ts';
import { MARKER } from './markers.ts';

test('deliberately fails with an entry and a ruleset in its namespace', async ({ netns, oracle, zone }) => {
  await oracle.create({ protocol: 'udp', src: MARKER.src, dst: MARKER.dst, sport: MARKER.sport, dport: MARKER.dport, zone });
  await netns.exec(['nft', 'add', 'table', 'inet', MARKER.nftTable]);
  expect(await oracle.count({ zone }), 'deliberate failure: one entry exists, the test claims two').toBe(2);
});
