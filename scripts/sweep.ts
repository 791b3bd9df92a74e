// `npm run sweep`: removes `cth-` namespaces (and their processes) left by runs that are dead.
// A live run's namespaces are kept: ownership is by session, never by age. The same command as
// `conntrack-harness sweep` (--json, --help pass through; not root: one line, exit 1).
import { runCli } from '../harness/cli.ts';

process.exitCode = await runCli(['sweep', ...process.argv.slice(2)]);
