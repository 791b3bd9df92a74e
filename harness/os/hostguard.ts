// The guard behind "never the host table": a namespace name that resolves to the namespace this
// process (or pid 1) runs in, e.g. a bind mount made by `ip netns attach`, is refused everywhere.
import { fstatSync, statSync, type Stats } from 'node:fs';
import { HarnessError, HostNetnsError } from '../errors.ts';
import { assertNetnsName } from './names.ts';

const HOST_NAMESPACES = ['/proc/1/ns/net', '/proc/self/ns/net', '/proc/thread-self/ns/net'];

function sameFile(a: Stats, b: Stats): boolean {
  return a.dev === b.dev && a.ino === b.ino;
}

/** True when `target` (a path or an open fd of a netns file) is the host's or this process's namespace. */
export function isHostNetns(target: string | number): boolean {
  let st: Stats;
  try {
    st = typeof target === 'number' ? fstatSync(target) : statSync(target);
  } catch {
    return false;
  }
  return HOST_NAMESPACES.some((p) => {
    try {
      return sameFile(st, statSync(p));
    } catch {
      return false;
    }
  });
}

/** Throws HostNetnsError when /run/netns/<name> (or the open fd) is the host namespace. */
export function assertNotHostNetns(name: string, fd?: number): void {
  if (isHostNetns(fd ?? `/run/netns/${assertNetnsName(name)}`)) throw new HostNetnsError(name);
}
