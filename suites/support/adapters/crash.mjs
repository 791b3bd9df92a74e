#!/usr/bin/env node
// Says hello, then dies with exit code 3 on the first real request, with last words on stderr.
import { serve } from './serve.mjs';

const die = (request) => {
  process.stderr.write(`crash adapter: got ${request.op}\ncrash adapter: deliberately exiting with code 3\n`);
  process.exit(3);
};
serve('crash', { list: die, count: die });
