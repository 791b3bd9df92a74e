// The generic protocol suites over the whole registry, with the client as the system under test.
// Run one protocol alone with `npm test -- -t '^udp '` (suite names start with the spec's name).
import { defineGenericSuites } from '../../harness/fixtures/generic.ts';
import { UNDER_TEST } from '../../harness/fixtures/implementations.ts';
import { PROTOCOL_SPECS } from '../../harness/protocols/index.ts';

defineGenericSuites(PROTOCOL_SPECS, UNDER_TEST);
