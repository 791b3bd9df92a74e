#!/usr/bin/env node
// Says hello, then answers with a line that is not JSON.
import { serve } from './serve.mjs';

serve('garbage', {
  list() {
    process.stderr.write('garbage adapter: about to print garbage\n');
    process.stdout.write('this is not JSON\n');
  },
});
