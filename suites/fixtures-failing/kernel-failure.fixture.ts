// Kernel tests that fail on purpose, never part of the default run: ci-reports.test.ts runs them in
// a child vitest to prove what a CI run reports of a failure (JUnit, annotations, the step summary).
import { expect, test } from '../../harness/fixtures/index.ts';
import { FAILING_TESTS, MARKER } from './markers.ts';

test(FAILING_TESTS.assertion, async ({ netns, oracle, zone }) => {
  await oracle.create({ protocol: 'udp', src: MARKER.src, dst: MARKER.dst, sport: MARKER.sport, dport: MARKER.dport, zone });
  await netns.exec(['nft', 'add', 'table', 'inet', MARKER.nftTable]);
  expect(await oracle.count({ zone }), 'deliberate failure: one entry exists, the test claims two').toBe(2);
});

// Its namespace has no entry and no ruleset: the report says so in one line each.
test(FAILING_TESTS.command, async ({ netns }) => {
  await netns.exec(['nft', 'list', 'table', 'inet', MARKER.missingTable]);
});
