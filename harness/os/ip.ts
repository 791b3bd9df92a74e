// Thin wrappers over iproute2 (`ip`), argv only, for namespaces, links and addresses.
import { execute, type ExecuteOptions } from './execute.ts';
import { assertNetnsName } from './names.ts';

const IP_TIMEOUT_MS = 15_000;

function ip(args: string[], options: ExecuteOptions = {}) {
  return execute(['ip', ...args], { runAsRoot: true, timeout: IP_TIMEOUT_MS, ...options });
}

export async function netnsList(): Promise<string[]> {
  const { stdout } = await ip(['netns', 'list']);
  return stdout
    .split('\n')
    .map((line) => line.trim().split(/\s+/)[0] ?? '')
    .filter((name) => name.length > 0);
}

export async function netnsAdd(name: string): Promise<void> {
  await ip(['netns', 'add', assertNetnsName(name)]);
}

export async function netnsDelete(name: string): Promise<void> {
  await ip(['netns', 'delete', assertNetnsName(name)]);
}

export async function netnsPids(name: string): Promise<number[]> {
  const { stdout } = await ip(['netns', 'pids', assertNetnsName(name)], { checkExitCode: false });
  return stdout
    .split('\n')
    .map((s) => Number.parseInt(s, 10))
    .filter((n) => Number.isInteger(n) && n > 0);
}

/** Runs `ip ARGS` inside the namespace (`ip -n NAME ARGS`). */
export async function ipIn(name: string, args: string[], options: ExecuteOptions = {}) {
  return ip(['-n', assertNetnsName(name), ...args], options);
}

export async function linkUp(name: string, dev: string): Promise<void> {
  await ipIn(name, ['link', 'set', dev, 'up']);
}
