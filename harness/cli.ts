// The `conntrack-harness` command: `doctor`, `sweep` and `list`, parsed by harness/os/args.ts.
// `runCli` returns the exit code (0 ok, 1 failed, 2 bad usage) so tests can drive it in-process;
// a bad argument gets one line on stderr, like every script's.
import { readFileSync } from 'node:fs';
import { assertZone, type ConntrackEntry, type ConntrackTuple } from './conntrack/entry.ts';
import { HarnessError, ValidationError } from './errors.ts';
import { kernelFilterSupport } from './conntrack/features.ts';
import { EXIT_FAILED, EXIT_OK, EXIT_USAGE, HELP, parseCommandLine, usageLine, type OptionsSpec } from './os/args.ts';
import { formatReport, packageVersion, runDoctor } from './os/doctor.ts';
import { isRoot } from './os/execute.ts';
import { assertNetnsName } from './os/names.ts';
import { sweep } from './os/session.ts';

export interface CliIO {
  stdout(text: string): void;
  stderr(text: string): void;
}

const processIO: CliIO = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
};

export { EXIT_FAILED, EXIT_OK, EXIT_USAGE };

/**
 * What `sweep` prints, and exits 1 with, when not root. The uid decides, not capabilities: the
 * session records (/run/conntrack-harness/sessions, 0700) and /run/netns are root's, and a sweep
 * that cannot read a live run's record would take that run for dead and delete its namespaces.
 */
export const SWEEP_NEEDS_ROOT = 'sweep: needs root (namespaces under /run/netns belong to root): run it with sudo';

const BIN = 'conntrack-harness';

interface Command {
  summary: string;
  usage: string;
  help: string;
  options: OptionsSpec;
  /** Throws ValidationError for a bad value, before it reaches the kernel: that is a usage error. */
  run(values: Record<string, string | boolean | undefined>, io: CliIO): Promise<number>;
}

const COMMANDS: Record<string, Command> = {
  doctor: {
    summary: 'check every prerequisite of the kernel suites (read-only)',
    usage: `${BIN} doctor [--json] [--no-probes]`,
    help: `Prints one line per check, with the command that fixes it when it failed, and exits 1 when a
required check failed. Checks: root (or CAP_NET_ADMIN+CAP_SYS_ADMIN), Node version, network
namespaces (a real 'ip netns add' probe), conntrack, ctnetlink and zones (probed inside that
throwaway namespace, which is deleted), what the kernel filters in a dump (zone, mark, status, CTA_FILTER; found by the client's probe, optional), and the
versions of conntrack-tools, iproute2, nftables, socat and iputils.

  --json       print the report as JSON ({ ok, checks, environment })
  --no-probes  skip the live probes (no namespace is created)
  -h, --help   show this help`,
    options: { json: { type: 'boolean' }, 'no-probes': { type: 'boolean' } },
    async run(values, io) {
      const report = await runDoctor({ probes: !values['no-probes'], kernelFilters: kernelFilterSupport });
      io.stdout(values.json ? `${JSON.stringify(report, null, 2)}\n` : formatReport(report));
      return report.ok ? EXIT_OK : EXIT_FAILED;
    },
  },
  sweep: {
    summary: 'remove cth- namespaces left behind by dead runs',
    usage: `${BIN} sweep [--json]`,
    help: `Deletes every cth- namespace whose owning run is dead (killed, crashed), with the processes
inside it, and clears dead session records. A live run's namespaces are never touched.

  --json       print the report as JSON ({ removed, kept, foreign, sessionsRemoved })
  -h, --help   show this help`,
    options: { json: { type: 'boolean' } },
    async run(values, io) {
      if (!isRoot()) {
        io.stderr(`${SWEEP_NEEDS_ROOT}\n`);
        return EXIT_FAILED;
      }
      const report = await sweep();
      if (values.json) {
        io.stdout(`${JSON.stringify(report, null, 2)}\n`);
        return EXIT_OK;
      }
      for (const name of report.removed) io.stdout(`removed ${name}\n`);
      for (const name of report.kept) io.stdout(`kept ${name} (its run is alive)\n`);
      for (const name of report.foreign) io.stdout(`left ${name} (not made by the harness)\n`);
      io.stdout(`sweep: ${report.removed.length} removed, ${report.kept.length} kept, ${report.sessionsRemoved.length} dead session record(s) cleared\n`);
      return EXIT_OK;
    },
  },
  list: {
    summary: "print a namespace's conntrack table, read with the harness's ctnetlink client",
    usage: `${BIN} list --netns NAME [--zone Z] [--json]`,
    help: `Lists the conntrack entries of a named network namespace (one under /run/netns) with the
project's own client, never the host's table. Needs root.

  --netns NAME  the namespace (required), e.g. one printed by 'ip netns list'
  --zone Z      only entries of zone Z (0..65535)
  --json        print the entries as a JSON array
  -h, --help    show this help`,
    options: { netns: { type: 'string' }, zone: { type: 'string' }, json: { type: 'boolean' } },
    async run(values, io) {
      if (values.netns === undefined) throw new ValidationError('ERR_INVALID_ARGUMENT', 'netns', undefined, 'list needs --netns NAME');
      const netns = assertNetnsName(values.netns);
      const zone = values.zone === undefined ? undefined : parseZone(String(values.zone));
      // Loaded here: the client's native FFI should not stand between a broken machine and `doctor`.
      const { ConntrackClient } = await import('./conntrack/client.ts');
      const client = await ConntrackClient.open({ netns });
      try {
        const entries = await client.list(zone === undefined ? {} : { zone });
        // Timestamps are bigint nanoseconds: JSON gets them as decimal strings.
        if (values.json) io.stdout(`${JSON.stringify(entries, (_, v: unknown) => (typeof v === 'bigint' ? v.toString() : v), 2)}\n`);
        else {
          for (const entry of entries) io.stdout(`${formatEntry(entry)}\n`);
          io.stderr(`${entries.length} entr${entries.length === 1 ? 'y' : 'ies'} in ${netns}${zone === undefined ? '' : ` zone ${zone}`}\n`);
        }
        return EXIT_OK;
      } finally {
        client.close();
      }
    },
  },
};

function parseZone(text: string): number {
  if (!/^\d+$/.test(text)) {
    throw new ValidationError('ERR_INVALID_ZONE', 'zone', text, `--zone must be an integer 0..65535, got ${JSON.stringify(text)}`);
  }
  return assertZone(Number(text));
}

function tupleText(t: ConntrackTuple): string {
  const parts = [`src=${t.src}`, `dst=${t.dst}`];
  if (t.sport !== undefined) parts.push(`sport=${t.sport}`, `dport=${t.dport}`);
  if (t.icmpType !== undefined) parts.push(`type=${t.icmpType}`, `code=${t.icmpCode}`, `id=${t.icmpId}`);
  return parts.join(' ');
}

/** One entry on one line, in the spirit of `conntrack -L -o extended,id`. */
export function formatEntry(e: ConntrackEntry): string {
  const parts: string[] = [e.family, String(e.protocol).padEnd(7)];
  if (e.timeout !== undefined) parts.push(String(e.timeout));
  if (e.state) parts.push(e.state);
  parts.push(tupleText(e));
  // The kernel has no UNREPLIED bit: conntrack prints it when SEEN_REPLY is not set.
  const status = e.status ?? [];
  if (e.status && (status.includes('UNREPLIED') || !status.includes('SEEN_REPLY'))) parts.push('[UNREPLIED]');
  if (e.reply) parts.push(tupleText(e.reply));
  if (status.includes('ASSURED')) parts.push('[ASSURED]');
  if (e.mark !== undefined) parts.push(`mark=${e.mark}`);
  parts.push(`zone=${e.zone}`);
  if (e.id !== undefined) parts.push(`id=${e.id}`);
  return parts.join(' ');
}

export function mainHelp(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((c) => c.length));
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`);
  return `Usage: ${BIN} <command> [options]

Commands:
${lines.join('\n')}

Run '${BIN} <command> --help' for a command's options. Exit codes: 0 ok, 1 failed, 2 bad usage.
`;
}

function commandHelp(name: string, command: Command): string {
  return `Usage: ${command.usage}\n\n${name}: ${command.summary}.\n\n${command.help}\n`;
}

/** Runs one command line (without `node` and the script); returns the exit code. */
export async function runCli(argv: readonly string[], io: CliIO = processIO): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined) {
    io.stdout(mainHelp());
    return EXIT_USAGE;
  }
  if (name === '-h' || name === '--help' || name === 'help') {
    const target = name === 'help' ? rest[0] : undefined;
    if (target === undefined) {
      io.stdout(mainHelp());
      return EXIT_OK;
    }
    const command = COMMANDS[target];
    if (!command) return usage(io, BIN, `unknown command ${JSON.stringify(target)}`);
    io.stdout(commandHelp(target, command));
    return EXIT_OK;
  }
  if (name === '--version' || name === '-V') {
    io.stdout(`${BIN} ${packageVersion()}\n`);
    return EXIT_OK;
  }
  const command = COMMANDS[name];
  if (!command) return usage(io, BIN, `${name.startsWith('-') ? 'unknown option' : 'unknown command'} ${JSON.stringify(name)}`);
  try {
    const line = parseCommandLine(rest, command.options);
    if (line === HELP) {
      io.stdout(commandHelp(name, command));
      return EXIT_OK;
    }
    return await command.run(line.values as Record<string, string | boolean | undefined>, io);
  } catch (error) {
    if (error instanceof ValidationError) return usage(io, `${BIN} ${name}`, error.message);
    const code = error instanceof HarnessError ? ` [${error.code}]` : '';
    io.stderr(`${BIN} ${name}: ${error instanceof Error ? error.message : String(error)}${code}\n`);
    return EXIT_FAILED;
  }
}

function usage(io: CliIO, who: string, reason: string): number {
  io.stderr(`${usageLine(who, reason)}\n`);
  return EXIT_USAGE;
}
