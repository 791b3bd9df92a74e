// `npm run doctor`: the same checks as `conntrack-harness doctor` (arguments such as --json and
// --help pass through; a bad one exits 2 with one line).
import { runCli } from '../harness/cli.ts';

process.exitCode = await runCli(['doctor', ...process.argv.slice(2)]);
