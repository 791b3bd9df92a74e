// Run by suites/kernel/privileges.test.ts under `setpriv` without CAP_NET_ADMIN: deletes the
// entries given as JSON with the client and prints each one's fate as JSON on stdout.
import { ConntrackClient } from '../../harness/conntrack/client.ts';
import type { EntryInput } from '../../harness/conntrack/entry.ts';
import { NetlinkErrnoError } from '../../harness/errors.ts';

const [netns, json] = process.argv.slice(2);
const entries = JSON.parse(json!) as EntryInput[];
// Every kernel filter given: the probe would need CAP_NET_ADMIN itself.
await using client = await ConntrackClient.open({ netns: netns!, timeoutMs: 20_000, kernelFilters: { zone: true, mark: true, status: true, tuple: true } });
const started = performance.now();
const result = await client.delete(entries);
const ms = performance.now() - started;
process.stdout.write(JSON.stringify({
  deleted: result.deleted.length,
  notFound: result.notFound.length,
  failed: result.failed.map((f) => (f.error instanceof NetlinkErrnoError ? f.error.errnoName : f.error.code)),
  ms,
}));
