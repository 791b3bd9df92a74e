#!/usr/bin/env node
// The `conntrack-harness` bin (doctor, sweep, list): the harness is TypeScript run through tsx, so this
// registers tsx's loader in-process and hands the arguments to harness/cli.ts.
let register;
try {
  ({ register } = await import('tsx/esm/api'));
} catch {
  process.stderr.write('conntrack-harness: needs tsx to load its TypeScript sources (npm install --save-dev tsx)\n');
  process.exit(1);
}
register();
const { runCli } = await import('../harness/cli.ts');
process.exitCode = await runCli(process.argv.slice(2));
