// The Executor: one confined tree, from spec to exit. It owns the API's policy (validation,
// warnings, strict, timeout and abort, the order of events, idempotent stops) and leaves the
// mechanisms to a backend. "Nomad's executor" in comments is the API this one descends from:
// HashiCorp Nomad's first exec package (client/exec, 2015).

import { EventEmitter } from 'node:events';
import { promises as fs, readlinkSync } from 'node:fs';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import type { Readable, Writable } from 'node:stream';
import { ConfineArgumentError, ConfineError, ConfineStateError, SpawnError, UnenforcedError } from './errors.js';
import { lookPath } from './lookpath.js';
import {
  concreteSpec,
  mergeIsolation,
  plannedSpec,
  prepareView,
  validateIsolation,
  type IsolationRequest,
  type IsolationSpec,
  type View,
} from './isolation/index.js';
import { signalNumber } from './signals.js';
import { resolveIdentity } from './users.js';
import { validateArgs, validateFile, validateGrace, validateOptions, validateResources, validateRunAs } from './validate.js';
import { attachTree } from './attach.js';
import type { Backend, Tree } from './backends/backend.js';
import { backendFor } from './backends/select.js';
import { guardHandle, startWatchdog } from './lifecycle/watchdog.js';
import { statsStream, type StatsSample, type StatsStreamOptions } from './lifecycle/stats-stream.js';
import type {
  CommandOptions,
  CommandSpec,
  EnforcedMap,
  ExecutorKind,
  ExitStatus,
  Identity,
  Isolation,
  Resources,
  RunAsSpec,
  ShutdownOptions,
  Stats,
  StdioValue,
} from './types.js';

type State = 'new' | 'starting' | 'running' | 'exited' | 'failed';

const DEFAULT_GRACE_MS = 5000;

/** Raised by start() when options.signal was aborted before the start. */
export class AbortedError extends ConfineError {
  constructor(reason: unknown) {
    super('ERR_CONFINE_ABORTED', 'the operation was aborted', { cause: reason });
    this.name = 'AbortError';
  }
}

export class Executor extends EventEmitter {
  readonly #file: string;
  readonly #args: string[];
  readonly #options: CommandOptions;
  #resources: Resources = {};
  #runAs: RunAsSpec | null = null;
  #isolation: IsolationRequest | null = null;
  /** isolate()'s spec made concrete for the working directory, once start() knows it. */
  #isolationSpec: IsolationSpec | null = null;
  #backend: Backend;
  #state: State = 'new';
  #tree: Tree | null = null;
  #path: string | null = null;
  #identity: Identity | null = null;
  #enforced: EnforcedMap;
  #status: ExitStatus | null = null;
  #startedAt = 0;
  #flags = { timedOut: false, canceled: false, stopped: false, reattached: false };
  #timer: NodeJS.Timeout | null = null;
  #abortListener: (() => void) | null = null;
  #shutdownPromise: Promise<ExitStatus> | null = null;
  #forcePromise: Promise<ExitStatus> | null = null;
  readonly #exit: Promise<ExitStatus>;
  #resolveExit!: (s: ExitStatus) => void;
  #rejectExit!: (e: unknown) => void;

  constructor(file: string, args?: readonly string[], options?: CommandOptions) {
    super();
    this.#file = validateFile(file);
    this.#args = validateArgs(args);
    this.#options = validateOptions(options);
    this.#backend = backendFor(this.#options.executor);
    this.#enforced = this.#plan();
    this.#exit = new Promise<ExitStatus>((resolve, reject) => {
      this.#resolveExit = resolve;
      this.#rejectExit = reject;
    });
    // wait() may never be called: a rejected start must not become an unhandled rejection here.
    this.#exit.catch(() => {});
  }

  /** The backend this executor runs on. */
  get kind(): ExecutorKind {
    return this.#backend.kind;
  }

  /** The read-only spec, as Command() of Nomad's executor held it. */
  get command(): CommandSpec {
    return Object.freeze({
      file: this.#file,
      path: this.#path,
      args: Object.freeze([...this.#args]),
      options: Object.freeze({ ...this.#options }),
      resources: Object.freeze({ ...this.#resources }),
      runAs: this.#runAs,
      isolation: this.#isolation === null ? null : this.#isolation.preset ? 'preset' : Object.freeze({ ...this.#isolation.spec }),
    });
  }

  /** Per requested limit: the mechanism that enforces it, or why none does. */
  get enforced(): EnforcedMap {
    return structuredClone(this.#enforced);
  }

  get pid(): number | undefined {
    return this.#tree?.pid;
  }

  /** Serializable identity of the running tree for openPid(); null before start. */
  get handle(): string | null {
    return this.#tree?.handle ?? null;
  }

  get stdio(): (Readable | Writable | null)[] {
    return this.#tree?.stdio ?? [null, null, null];
  }

  get stdin(): Writable | null {
    return (this.stdio[0] as Writable | null) ?? null;
  }

  get stdout(): Readable | null {
    return (this.stdio[1] as Readable | null) ?? null;
  }

  get stderr(): Readable | null {
    return (this.stdio[2] as Readable | null) ?? null;
  }

  /** The exit status once the leader has exited, else null. */
  get exitStatus(): ExitStatus | null {
    return this.#status;
  }

  /** Adds resource limits. Called before start(), as in Nomad's executor; may be called repeatedly. */
  limit(resources: Resources): this {
    this.#assertNew('limit');
    this.#resources = { ...this.#resources, ...validateResources(resources) };
    this.#enforced = this.#plan();
    return this;
  }

  /** Runs the child as a user name, uid, 'uid:gid' or { user | uid, gid?, groups? }. */
  runAs(user: RunAsSpec): this {
    this.#assertNew('runAs');
    this.#runAs = validateRunAs(user);
    this.#enforced = this.#plan();
    return this;
  }

  /**
   * Limits what the tree can see and reach (docs/isolation.md): `{ filesystem: { read, write,
   * tmp }, network, processes, ipc, hostname, syscalls, capabilities }`, each key optional (a key
   * not given stays as the host has it). Without an argument: the preset for untrusted tools.
   * Before start(); a later call's keys win.
   */
  isolate(spec?: Isolation): this {
    this.#assertNew('isolate');
    const next: IsolationRequest =
      spec === undefined ? { preset: true, overrides: {} } : { preset: false, spec: validateIsolation(spec) };
    this.#isolation = mergeIsolation(this.#isolation, next);
    this.#enforced = this.#plan();
    return this;
  }

  #assertNew(what: string): void {
    if (this.#state !== 'new') throw new ConfineStateError(`${what}() must be called before start()`);
  }

  #plan(): EnforcedMap {
    return this.#backend.plan({
      resources: this.#resources,
      identity: this.#identity,
      runAs: this.#runAs !== null,
      restricted: isRestricted(this.#runAs),
      killOnParentExit: this.#options.killOnParentExit === true,
      cgroupParent: cgroupParentOf(this.#options),
      customArgv0: this.#options.argv0 !== undefined && this.#options.argv0 !== this.#file,
      isolation: this.#isolationSpec ?? (this.#isolation ? plannedSpec(this.#isolation) : null),
    });
  }

  /** Starts the program; resolves once it has been exec'd, rejects with a typed error. */
  async start(): Promise<this> {
    this.#assertNew('start');
    this.#state = 'starting';
    try {
      await this.#start();
    } catch (e) {
      this.#state = 'failed';
      this.#rejectExit(e);
      if (this.listenerCount('error') > 0) this.emit('error', e);
      throw e;
    }
    return this;
  }

  async #start(): Promise<void> {
    const o = this.#options;
    if (o.signal?.aborted) throw new AbortedError(o.signal.reason);
    const why = this.#backend.unavailable();
    if (why) throw new ConfineStateError(`the ${this.#backend.kind} backend is not available: ${why}`);

    const cwd = await checkCwd(o.cwd);
    const restricted = isRestricted(this.#runAs);
    if (restricted && process.platform !== 'win32') {
      throw new ConfineArgumentError(
        'runAs({ restricted: true }) is a Windows token; on POSIX run as another user: runAs("nobody")',
      );
    }
    this.#identity = this.#runAs === null || restricted ? null : await resolveIdentity(this.#runAs);
    const env = childEnv(o.env, this.#identity);
    let view: View | null = null;
    if (this.#isolation) {
      // The program and the cwd are looked up in the view the child will have.
      this.#isolationSpec = concreteSpec(this.#isolation, cwd);
      const e = this.#plan();
      ({ view, path: this.#path } = await prepareView(this.#isolationSpec, {
        file: this.#file,
        cwd,
        pathEnv: env.PATH ?? env.Path,
        privatePids: e.processes?.mechanism === 'pid-namespace',
        useView: e.filesystem?.mechanism === 'mount-namespace' || e.filesystem?.mechanism === 'landlock',
      }));
    } else {
      this.#path = await lookPath(this.#file, cwd, env.PATH ?? env.Path);
    }
    this.#enforced = this.#plan();
    this.#checkEnforcement();

    if (o.killOnParentExit) startWatchdog();
    this.#tree = await this.#backend.launch({
      file: this.#path,
      argv: [o.argv0 ?? this.#file, ...this.#args],
      env,
      cwd,
      stdio: normalizeStdio(o.stdio),
      identity: this.#identity,
      restricted: restricted ? { integrity: (this.#runAs as { integrity?: 'low' | 'medium' }).integrity ?? 'medium' } : null,
      resources: this.#resources,
      killOnParentExit: o.killOnParentExit === true,
      cgroupParent: cgroupParentOf(o),
      customArgv0: o.argv0 !== undefined && o.argv0 !== this.#file,
      isolation: this.#isolationSpec ? { spec: this.#isolationSpec, view } : null,
    });
    if (o.killOnParentExit) guardHandle(this.#tree.handle); // the whole tree dies with us, even by SIGKILL
    this.#running();
  }

  /** strict: reject; otherwise one process warning per unenforced request. */
  #checkEnforcement(): void {
    // treeStop and closeFds describe the backend, not a request: capabilities() reports them.
    const missing = Object.entries(this.#enforced).filter(([k, e]) => k !== 'treeStop' && k !== 'closeFds' && e && !e.enforced);
    if (missing.length === 0) return;
    if (this.#options.strict) {
      throw new UnenforcedError(
        missing.map(([k]) => k),
        this.#backend.kind,
        missing.map(([k, e]) => `${k}: ${e!.note ?? e!.mechanism}`).join('; '),
      );
    }
    for (const [k, e] of missing) {
      process.emitWarning(`${k} is not enforced by the ${this.#backend.kind} backend: ${e!.note ?? 'no mechanism'}`, {
        type: 'ConfineWarning',
        code: 'CONFINE_UNENFORCED',
      });
    }
  }

  #running(): void {
    const tree = this.#tree!;
    const o = this.#options;
    this.#state = 'running';
    // A monotonic clock: durationMs must not jump with the wall clock (NTP, a manual set).
    this.#startedAt = performance.now();
    tree.exited.then((raw) => this.#onExit(raw));
    if (o.timeout !== undefined) {
      this.#timer = setTimeout(() => {
        this.#flags.timedOut = true;
        void this.#politeStop();
      }, o.timeout);
      this.#timer.unref();
    }
    if (o.signal) {
      this.#abortListener = () => {
        this.#flags.canceled = true;
        void this.#politeStop();
      };
      o.signal.addEventListener('abort', this.#abortListener, { once: true });
    }
    this.emit('spawn');
  }

  #politeStop(): Promise<ExitStatus> {
    return this.shutdown({
      signal: this.#options.killSignal ?? 'SIGTERM',
      graceMs: this.#options.graceMs ?? DEFAULT_GRACE_MS,
    }).catch(() => this.#exit);
  }

  #onExit(raw: Awaited<Tree['exited']>): void {
    const tree = this.#tree!;
    if (this.#timer) clearTimeout(this.#timer);
    if (this.#abortListener) this.#options.signal?.removeEventListener('abort', this.#abortListener);
    const status: ExitStatus = {
      exitCode: raw.exitCode,
      signal: raw.signal,
      oomKilled: tree.oomKilled(),
      timedOut: this.#flags.timedOut,
      canceled: this.#flags.canceled,
      stopped: this.#flags.stopped,
      reattached: this.#flags.reattached,
      cpuUserMicros: raw.cpuUserMicros,
      cpuSystemMicros: raw.cpuSystemMicros,
      memoryPeakBytes: raw.memoryPeakBytes,
      durationMs: Math.round(performance.now() - this.#startedAt),
    };
    this.#status = status;
    this.#state = 'exited';
    this.#resolveExit(status);
    this.emit('exit', status.exitCode, status.signal);
    void tree.closed.then(() => {
      // The cleanup does not depend on the listeners: one that throws gets the usual treatment.
      tree.release().catch((e: unknown) => {
        // The run is over and reported; a cgroup that cannot be removed must not crash the
        // supervisor (`confine doctor` lists it).
        process.emitWarning(`cleanup after ${this.#file} failed: ${(e as Error)?.message ?? String(e)}`, {
          type: 'ConfineWarning',
          code: 'CONFINE_CLEANUP',
        });
      });
      // On a later turn of the event loop than wait() resolved: code that awaits wait() (even
      // through Promise.all) and then listens for 'close' must not miss it. When stdio closed
      // before the exit, `closed` is settled already and 'close' would otherwise come a microtask
      // or two after wait(), how many depending on the backend.
      setImmediate(() => this.emit('close', status.exitCode, status.signal));
    });
  }

  /** Resolves once with the leader's exit status. */
  wait(): Promise<ExitStatus> {
    if (this.#state === 'new') return Promise.reject(new ConfineStateError('wait() called before start()'));
    return this.#exit;
  }

  /** Sends a signal to the leader only, like ChildProcess.kill(). False when it is gone. */
  kill(signal: NodeJS.Signals | number = 'SIGTERM'): boolean {
    const n = signalNumber(signal, 'kill');
    if (!this.#tree || this.#state !== 'running') return false;
    return this.#tree.signal(n);
  }

  /**
   * Graceful stop: `signal` to every process of the tree, then forceStop() after `graceMs`.
   * Resolves with the exit status. Safe to call twice, concurrently with forceStop(), and after
   * the exit.
   */
  shutdown(opts: ShutdownOptions = {}): Promise<ExitStatus> {
    const sig = signalNumber(opts.signal ?? this.#options.killSignal ?? 'SIGTERM', 'shutdown: signal');
    const graceMs = validateGrace(opts.graceMs ?? this.#options.graceMs ?? DEFAULT_GRACE_MS, 'shutdown: graceMs');
    const tree = this.#startedTree('shutdown');
    if (this.#shutdownPromise) return this.#shutdownPromise;
    if (this.#state === 'running') this.#flags.stopped = true;
    this.#shutdownPromise = (async () => {
      if (this.#state === 'running') {
        tree.signalTree(sig);
        let timer: NodeJS.Timeout | undefined;
        const graceOver = await Promise.race([
          this.#exit.then(() => false),
          new Promise<boolean>((r) => (timer = setTimeout(() => r(true), graceMs))),
        ]);
        clearTimeout(timer);
        if (graceOver) return this.forceStop();
      }
      return this.#exit;
    })();
    return this.#shutdownPromise;
  }

  /** Kills the whole tree now; resolves with the exit status. */
  forceStop(): Promise<ExitStatus> {
    const tree = this.#startedTree('forceStop');
    if (this.#forcePromise) return this.#forcePromise;
    if (this.#state === 'running') this.#flags.stopped = true;
    this.#forcePromise = tree.killTree().then(() => this.#exit);
    return this.#forcePromise;
  }

  #startedTree(what: string): Tree {
    if (this.#state === 'failed') throw new ConfineStateError(`${what}(): the executor failed to start`);
    if (!this.#tree) throw new ConfineStateError(`${what}() called before start()`);
    return this.#tree;
  }

  /** Usage of the whole tree now. */
  async stats(): Promise<Stats> {
    return this.#startedTree('stats').stats();
  }

  /** Samples of stats() (plus cpuPercent, atMs) every intervalMs until the tree exits. */
  statsStream(opts?: StatsStreamOptions): AsyncGenerator<StatsSample, void, undefined> {
    this.#startedTree('statsStream');
    return statsStream(this, opts);
  }

  /** Changes limits of the running tree. Resolves to the new enforcement of those limits. */
  async update(resources: Resources): Promise<EnforcedMap> {
    const tree = this.#startedTree('update');
    const valid = validateResources(resources, 'update');
    const result = await tree.update(valid);
    this.#resources = { ...this.#resources, ...valid };
    Object.assign(this.#enforced, result);
    return structuredClone(result);
  }

  /**
   * Attaches this (unstarted) executor to a running process, by handle or pid: what Open() of
   * Nomad's executor did. Prefer openPid(), which makes the executor for you.
   */
  async open(handleOrPid: string | number): Promise<this> {
    this.#assertNew('open');
    const { tree, backend } = await attachTree(handleOrPid);
    this.#backend = backend;
    this.#tree = tree;
    this.#flags.reattached = true;
    this.#running();
    return this;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    if (this.#state === 'running') await this.forceStop();
  }
}

async function checkCwd(cwd: string | URL | undefined): Promise<string> {
  // The supervisor's own cwd exists (or the child reports chdir failing).
  if (cwd === undefined) return process.cwd();
  const dir = path.resolve(cwd instanceof URL ? fileURLToPath(cwd) : cwd);
  try {
    const st = await fs.stat(dir);
    if (!st.isDirectory()) throw Object.assign(new Error('not a directory'), { code: 'ENOTDIR', syscall: 'chdir' });
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new SpawnError(`cwd ${dir} is not a usable directory (${err.code ?? err.message})`, {
      stage: 'chdir',
      syscall: 'chdir',
      errno: err.code ?? 'ENOENT',
      path: dir,
    });
  }
  return dir;
}

/**
 * The child's environment: the given one, or the supervisor's. When running as another user
 * with the supervisor's environment, HOME, USER and LOGNAME are the target's (Nomad once handed
 * root's HOME to its tasks).
 */
function childEnv(env: NodeJS.ProcessEnv | undefined, identity: Identity | null): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env ?? process.env)) if (v !== undefined) out[k] = String(v);
  if (identity && env === undefined) {
    if (identity.home) out.HOME = identity.home;
    if (identity.name) {
      out.USER = identity.name;
      out.LOGNAME = identity.name;
    }
  }
  return out;
}

function isRestricted(spec: RunAsSpec | null): boolean {
  return typeof spec === 'object' && spec !== null && spec.restricted === true;
}

/** options.cgroupParent, else CONFINE_CGROUP_PARENT (so operators and test suites can set it). */
function cgroupParentOf(o: CommandOptions): string | undefined {
  return o.cgroupParent ?? (process.env.CONFINE_CGROUP_PARENT || undefined);
}

function normalizeStdio(stdio: CommandOptions['stdio']): StdioValue[] {
  if (stdio === undefined) return ['pipe', 'pipe', 'pipe'];
  if (typeof stdio === 'string') return [stdio, stdio, stdio];
  const out = [...stdio];
  while (out.length < 3) out.push('pipe');
  return out.map((s, i) => (s === null || s === undefined ? (i < 3 ? 'pipe' : 'ignore') : s));
}

/** Internal: an executor attached to an existing tree (openPid). */
export function describeAttached(pid: number): string {
  try {
    return readlinkSync(`/proc/${pid}/exe`);
  } catch {
    return `pid:${pid}`;
  }
}
