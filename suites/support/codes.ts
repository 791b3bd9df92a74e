// The stable error code a call fails with, for tests that check "refused with code X": the code of
// a HarnessError, undefined when nothing was thrown, and a marked string for anything else.
import { isHarnessError } from '../../harness/errors.ts';

function codeOfError(error: unknown): string {
  return isHarnessError(error) ? error.code : `not a HarnessError: ${String(error)}`;
}

export function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    return codeOfError(error);
  }
  return undefined;
}

export async function codeOfAsync(fn: () => unknown): Promise<string | undefined> {
  try {
    await fn();
  } catch (error) {
    return codeOfError(error);
  }
  return undefined;
}
