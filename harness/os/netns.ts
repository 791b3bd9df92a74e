// A named network namespace as a typed lifecycle: `Netns.create()` returns a started namespace
// (`lo` up) owned by this process's session; `destroy()` kills what runs inside and deletes it.
import { randomBytes } from 'node:crypto';
import pRetry from 'p-retry';
import { existsSync } from 'node:fs';
import { HarnessError, CommandError } from '../errors.ts';
import { execute, type ExecuteOptions, type ExecuteResult } from './execute.ts';
import { linkUp, netnsAdd, netnsDelete, netnsPids } from './ip.ts';
import { isHostNetns } from './hostguard.ts';
import { assertNetnsName } from './names.ts';
import { currentSession, NETNS_PREFIX } from './session.ts';

export function netnsPath(name: string): string {
  return `/run/netns/${assertNetnsName(name)}`;
}

export function netnsExists(name: string): boolean {
  return existsSync(netnsPath(name));
}

/** Kills every process inside the namespace, then deletes it. Missing namespaces are fine. */
export async function destroyNetns(name: string): Promise<void> {
  assertNetnsName(name);
  // A name bound to the host namespace (ip netns attach) only loses its bind mount: its "pids"
  // would be every process of the machine.
  const host = isHostNetns(netnsPath(name));
  // `ip netns delete` can fail while a killed process is still exiting: retry a few times.
  await pRetry(async () => {
    if (!netnsExists(name)) return;
    for (const pid of host ? [] : await netnsPids(name)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    try {
      await netnsDelete(name);
    } catch (error) {
      if (netnsExists(name)) throw error;
    }
  }, { retries: 4, minTimeout: 50, factor: 2 });
}

export class Netns implements AsyncDisposable {
  readonly name: string;
  #destroyed = false;

  private constructor(name: string) {
    this.name = name;
  }

  /** Creates `cth-<session>-<random>` with `lo` up. */
  static async create(): Promise<Netns> {
    const session = currentSession();
    for (let attempt = 0; ; attempt++) {
      const name = `${NETNS_PREFIX}${session.id}-${randomBytes(4).toString('hex')}`;
      try {
        await netnsAdd(name);
      } catch (error) {
        if (attempt < 3 && error instanceof CommandError && /exists/i.test(error.stderr)) continue;
        throw error;
      }
      const ns = new Netns(name);
      try {
        await linkUp(name, 'lo');
      } catch (error) {
        await ns.destroy();
        throw error;
      }
      return ns;
    }
  }

  get path(): string {
    return netnsPath(this.name);
  }

  get destroyed(): boolean {
    return this.#destroyed;
  }

  /** Runs argv inside this namespace. */
  exec(argv: readonly string[], options: Omit<ExecuteOptions, 'netns'> = {}): Promise<ExecuteResult> {
    if (this.#destroyed) throw new HarnessError('ERR_NETNS_DESTROYED', `namespace ${this.name} was destroyed`);
    return execute(argv, { runAsRoot: true, ...options, netns: this.name });
  }

  async destroy(): Promise<void> {
    if (this.#destroyed) return;
    await destroyNetns(this.name);
    this.#destroyed = true;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.destroy();
  }
}
