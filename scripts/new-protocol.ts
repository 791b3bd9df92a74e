// `npm run new-protocol -- <name> [--protocol P] [--dir D] [--no-probe]`: scaffolds
// harness/protocols/<name>.ts from the entry model's knowledge of the protocol and appends its one
// line to harness/protocols/registry.ts. As root it first probes the running kernel (one entry
// created through ctnetlink in a throwaway namespace, harness/protocols/probe.ts): when the kernel
// has no tracker for the protocol, the spec gets every generic case as `unsupported`, with the
// reason, so the suites skip it and say why instead of failing.
import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { release } from 'node:os';
import { join, resolve } from 'node:path';
import { PROTOCOLS, type Family, type ProtocolName } from '../harness/conntrack/entry.ts';
import { ValidationError } from '../harness/errors.ts';
import { EXIT_FAILED, expectPositionals, scriptArgs } from '../harness/os/args.ts';
import { isRoot } from '../harness/os/execute.ts';

const USAGE = `usage: npm run new-protocol -- <name> [--protocol <p>] [--dir <project>] [--no-probe]

Writes harness/protocols/<name>.ts and appends its line to harness/protocols/registry.ts.
  <name>           suite name: lowercase letters and digits (also the protocol, unless --protocol)
  --protocol <p>   the entry model's protocol, when it differs from <name>
  --dir <project>  the project folder to write into (default: this checkout)
  --no-probe       do not probe the running kernel for the protocol's tracker (root only
                   probes; a kernel without one gets every generic case written as unsupported)
  -h, --help       this text
known protocols: ${Object.keys(PROTOCOLS).join(', ')}`;

/** The invocation was fine but the work cannot be done: one line on stderr, exit 1. */
function die(message: string): never {
  console.error(`new-protocol: ${message}`);
  process.exit(EXIT_FAILED);
}

const firstLine = (error: unknown) => (error instanceof Error ? error.message : String(error)).split('\n')[0]!;
const bad = (field: string, value: unknown, message: string): never => {
  throw new ValidationError('ERR_INVALID_ARGUMENT', field, value, message);
};

// --help: usage on stdout, exit 0; a bad option, name or protocol: one line on stderr, exit 2.
const { name, protocol, projectDir, probe } = scriptArgs({
  name: 'new-protocol',
  help: USAGE,
  positionals: true,
  options: {
    protocol: { type: 'string' },
    dir: { type: 'string', default: resolve(import.meta.dirname ?? '.', '..') },
    'no-probe': { type: 'boolean', default: false },
  },
  check: ({ values, positionals }) => {
    expectPositionals(positionals, 1, 'one <name>');
    const name = positionals[0]!;
    if (!/^[a-z][a-z0-9]{0,30}$/.test(name)) bad('name', name, `name must be lowercase letters and digits, got ${JSON.stringify(name)}`);
    const protocol = values.protocol ?? name;
    if (!Object.hasOwn(PROTOCOLS, protocol)) {
      bad('protocol', protocol, `the entry model does not know protocol ${JSON.stringify(protocol)}. Known: ${Object.keys(PROTOCOLS).join(', ')}. ` +
        'A new tuple shape needs PROTOCOLS in harness/conntrack/entry.ts (and the codec) first; see README "Adding a protocol suite"');
    }
    const projectDir = values.dir!;
    if (!existsSync(join(projectDir, 'harness', 'protocols', 'registry.ts'))) bad('dir', projectDir, `--dir ${projectDir} has no harness/protocols/registry.ts`);
    return { name, protocol: protocol as ProtocolName, projectDir, probe: !values['no-probe'] };
  },
});
const dir = join(projectDir, 'harness', 'protocols');
const file = join(dir, `${name}.ts`);
const registry = join(dir, 'registry.ts');
if (existsSync(file)) die(`${file} exists already`);
if (readFileSync(registry, 'utf8').includes(`'./${name}.ts'`)) die(`${name} is registered already`);

const p = PROTOCOLS[protocol];
const NAME = protocol.toUpperCase();

// The kernel probe: per family, does the running kernel track the protocol itself?
let writtenFamilies: readonly Family[] = p.families;
const notes: string[] = [];
let unsupportedReason: string | undefined;
/** The spec's `unsupported` property when the kernel has no tracker in any family: every generic case. */
let unsupportedBlock: string | undefined;
if (!probe) {
  // as asked: the spec is written from the entry model alone
} else if (!isRoot()) {
  console.log(`new-protocol: not root, so the kernel was not probed for a ${NAME} tracker (run as root to probe it, or pass --no-probe)`);
} else {
  const [{ probeTracker }, { GENERIC_CASES }] = await Promise.all([import('../harness/protocols/probe.ts'), import('../harness/protocols/spec.ts')]);
  const lacking = new Map<Family, string>();
  for (const family of p.families) {
    try {
      const verdict = await probeTracker(protocol, family);
      if (!verdict.supported) lacking.set(family, verdict.reason);
    } catch (error) {
      die(`the kernel probe failed, nothing written (--no-probe skips it): ${firstLine(error)}`);
    }
  }
  if (lacking.size === 0) {
    console.log(p.kind === 'generic'
      ? `new-protocol: Linux ${release()} creates and lists ${NAME} entries (generic tracker: addresses only; probed ${p.families.join(', ')})`
      : `new-protocol: Linux ${release()} tracks ${NAME} itself (probed ${p.families.join(', ')})`);
  } else if (lacking.size === p.families.length) {
    unsupportedReason = [...new Set(lacking.values())].join('; ');
    unsupportedBlock = '  // Probed by new-protocol: the kernel has no tracker for it, so the generic suites skip every case.\n' +
      `  unsupported: {\n${GENERIC_CASES.map((c) => `    '${c}': NO_TRACKER,\n`).join('')}  },\n`;
  } else {
    writtenFamilies = p.families.filter((f) => !lacking.has(f));
    for (const [family, reason] of lacking) notes.push(`${family} is left out: ${reason}`);
  }
}

/** A single-quoted TypeScript string literal. */
const tsString = (s: string) => `'${s.replaceAll('\\', '\\\\').replaceAll("'", "\\'").replaceAll('\n', '\\n')}'`;
const families = JSON.stringify(writtenFamilies).replaceAll('"', "'").replaceAll(',', ', ');
const familyNotes = notes.map((n) => `  // ${n} (probed by new-protocol).\n`).join('');
const constant = unsupportedReason === undefined ? '' : `\nconst NO_TRACKER = ${tsString(unsupportedReason)};\n`;

const body = p.kind === 'generic'
  ? `import { defaultOracleArgs, GENERIC_IDENTITY, genericSamples, type ProtocolSpec } from './spec.ts';
${constant}
export const ${name}: ProtocolSpec = {
  name: '${name}',
  protocol: '${protocol}',
  number: ${p.number},
${familyNotes}  families: ${families},
  // N distinct entries: the source address varies (the kernel tracks it generically: addresses only).
  samples: genericSamples('${protocol}'),
  oracleArgs: defaultOracleArgs,
  identity: GENERIC_IDENTITY,
${unsupportedBlock ?? ''}};
`
  : p.kind === 'ports'
  ? `import { defaultOracleArgs, PORT_IDENTITY, portSamples, type ProtocolSpec } from './spec.ts';
${constant}
export const ${name}: ProtocolSpec = {
  name: '${name}',
  protocol: '${protocol}',
  number: ${p.number},
${familyNotes}  families: ${families},
  // N distinct entries: source address and port vary (see portSamples in spec.ts).
  samples: portSamples('${protocol}'),
  // How the oracle creates one entry (\`conntrack -I\` arguments); override for extra CLI options.
  oracleArgs: defaultOracleArgs,
  // The fields that identify an entry of this protocol.
  identity: PORT_IDENTITY,
${unsupportedBlock ?? `  // Cases the kernel or the CLI cannot do, with the reason: the generic suite skips them.
  // unsupported: { 'delete-zone': 'why' },
`}};
`
  : `import { defaultOracleArgs, echoSamples, ICMP_IDENTITY, type ProtocolSpec } from './spec.ts';
${constant}
export const ${name}: ProtocolSpec = {
  name: '${name}',
  protocol: '${protocol}',
  number: ${p.number},
${familyNotes}  families: ${families},
  // N distinct entries: the echo id varies.
  samples: echoSamples('${protocol}', ${protocol === 'icmpv6' ? 128 : 8}),
  oracleArgs: defaultOracleArgs,
  identity: ICMP_IDENTITY,
${unsupportedBlock ?? ''}};
`;
writeFileSync(file, `// ${NAME} (IP protocol ${p.number}): scaffolded by \`npm run new-protocol\`; say here what is special about it.\n${body}`);
appendFileSync(registry, `export { ${name} } from './${name}.ts';\n`);
if (unsupportedReason !== undefined) {
  console.log(`new-protocol: ${unsupportedReason}; every generic case of ${name} is written as unsupported with that reason`);
}
for (const note of notes) console.log(`new-protocol: ${note}`);
console.log(`new-protocol: wrote ${file} and registered it in ${registry}`);
console.log(unsupportedReason === undefined
  ? `next: adjust samples/identity/unsupported, then run: npm test -- -t '^${name} '`
  : `next: \`npm test -- -t '^${name} '\` skips every case here; to cover ${NAME}, drop \`unsupported\` and run it on a kernel with a ${NAME} tracker`);
