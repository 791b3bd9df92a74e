// The interface a conntrack implementation offers to the suites (list, get, create, update, delete,
// deleteMatching, count). The ctnetlink client implements it; so does the CLI oracle, so suites are written once.
import { isHarnessError, type HarnessError } from '../errors.ts';
import type { ConntrackEntry, ConntrackKey, EntryChanges, EntryInput } from './entry.ts';
import { normalizeKey } from './entry.ts';
import type { ConntrackFilter } from './filter.ts';
import type { ConntrackOracle } from './oracle.ts';

export interface DeleteResult {
  /** Entries the kernel deleted. */
  deleted: ConntrackKey[];
  /** Entries that were not there (ENOENT): reported, not thrown. */
  notFound: ConntrackKey[];
  /** Entries whose deletion failed for another reason. */
  failed: Array<{ entry: ConntrackKey; error: HarnessError }>;
}

/** What update() did to each entry, sorted like DeleteResult. */
export interface UpdateResult {
  updated: ConntrackKey[];
  notFound: ConntrackKey[];
  failed: Array<{ entry: ConntrackKey; error: HarnessError }>;
}

export interface ConntrackImplementation {
  readonly netns: string;
  list(filter?: ConntrackFilter): Promise<ConntrackEntry[]>;
  get(key: EntryInput): Promise<ConntrackEntry | undefined>;
  create(entries: readonly EntryInput[]): Promise<void>;
  update(entries: readonly EntryInput[], changes: EntryChanges): Promise<UpdateResult>;
  delete(entries: readonly EntryInput[]): Promise<DeleteResult>;
  deleteMatching(filter: ConntrackFilter): Promise<number>;
  count(filter?: ConntrackFilter): Promise<number>;
}

/** The conntrack CLI as a ConntrackImplementation: one `conntrack -D` per entry, `-R` for creates. */
export function oracleImplementation(cli: ConntrackOracle): ConntrackImplementation {
  return {
    netns: cli.netns,
    list: (filter) => cli.list(filter),
    count: (filter) => cli.count(filter),
    create: (entries) => cli.createMany(entries),
    deleteMatching: (filter) => cli.deleteMatching(filter),
    get: (key) => cli.get(key),
    async update(entries, changes) {
      const { done, notFound, failed } = await perEntry(entries, (key) => cli.update(key, changes));
      return { updated: done, notFound, failed };
    },
    async delete(entries) {
      const { done, notFound, failed } = await perEntry(entries, (key) => cli.delete(key));
      return { deleted: done, notFound, failed };
    },
  };
}

/**
 * One CLI run per entry, sorted by what it did: changed (`done`), matched nothing, or failed. A
 * request the CLI cannot express at all (ERR_ORACLE_UNSUPPORTED, e.g. -U in a zone) is not one
 * entry's failure: it is thrown, so a suite can skip what the CLI cannot do.
 */
async function perEntry(entries: readonly EntryInput[], run: (key: ConntrackKey) => Promise<number>) {
  const result = { done: [] as ConntrackKey[], notFound: [] as ConntrackKey[], failed: [] as Array<{ entry: ConntrackKey; error: HarnessError }> };
  for (const key of entries.map((e) => normalizeKey(e))) {
    try {
      (await run(key) > 0 ? result.done : result.notFound).push(key);
    } catch (error) {
      if (isHarnessError(error, 'ERR_ORACLE_UNSUPPORTED')) throw error;
      result.failed.push({ entry: key, error: error as HarnessError });
    }
  }
  return result;
}
