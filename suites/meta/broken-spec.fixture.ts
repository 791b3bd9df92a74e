// A deliberately broken protocol spec: UDP whose identity leaves out the ports. The samples then
// look identical, so every generic case must fail. suites/kernel/meta.test.ts runs this file.
import { defineGenericSuites } from '../../harness/fixtures/generic.ts';
import { UNDER_TEST } from '../../harness/fixtures/implementations.ts';
import type { ProtocolSpec } from '../../harness/protocols/index.ts';
import { udp } from '../../harness/protocols/udp.ts';

const brokenUdp: ProtocolSpec = { ...udp, name: 'broken-udp', identity: ['family', 'protocol', 'zone', 'src', 'dst'] };

defineGenericSuites([brokenUdp], UNDER_TEST);
