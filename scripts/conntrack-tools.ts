// `npm run conntrack-tools -- 1.4.6 1.4.8`: fetches those conntrack-tools versions from their Debian
// releases into the cache and prints each binary, for `CTH_CONNTRACK=<binary> npm test`.
import { assertConntrackToolsVersion, CONNTRACK_TOOLS_RELEASES, CONNTRACK_TOOLS_VERSIONS, fetchConntrackTools } from '../harness/matrix/conntrack-tools.ts';
import { cacheDir } from '../harness/matrix/debian.ts';
import { expectPositionals, scriptArgs } from '../harness/os/args.ts';

const USAGE = `usage: npm run conntrack-tools -- VERSION...

Fetches conntrack-tools VERSION (${CONNTRACK_TOOLS_VERSIONS.map((v) => `${v} from Debian ${CONNTRACK_TOOLS_RELEASES[v]}`).join(', ')})
into ${cacheDir()}/conntrack-tools/VERSION (CTH_CACHE_DIR moves it) and prints the binary.
Run the oracle with it: CTH_CONNTRACK=<binary> npm test

Exit codes: 0 fetched, 1 a fetch failed, 2 bad usage (no or unknown VERSION).`;

// A version it does not know is a usage error too (exit 2), caught before anything is fetched.
const versions = scriptArgs({
  name: 'conntrack-tools', help: USAGE, options: {}, positionals: true,
  check: ({ positionals }) => {
    expectPositionals(positionals, [1, Infinity], 'at least one VERSION');
    return positionals.map(assertConntrackToolsVersion);
  },
});
try {
  for (const version of versions) console.log(`conntrack-tools ${version}: ${await fetchConntrackTools(version)}`);
} catch (error) {
  console.error(`conntrack-tools: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
}
