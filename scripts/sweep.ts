// `npm run sweep`: removes `cth-` namespaces (and their processes) left by runs that are dead.
// A live run's namespaces are kept: ownership is by session, never by age.
import { sweep } from '../harness/os/session.ts';

const report = await sweep();
for (const name of report.removed) console.log(`removed ${name}`);
for (const name of report.kept) console.log(`kept ${name} (its run is alive)`);
for (const name of report.foreign) console.log(`left ${name} (not made by the harness)`);
console.log(`sweep: ${report.removed.length} removed, ${report.kept.length} kept, ${report.sessionsRemoved.length} dead session record(s) cleared`);
