#!/usr/bin/env node
// The `conntrack-harness` bin (doctor, sweep, list): runs the compiled harness (dist/, built by
// `npm run build`, which `prepare` runs on install and pack), so it needs no TypeScript loader.
let runCli;
try {
  ({ runCli } = await import('../dist/cli.js'));
} catch (error) {
  if (error?.code !== 'ERR_MODULE_NOT_FOUND' || !String(error.message).includes('dist/cli.js')) throw error;
  process.stderr.write('conntrack-harness: dist/ is missing; build it with `npm run build`\n');
  process.exit(1);
}
process.exitCode = await runCli(process.argv.slice(2));
