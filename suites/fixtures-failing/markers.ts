// The values the deliberately failing fixture puts into its namespace, shared with the test that
// looks for them in the JUnit file (importing the fixture itself would register its failing tests).
export const MARKER = {
  src: '198.51.100.77', dst: '198.51.100.78', sport: 47001, dport: 47002, nftTable: 'cth_diag_marker',
  /** A table the command-failure test asks nft for and never creates. */
  missingTable: 'cth_diag_missing',
} as const;

/** The fixture's tests, by title, in file order (each fails once). */
export const FAILING_TESTS = {
  assertion: 'deliberately fails with an entry and a ruleset in its namespace',
  command: 'deliberately fails on a command that exits non-zero, in an empty namespace',
} as const;
