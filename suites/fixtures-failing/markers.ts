// The values the deliberately failing fixture puts into its namespace, shared with the test that
// looks for them in the JUnit file (importing the fixture itself would register its failing test).
export const MARKER = { src: '198.51.100.77', dst: '198.51.100.78', sport: 47001, dport: 47002, nftTable: 'cth_diag_marker' } as const;
