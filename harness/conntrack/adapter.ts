// Any executable as the conntrack implementation under test: an adapter (docs/adapters.md) is
// started inside the test's namespace and spoken to in line-delimited JSON, one request at a
// time. Every response is checked against adapters/protocol.schema.json before it is believed;
// an adapter that crashes, breaks the protocol or hangs is killed and named in the error.
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import type { ResultPromise } from 'execa';
import { AdapterError, HarnessError, ValidationError } from '../errors.ts';
import { quoteArgv } from '../os/argv.ts';
import { effectiveArgv } from '../os/execute.ts';
import { killGroup, releaseGroup, spawnInGroup, within } from '../os/processes.ts';
import { canonicalAddress, familyOf } from './address.ts';
import { assertProtocol, normalizeKey, type ConntrackEntry, type ConntrackKey, type EntryChanges, type EntryInput } from './entry.ts';
import { isEmptyFilter, normalizeFilter, type ConntrackFilter } from './filter.ts';
import type { ConntrackImplementation, DeleteResult, UpdateResult } from './implementation.ts';

export interface AdapterOptions {
  /** Milliseconds the adapter has to answer one request (hello included). Default 30 s. */
  requestTimeoutMs?: number;
}

/** What an adapter may offer besides hello. */
export const ADAPTER_OPERATIONS = ['list', 'count', 'create', 'delete', 'deleteMatching', 'get', 'update'] as const;
export type AdapterOperation = (typeof ADAPTER_OPERATIONS)[number];

/** hello's result. */
export interface AdapterHello {
  name: string;
  version: string;
  operations: AdapterOperation[];
  /** op -> why the adapter cannot do it (the skip reason of the tests that need it). */
  unsupported?: Record<string, string>;
}

export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;
/** How long close() waits for the killed process to be reaped. */
const EXIT_WAIT_MS = 10_000;
/** After the process exits, how long its last stdout and stderr may take to arrive. */
const DRAIN_MS = 250;
/** Stderr kept for messages: the tail is what explains a crash. */
const STDERR_KEEP = 64 * 1024;

const SCHEMA_URL = new URL('../../adapters/protocol.schema.json', import.meta.url);

type Validate = ValidateFunction<unknown>;
let validators: { response: { success: Validate; failure: Validate }; results: Record<string, Validate> } | undefined;

/**
 * The schema's validators, compiled on first use rather than at import: the fixtures import this
 * module in every kernel run, and most runs never start an adapter.
 */
function schema(): NonNullable<typeof validators> {
  if (validators) return validators;
  let text: string;
  try {
    text = readFileSync(SCHEMA_URL, 'utf8');
  } catch (error) {
    throw new HarnessError('ERR_PREREQUISITE', `the adapter protocol's schema ${SCHEMA_URL.pathname} cannot be read (adapters run from a checkout of conntrack-harness)`, { cause: error });
  }
  const ajv = new Ajv2020();
  const root = JSON.parse(text) as { $id: string };
  ajv.addSchema(root);
  const get = (def: string): Validate => ajv.getSchema(`${root.$id}#/$defs/${def}`)!;
  validators = {
    response: { success: get('success'), failure: get('failure') },
    results: Object.fromEntries(['hello', ...ADAPTER_OPERATIONS].map((op) => [op, get(`${op}Result`)])),
  };
  return validators;
}

/** The wire form of the model: bigint fields (timestamp) have no JSON form and are never sent. */
function wire(value: unknown): string {
  return JSON.stringify(value, (key, v: unknown) => (key === 'timestamp' || typeof v === 'bigint' ? undefined : v));
}

interface Pending {
  id: number;
  op: string;
  resolve: (response: Response) => void;
  reject: (error: AdapterError) => void;
  timer: NodeJS.Timeout;
}

type Response = ({ ok: true; result: Record<string, unknown> } | { ok: false; error: { code: string; message: string } }) & { elapsedMs?: number };
type FatalCode = 'ERR_ADAPTER_CRASHED' | 'ERR_ADAPTER_PROTOCOL' | 'ERR_ADAPTER_TIMEOUT' | 'ERR_ADAPTER_CLOSED';

/**
 * One adapter process in one namespace, as a ConntrackImplementation. Open it with openAdapter();
 * close() kills it (its whole process group) and waits until it is gone.
 */
export class AdapterImplementation implements ConntrackImplementation, AsyncDisposable {
  readonly netns: string;
  /** The adapter's argv as given (without the `ip netns exec` prefix). */
  readonly argv: readonly string[];
  /** The process's pid: `ip netns exec` execs the adapter, so this is the adapter itself. */
  readonly pid: number;
  readonly #timeoutMs: number;
  readonly #child: ResultPromise;
  /** Resolves once the process has exited. */
  readonly #exited: Promise<void>;
  /** Resolves once it has exited and its pipes are read to the end (or DRAIN_MS after the exit). */
  readonly #drained: Promise<void>;
  #hello: AdapterHello | undefined;
  #lastElapsedMs: number | undefined;
  #stderr = '';
  #lastId = 0;
  #pending: Pending | undefined;
  /** Requests go one at a time: each waits for the one before, so its timeout is its own. */
  #queue: Promise<unknown> = Promise.resolve();
  /** Set once the adapter is unusable (crashed, broke the protocol, timed out, closed): every later call fails with it. */
  #failure: Promise<AdapterError> | undefined;

  /** @internal use openAdapter() */
  constructor(argv: readonly string[], netns: string, options: AdapterOptions = {}) {
    // effectiveArgv checks the namespace name and refuses the host's own namespace.
    const full = effectiveArgv(argv, { netns, runAsRoot: true });
    this.netns = netns;
    this.argv = [...argv];
    this.#timeoutMs = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    // Its own process group, so one kill(-pgid) also ends whatever the adapter forked.
    const child = spawnInGroup(full, { stdin: 'pipe' });
    this.#child = child;
    void child.then(() => undefined, () => undefined);
    if (child.pid === undefined) {
      throw new AdapterError('ERR_ADAPTER_CRASHED', { adapter: this.name, reason: 'the process did not start' });
    }
    this.pid = child.pid;
    // EPIPE on stdin when it died first, a failed kill: the exit that follows reports them.
    child.on('error', () => {});
    child.stdin?.on('error', () => {});
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      this.#stderr = (this.#stderr + chunk).slice(-STDERR_KEEP);
    });
    if (child.stdout) createInterface({ input: child.stdout, crlfDelay: Infinity }).on('line', (line) => this.#onLine(line));
    const closed = new Promise<void>((resolve) => child.once('close', () => resolve()));
    this.#exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    // A forked child that keeps the pipes open must not hold a report back for long.
    this.#drained = this.#exited.then(() => within(closed, DRAIN_MS, undefined));
    child.once('exit', (exitCode, signal) => {
      // The response it wrote before dying may still be in the pipe: read it before calling this a crash.
      void this.#drained.then(() => {
        const how = signal ? `was killed by ${signal}` : `exited with code ${exitCode}`;
        this.#fail('ERR_ADAPTER_CRASHED', `${how}${this.#pending ? ` before answering ${this.#what(this.#pending)}` : ''}`);
      });
    });
  }

  /** hello's result (after openAdapter()). */
  get hello(): AdapterHello | undefined {
    return this.#hello;
  }

  /** hello's name, or the argv while hello has not answered. */
  get name(): string {
    return this.#hello?.name ?? quoteArgv(this.argv);
  }

  get stderr(): string {
    return this.#stderr;
  }

  /**
   * The adapter's own time for the last answered request, when it reported one (`elapsedMs`, before
   * it encoded the response): the bench prints it beside the round trip.
   */
  get lastElapsedMs(): number | undefined {
    return this.#lastElapsedMs;
  }

  get running(): boolean {
    return this.#child.exitCode === null && this.#child.signalCode === null;
  }

  #what(p: Pick<Pending, 'id' | 'op'>): string {
    return `${p.op} (request ${p.id})`;
  }

  /**
   * Makes the adapter unusable (the first failure is the one reported): kills it, and fails the
   * pending request and every later one with an error that quotes its stderr as it stands once
   * the process is gone, since its last words may still be in the pipe.
   */
  #fail(code: FatalCode, reason: string): Promise<AdapterError> {
    if (this.#failure) return this.#failure;
    const pending = this.#pending;
    this.#pending = undefined;
    if (pending) clearTimeout(pending.timer);
    if (this.running) killGroup(this.pid);
    const name = this.name;
    // Bounded: a process SIGKILL cannot end (stuck in the kernel) must not hold the error back; close() reports it.
    this.#failure = within(this.#drained, EXIT_WAIT_MS, undefined).then(() => new AdapterError(code, { adapter: name, reason, op: pending?.op, stderr: this.#stderr }));
    void this.#failure.then((error) => pending?.reject(error));
    return this.#failure;
  }

  #onLine(line: string): void {
    if (this.#failure) return;
    const pending = this.#pending;
    if (!pending) {
      void this.#fail('ERR_ADAPTER_PROTOCOL', `wrote a line nobody asked for: ${JSON.stringify(line.slice(0, 200))}`);
      return;
    }
    let response: unknown;
    try {
      response = JSON.parse(line);
    } catch {
      void this.#fail('ERR_ADAPTER_PROTOCOL', `answered ${this.#what(pending)} with a line that is not JSON: ${JSON.stringify(line.slice(0, 200))}`);
      return;
    }
    const { response: shapes, results } = schema();
    const ok = (response as { ok?: unknown } | null)?.ok === true;
    const shape = ok ? shapes.success : shapes.failure;
    if (!shape(response)) {
      void this.#fail('ERR_ADAPTER_PROTOCOL', `answered ${this.#what(pending)} with a response the schema refuses (${ok ? 'success' : 'failure'}): ${ajvText(shape)}`);
      return;
    }
    const r = response as Response & { id: number };
    if (r.id !== pending.id) {
      void this.#fail('ERR_ADAPTER_PROTOCOL', `answered ${this.#what(pending)} with id ${r.id}`);
      return;
    }
    const result = results[pending.op];
    if (r.ok && result && !result(r.result)) {
      void this.#fail('ERR_ADAPTER_PROTOCOL', `answered ${this.#what(pending)} with a result the schema refuses (${pending.op}Result): ${ajvText(result)}`);
      return;
    }
    this.#pending = undefined;
    clearTimeout(pending.timer);
    this.#lastElapsedMs = r.elapsedMs;
    pending.resolve(r);
  }

  /** Sends one request after the previous one was answered; resolves with the response. */
  #request(op: string, fields: Record<string, unknown>): Promise<Response> {
    const run = this.#queue.then(() => this.#exchange(op, fields));
    this.#queue = run.catch(() => {});
    return run;
  }

  async #exchange(op: string, fields: Record<string, unknown>): Promise<Response> {
    if (this.#failure) throw await this.#failure;
    const id = ++this.#lastId;
    return new Promise<Response>((resolve, reject) => {
      const timer = setTimeout(() => {
        void this.#fail('ERR_ADAPTER_TIMEOUT', `did not answer ${this.#what({ id, op })} within ${this.#timeoutMs} ms; killed`);
      }, this.#timeoutMs);
      this.#pending = { id, op, resolve, reject, timer };
      this.#child.stdin?.write(`${wire({ id, op, ...fields })}\n`);
    });
  }

  /** A request for `op`, its result on success; UNSUPPORTED and other adapter errors thrown typed. */
  async #call(op: AdapterOperation, fields: Record<string, unknown>): Promise<Record<string, unknown>> {
    // A dead adapter says so first, whatever was asked.
    if (this.#failure) throw await this.#failure;
    const hello = this.#hello;
    if (hello && !hello.operations.includes(op)) {
      // Not sent: hello said the adapter does not offer it.
      throw new AdapterError('ERR_ADAPTER_UNSUPPORTED', {
        adapter: hello.name, op, adapterCode: 'UNSUPPORTED', reason: hello.unsupported?.[op] ?? `${hello.name} does not offer ${op}`,
      });
    }
    const response = await this.#request(op, { netns: this.netns, ...fields });
    if (response.ok) return response.result;
    const { code, message } = response.error;
    if (code === 'UNSUPPORTED') {
      throw new AdapterError('ERR_ADAPTER_UNSUPPORTED', { adapter: this.name, op, adapterCode: code, reason: message });
    }
    throw this.#failed(op, response.error);
  }

  /** The adapter's answer `error` to `op` (or to one entry of it) as ERR_ADAPTER_FAILED. */
  #failed(op: string, error: { code: string; message: string }, stderr?: string): AdapterError {
    return new AdapterError('ERR_ADAPTER_FAILED', { adapter: this.name, op, adapterCode: error.code, reason: `${op} failed with ${error.code}: ${error.message}`, stderr });
  }

  /**
   * Reads a result the schema accepted into the model; what still does not fit (an unknown
   * protocol, a bad address, a verdict too many) is the adapter breaking the protocol.
   */
  async #read<T>(op: string, read: () => T): Promise<T> {
    try {
      return read();
    } catch (error) {
      throw await this.#fail('ERR_ADAPTER_PROTOCOL', `answered ${op} with ${(error as Error).message}`);
    }
  }

  /** delete's and update's verdicts as keys, each failure as an AdapterError. */
  #verdicts(op: 'delete' | 'update', done: 'deleted' | 'updated', sent: number, result: Record<string, unknown>) {
    const r = result as Record<'deleted' | 'updated' | 'notFound', unknown[]> & { failed: Array<{ entry: unknown; error: { code: string; message: string } }> };
    return this.#read(op, () => {
      const total = r[done].length + r.notFound.length + r.failed.length;
      if (total !== sent) throw new ValidationError('ERR_INVALID_ENTRY', 'result', result, `${total} verdicts for ${sent} entries (each entry goes in exactly one list)`);
      return {
        done: r[done].map(toKey),
        notFound: r.notFound.map(toKey),
        failed: r.failed.map((f) => ({
          entry: toKey(f.entry),
          error: this.#failed(op, f.error),
        })),
      };
    });
  }

  /** @internal openAdapter() sends it: the first request, and the only one before the adapter is known. */
  async start(): Promise<AdapterHello> {
    const response = await this.#request('hello', { protocol: 1 });
    if (!response.ok) throw this.#failed('hello', response.error, this.#stderr);
    this.#hello = response.result as unknown as AdapterHello;
    return this.#hello;
  }

  async list(filter?: ConntrackFilter): Promise<ConntrackEntry[]> {
    normalizeFilter(filter); // refused here, as the client refuses it, before anything is sent
    const result = await this.#call('list', filter === undefined ? {} : { filter });
    return this.#read('list', () => (result.entries as unknown[]).map(toEntry));
  }

  async count(filter?: ConntrackFilter): Promise<number> {
    normalizeFilter(filter);
    const result = await this.#call('count', filter === undefined ? {} : { filter });
    return result.count as number;
  }

  async get(key: EntryInput): Promise<ConntrackEntry | undefined> {
    const result = await this.#call('get', { entry: normalizeKey(key) });
    return result.entry === null ? undefined : this.#read('get', () => toEntry(result.entry));
  }

  async create(entries: readonly EntryInput[]): Promise<void> {
    // The whole entry (mark, timeout, state, nat ...), with its key fields validated and filled in.
    await this.#call('create', { entries: entries.map((e) => ({ ...e, ...normalizeKey(e) })) });
  }

  async update(entries: readonly EntryInput[], changes: EntryChanges): Promise<UpdateResult> {
    const keys = entries.map((e) => normalizeKey(e));
    const v = await this.#verdicts('update', 'updated', keys.length, await this.#call('update', { entries: keys, changes }));
    return { updated: v.done, notFound: v.notFound, failed: v.failed };
  }

  async delete(entries: readonly EntryInput[]): Promise<DeleteResult> {
    const keys = entries.map((e) => normalizeKey(e));
    const v = await this.#verdicts('delete', 'deleted', keys.length, await this.#call('delete', { entries: keys }));
    return { deleted: v.done, notFound: v.notFound, failed: v.failed };
  }

  async deleteMatching(filter: ConntrackFilter): Promise<number> {
    if (isEmptyFilter(normalizeFilter(filter), filter)) {
      throw new ValidationError('ERR_INVALID_FILTER', 'filter', filter, 'deleteMatching() needs at least one criterion that does not hold for every entry, e.g. { zone }: flushing a whole table is not offered');
    }
    const result = await this.#call('deleteMatching', { filter });
    return result.deleted as number;
  }

  /** Kills the adapter (its whole process group) and waits until it has exited; later calls fail with ERR_ADAPTER_CLOSED. */
  async close(): Promise<void> {
    void this.#fail('ERR_ADAPTER_CLOSED', 'closed');
    const exited = await within(this.#exited.then(() => true), EXIT_WAIT_MS, false);
    // Whatever it forked may outlive it: end the group too.
    releaseGroup(this.pid);
    if (!exited) {
      throw new HarnessError('ERR_PROCESS_STUCK', `adapter ${this.name} [pid ${this.pid}] did not exit within ${EXIT_WAIT_MS} ms of SIGKILL`);
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

/** An adapter's entry in the model's canonical form: protocol names, canonical addresses. */
function toEntry(raw: unknown): ConntrackEntry {
  return inModel(raw, () => {
    const entry = { ...(raw as ConntrackEntry) };
    entry.protocol = assertProtocol(entry.protocol);
    entry.src = address(entry.src);
    entry.dst = address(entry.dst);
    if (entry.reply) entry.reply = { ...entry.reply, src: address(entry.reply.src), dst: address(entry.reply.dst) };
    return entry;
  });
}

function toKey(raw: unknown): ConntrackKey {
  return inModel(raw, () => normalizeKey(raw as EntryInput));
}

/** `read()` of an adapter's entry `raw`; what does not fit the model is ERR_INVALID_ENTRY, quoting the entry. */
function inModel<T>(raw: unknown, read: () => T): T {
  try {
    return read();
  } catch (error) {
    throw new ValidationError('ERR_INVALID_ENTRY', 'entry', raw, `an entry outside the model (${(error as Error).message}): ${JSON.stringify(raw).slice(0, 300)}`);
  }
}

function ajvText(validate: Validate): string {
  return (validate.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? 'is invalid'}`).join('; ');
}

function address(value: string): string {
  if (!familyOf(value)) throw new ValidationError('ERR_INVALID_ADDRESS', 'address', value, `invalid address ${JSON.stringify(value)}`);
  return canonicalAddress(value);
}

/**
 * Starts `argv` inside `netns` (`ip netns exec`), says hello, and returns it ready; if hello fails
 * the process is killed before the error is thrown.
 */
export async function openAdapter(argv: readonly string[], netns: string, options: AdapterOptions = {}): Promise<AdapterImplementation> {
  schema(); // an unreadable schema is a setup error, reported before any process starts
  const adapter = new AdapterImplementation(argv, netns, options);
  try {
    await adapter.start();
  } catch (error) {
    await adapter.close().catch(() => {});
    throw error;
  }
  return adapter;
}
