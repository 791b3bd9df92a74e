// `npm run doctor`: the same checks as `conntrack-harness doctor` (arguments such as --json pass through).
import { runCli } from '../harness/cli.ts';

process.exitCode = await runCli(['doctor', ...process.argv.slice(2)]);
