#!/usr/bin/env node
// Offers list, get and count only. list and get answer UNSUPPORTED; count answers how many requests
// it has read (so a test can tell that the ops it does not offer were never sent).
import { serve } from './serve.mjs';

const unsupported = (what) => () => ({ error: { code: 'UNSUPPORTED', message: `the unsupported adapter cannot ${what} (deliberately)` } });
serve('unsupported', {
  list: unsupported('list'),
  get: unsupported('get'),
  count: (_request, count) => ({ result: { count } }),
}, {
  create: 'the unsupported adapter cannot create (deliberately)',
  delete: 'the unsupported adapter cannot delete (deliberately)',
  deleteMatching: 'the unsupported adapter cannot deleteMatching (deliberately)',
});
