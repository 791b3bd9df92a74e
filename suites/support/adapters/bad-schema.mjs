#!/usr/bin/env node
// Says hello, then answers list with JSON the schema refuses: an entry without family, protocol or zone.
import { serve } from './serve.mjs';

serve('bad-schema', { list: () => ({ result: { entries: [{ src: '10.0.0.1', dst: '10.0.0.2' }] } }) });
