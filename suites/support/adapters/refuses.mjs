#!/usr/bin/env node
// Answers create with EEXIST, and delete with the first entry deleted and every other one failed
// with EPERM (echoing the entries back as sent).
import { serve } from './serve.mjs';

serve('refuses', {
  create: () => ({ error: { code: 'EEXIST', message: 'File exists' } }),
  delete: ({ entries: [first, ...rest] }) => ({
    result: { deleted: [first], notFound: [], failed: rest.map((entry) => ({ entry, error: { code: 'EPERM', message: 'Operation not permitted' } })) },
  }),
});
