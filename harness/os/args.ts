// The command line of every script and of the bin: node:util parseArgs with -h/--help added, and
// every way an argument can be wrong turned into a ValidationError, so that a script prints ONE
// line (`bench: --sizes must be ... (see --help)`) and exits 2, the getopt convention. A person
// who mistyped a flag needs the flag, not parseArgs' stack.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { ValidationError } from '../errors.ts';

export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;

export type OptionsSpec = NonNullable<ParseArgsConfig['options']>;

/** The values parseArgs gives for `O`, typed as precisely as parseArgs itself types them. */
export type Values<O extends OptionsSpec> = ReturnType<typeof parseArgs<{ options: O; strict: true; allowPositionals: true }>>['values'];

export interface CommandLine<O extends OptionsSpec> {
  values: Values<O>;
  positionals: string[];
}

/** What parseCommandLine returns when -h or --help was given. */
export const HELP = Symbol('help');

const HELP_OPTION = { help: { type: 'boolean', short: 'h' } } as const;

/**
 * parseArgs (strict) with -h/--help added: HELP when help was asked for, else the parsed line.
 * Any argument it refuses throws ValidationError('ERR_INVALID_ARGUMENT', 'argv', ...).
 */
export function parseCommandLine<const O extends OptionsSpec>(
  argv: readonly string[], options: O, { positionals = false }: { positionals?: boolean } = {},
): CommandLine<O> | typeof HELP {
  let parsed;
  try {
    parsed = parseArgs({ args: [...argv], options: { ...options, ...HELP_OPTION }, strict: true, allowPositionals: positionals });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (typeof code !== 'string' || !code.startsWith('ERR_PARSE_ARGS_')) throw error;
    // parseArgs appends advice ("To specify a positional argument starting with a '-', ..."):
    // its first sentence names the argument, which is what fits on one line.
    const reason = (error as Error).message.split('. ')[0]!;
    throw new ValidationError('ERR_INVALID_ARGUMENT', 'argv', argv, reason);
  }
  if ((parsed.values as { help?: boolean }).help) return HELP;
  return parsed as unknown as CommandLine<O>;
}

/** The one line a bad argument gets: `<name>: <reason> (see --help)`, newlines folded away. */
export function usageLine(name: string, reason: string): string {
  return `${name}: ${reason.replace(/\s*\n\s*/g, ' ')} (see --help)`;
}

export interface ScriptSpec<O extends OptionsSpec, T> {
  /** Who speaks in the error line, e.g. `bench`. */
  name: string;
  /** The whole --help text, starting with `usage:`. */
  help: string;
  options: O;
  /** Whether bare arguments are allowed (default: none). */
  positionals?: boolean;
  /** Turns the parsed line into what the script uses; throws ValidationError on a bad value. */
  check?: (line: CommandLine<O>) => T;
}

/**
 * A script's command line: --help prints `help` and exits 0; a bad argument or value prints one
 * line on stderr and exits 2, before the script has done anything; otherwise returns `check(line)`.
 */
export function scriptArgs<const O extends OptionsSpec, T = CommandLine<O>>(spec: ScriptSpec<O, T>, argv: readonly string[] = process.argv.slice(2)): T {
  try {
    const line = parseCommandLine(argv, spec.options, { positionals: spec.positionals ?? false });
    if (line === HELP) {
      process.stdout.write(`${spec.help.trimEnd()}\n`);
      process.exit(EXIT_OK);
    }
    return spec.check ? spec.check(line) : (line as T);
  } catch (error) {
    if (!(error instanceof ValidationError)) throw error;
    process.stderr.write(`${usageLine(spec.name, error.message)}\n`);
    process.exit(EXIT_USAGE);
  }
}

// Validators: each takes the flag (for the message) and its text, and returns the value or throws.

function invalid(flag: string, text: string, expected: string): never {
  throw new ValidationError('ERR_INVALID_ARGUMENT', flag, text, `${flag} must be ${expected}, not ${JSON.stringify(text)}`);
}

/** A positive integer in decimal digits (`Number()` alone would take '', '1e3', '0x10' and ' 7'). */
export function positiveInt(flag: string, text: string, max = Number.MAX_SAFE_INTEGER): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < 1 || n > max) invalid(flag, text, `a positive integer${max < Number.MAX_SAFE_INTEGER ? ` up to ${max}` : ''}`);
  return n;
}

/** A comma-separated list of positive integers, e.g. `--sizes 1000,10000`. */
export function positiveInts(flag: string, text: string, max = Number.MAX_SAFE_INTEGER): number[] {
  const items = text.split(',');
  if (items.some((item) => !/^\d+$/.test(item) || Number(item) < 1 || Number(item) > max)) {
    invalid(flag, text, 'positive integers separated by commas (e.g. 1000,10000)');
  }
  return items.map(Number);
}

/** Exactly `count` bare arguments (`min..max` with an array), else a one-line refusal. */
export function expectPositionals(positionals: readonly string[], count: number | [min: number, max: number], what: string): void {
  const [min, max] = typeof count === 'number' ? [count, count] : count;
  if (positionals.length < min || positionals.length > max) {
    throw new ValidationError('ERR_INVALID_ARGUMENT', 'argv', positionals, `expected ${what}, got ${positionals.length} argument(s)`);
  }
}
