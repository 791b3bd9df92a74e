// `npm run new-protocol -- <name> [--protocol P]`: scaffolds harness/protocols/<name>.ts from the
// entry model's knowledge of the protocol and appends its one line to harness/protocols/registry.ts.
import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { PROTOCOLS, type ProtocolName } from '../harness/conntrack/entry.ts';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    protocol: { type: 'string' },
    dir: { type: 'string', default: resolve(import.meta.dirname ?? '.', '..') },
    help: { type: 'boolean', short: 'h' },
  },
});

function die(message: string): never {
  console.error(`new-protocol: ${message}`);
  process.exit(1);
}

const name = positionals[0];
if (values.help || !name) {
  console.log('usage: npm run new-protocol -- <name> [--protocol <entry-model protocol>]\n' +
    `known protocols: ${Object.keys(PROTOCOLS).join(', ')}`);
  process.exit(name ? 0 : 1);
}
if (!/^[a-z][a-z0-9]{0,30}$/.test(name)) die(`name must be lowercase letters and digits, got ${JSON.stringify(name)}`);
const protocol = (values.protocol ?? name) as ProtocolName;
if (!Object.hasOwn(PROTOCOLS, protocol)) {
  die(`the entry model does not know protocol ${JSON.stringify(protocol)}. Known: ${Object.keys(PROTOCOLS).join(', ')}. ` +
    'A new tuple shape needs PROTOCOLS in harness/conntrack/entry.ts (and the codec) first; see README "Adding a protocol suite".');
}
const dir = join(values.dir, 'harness', 'protocols');
const file = join(dir, `${name}.ts`);
const registry = join(dir, 'registry.ts');
if (existsSync(file)) die(`${file} exists already`);
if (readFileSync(registry, 'utf8').includes(`'./${name}.ts'`)) die(`${name} is registered already`);

const p = PROTOCOLS[protocol];
const families = JSON.stringify(p.families).replaceAll('"', "'").replaceAll(',', ', ');
const body = p.kind === 'generic'
  ? `import { defaultOracleArgs, GENERIC_IDENTITY, genericSamples, type ProtocolSpec } from './spec.ts';

export const ${name}: ProtocolSpec = {
  name: '${name}',
  protocol: '${protocol}',
  number: ${p.number},
  families: ${families},
  // N distinct entries: the source address varies (the kernel tracks it generically: addresses only).
  samples: genericSamples('${protocol}'),
  oracleArgs: defaultOracleArgs,
  identity: GENERIC_IDENTITY,
};
`
  : p.kind === 'ports'
  ? `import { defaultOracleArgs, PORT_IDENTITY, portSamples, type ProtocolSpec } from './spec.ts';

export const ${name}: ProtocolSpec = {
  name: '${name}',
  protocol: '${protocol}',
  number: ${p.number},
  families: ${families},
  // N distinct entries: source address and port vary (see portSamples in spec.ts).
  samples: portSamples('${protocol}'),
  // How the oracle creates one entry (\`conntrack -I\` arguments); override for extra CLI options.
  oracleArgs: defaultOracleArgs,
  // The fields that identify an entry of this protocol.
  identity: PORT_IDENTITY,
  // Cases the kernel or the CLI cannot do, with the reason: the generic suite skips them.
  // unsupported: { 'delete-zone': 'why' },
};
`
  : `import { defaultOracleArgs, echoSamples, ICMP_IDENTITY, type ProtocolSpec } from './spec.ts';

export const ${name}: ProtocolSpec = {
  name: '${name}',
  protocol: '${protocol}',
  number: ${p.number},
  families: ${families},
  // N distinct entries: the echo id varies.
  samples: echoSamples('${protocol}', ${protocol === 'icmpv6' ? 128 : 8}),
  oracleArgs: defaultOracleArgs,
  identity: ICMP_IDENTITY,
};
`;
writeFileSync(file, `// ${protocol.toUpperCase()} (IP protocol ${p.number}): scaffolded by \`npm run new-protocol\`; say here what is special about it.\n${body}`);
appendFileSync(registry, `export { ${name} } from './${name}.ts';\n`);
console.log(`new-protocol: wrote ${file} and registered it in ${registry}`);
console.log(`next: adjust samples/identity/unsupported, then run: npm test -- -t '^${name} '`);
