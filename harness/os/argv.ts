// Showing an argv in a message. Imported by harness/errors.ts, so it imports nothing.

/** Shell-like quoting, for naming a command by its argv (nothing runs through a shell). */
export function quoteArgv(argv: readonly string[]): string {
  return argv.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replaceAll("'", "'\\''")}'`)).join(' ');
}
