// Namespace names reach `ip` argv and /run/netns paths, so they are validated in one place before
// anything uses them: lowercase, no slash, no dot-dot, no spaces, at most 63 characters.
import { ValidationError } from '../errors.ts';

const NETNS_NAME = /^[a-z0-9][a-z0-9_-]{0,62}$/;

export function assertNetnsName(name: unknown): string {
  if (typeof name !== 'string' || !NETNS_NAME.test(name)) {
    const shown = typeof name === 'string' ? JSON.stringify(name.length > 80 ? `${name.slice(0, 80)}...` : name) : String(name);
    throw new ValidationError(
      'ERR_INVALID_NETNS_NAME', 'netns', name,
      `invalid namespace name ${shown}: expected 1-63 characters of [a-z0-9_-], starting with a letter or digit`,
    );
  }
  return name;
}
