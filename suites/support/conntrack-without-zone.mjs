#!/usr/bin/env node
// A conntrack CLI that ignores its zone option, as older conntrack-tools did with `-w 0`: runs the
// real conntrack (CTH_REAL_CONNTRACK, else `conntrack`) with `-w N` dropped from its arguments.
// The oracle-versions suite points the oracle at it to prove the oracle's own zone re-check.
import { spawnSync } from 'node:child_process';

const args = process.argv.slice(2);
const i = args.indexOf('-w');
if (i >= 0) args.splice(i, 2);
const result = spawnSync(process.env.CTH_REAL_CONNTRACK || 'conntrack', args, { stdio: 'inherit', timeout: 60_000 });
process.exit(result.status ?? 1);
