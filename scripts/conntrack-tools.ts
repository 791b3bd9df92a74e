// `npm run conntrack-tools -- 1.4.6 1.4.8`: fetches those conntrack-tools versions from their Debian
// releases into the cache and prints each binary, for `CTH_CONNTRACK=<binary> npm test`.
import { parseArgs } from 'node:util';
import { assertConntrackToolsVersion, CONNTRACK_TOOLS_RELEASES, CONNTRACK_TOOLS_VERSIONS, fetchConntrackTools } from '../harness/matrix/conntrack-tools.ts';
import { cacheDir } from '../harness/matrix/debian.ts';

const USAGE = `usage: npm run conntrack-tools -- VERSION...

Fetches conntrack-tools VERSION (${CONNTRACK_TOOLS_VERSIONS.map((v) => `${v} from Debian ${CONNTRACK_TOOLS_RELEASES[v]}`).join(', ')})
into ${cacheDir()}/conntrack-tools/VERSION (CTH_CACHE_DIR moves it) and prints the binary.
Run the oracle with it: CTH_CONNTRACK=<binary> npm test`;

const { values, positionals } = parseArgs({ options: { help: { type: 'boolean', short: 'h' } }, allowPositionals: true, strict: true });
if (values.help || positionals.length === 0) {
  console.log(USAGE);
  process.exit(values.help ? 0 : 2);
}
try {
  const versions = positionals.map(assertConntrackToolsVersion);
  for (const version of versions) console.log(`conntrack-tools ${version}: ${await fetchConntrackTools(version)}`);
} catch (error) {
  console.error(`conntrack-tools: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
}
