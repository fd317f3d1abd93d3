// The Executor: one confined tree, from spec to exit. It owns the API's policy (validation,
// warnings, strict, timeout and abort, the order of events, idempotent stops) and leaves the
// mechanisms to a backend. "Nomad's executor" in comments is the API this one descends from:
// HashiCorp Nomad's first exec package (client/exec, 2015).
//
// One start path serves command() + start() and spawn(): everything before the clone (cwd, user
// and PATH lookups, the plan, the cgroup) is synchronous, as libuv's is, so spawn() returns a
// started process and start() only awaits what the backend confirms later. The two differ in
// how they report (the `style`): start() rejects with confine's typed errors; spawn() emits
// child_process's events and error shapes (lib/child-process/).
//
// What only some executors use (isolate(), open()'s attach, statsStream(), runAs's user lookup,
// spawn()'s error shapes) is required where it is used, not imported above: a `confine run`
// loads what a run needs and no more (docs/startup.md).

import { EventEmitter } from 'node:events';
import { readlinkSync, statSync } from 'node:fs';
import * as path from 'node:path';
import type { Readable, Writable } from 'node:stream';
import {
  BackendUnavailableError,
  ConfineArgumentError,
  ConfineError,
  ConfineStateError,
  SpawnError,
  UnenforcedError,
} from './errors.js';
import { lookPath } from './lookpath.js';
import type { IsolationRequest, IsolationSpec, View } from './isolation/index.js';
import { signalNumber } from './signals.js';
import { validateCgroupParent, validateGrace, validateOptions, validateResources, validateRunAs } from './validate.js';
import { normalizeSpawnArguments, type SpawnArguments } from './child-process/arguments.js';
import { childEnv } from './environment.js';
import type { attachTree } from './attach.js';
import type { Backend, LaunchRequest, Tree } from './backends/backend.js';
import { backendFor } from './backends/select.js';
import { notEnforced } from './backends/shared.js';
import { guardHandle, startWatchdog } from './lifecycle/watchdog.js';
import type { StatsSample, StatsStreamOptions } from './lifecycle/stats-stream.js';
import type {
  CommandOptions,
  CommandSpec,
  Enforcement,
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
import { monotonicMs } from './clock.js';
import { isolationLayer } from './isolation/lazy.js';

type State = 'new' | 'starting' | 'running' | 'exited' | 'failed';

/** How an executor reports: confine's typed errors (command()), or child_process's (spawn()). */
type Style = 'confine' | 'child_process';

const DEFAULT_GRACE_MS = 5000;

/** Raised by start() when options.signal was aborted before start() resolved. */
export class AbortedError extends ConfineError {
  constructor(reason: unknown) {
    super('ERR_CONFINE_ABORTED', 'the operation was aborted', { cause: reason });
    this.name = 'AbortError';
  }
}

/** Internal (lib/child-process/spawn.ts): makes and starts an executor as spawn() does. */
export const kSpawn = Symbol('confine.spawn');

/** The normalized spec the next constructor call takes instead of its arguments (see kSpawn). */
let pendingSpec: SpawnArguments | null = null;

export class Executor extends EventEmitter {
  readonly #file: string;
  readonly #args: string[];
  readonly #options: CommandOptions;
  #style: Style = 'confine';
  #resources: Resources = Object.create(null);
  #runAs: RunAsSpec | null = null;
  #isolation: IsolationRequest | null = null;
  /** isolate()'s spec made concrete for the working directory, once start() knows it. */
  #isolationSpec: IsolationSpec | null = null;
  #backend: Backend;
  #state: State = 'new';
  #tree: Tree | null = null;
  #path: string | null = null;
  #identity: Identity | null = null;
  /**
   * The plan; null while limit(), runAs() or isolate() have changed what it depends on: made
   * again when read (`enforced`), and always by start() (#request), which knows the identity by
   * then. Not made by each call of a chain: the plan is most of what those calls cost.
   */
  #enforced: EnforcedMap | null;
  #status: ExitStatus | null = null;
  #startedAt = 0;
  #flags = { timedOut: false, canceled: false, stopped: false, reattached: false };
  #killed = false;
  #refed = true;
  #timer: NodeJS.Timeout | null = null;
  #abortListener: (() => void) | null = null;
  /** The abort that came before start() resolved: start() rejects with it. */
  #abortedEarly: unknown = null;
  #startResolved = false;
  /** What start() returns: settles with the start, a microtask after the backend confirms it. */
  #started: Promise<this> | null = null;
  /** spawn() after a failed start: child_process's exitCode (the negative errno) and stand-in stdio. */
  #failure: { exitCode: number; stdio: (Readable | Writable | null)[] } | null = null;
  #shutdownPromise: Promise<ExitStatus> | null = null;
  #forcePromise: Promise<ExitStatus> | null = null;
  readonly #exit: Promise<ExitStatus>;
  #resolveExit!: (s: ExitStatus) => void;
  #rejectExit!: (e: unknown) => void;

  constructor(file: string, args?: readonly unknown[], options?: CommandOptions) {
    super();
    const spec = pendingSpec ?? normalizeSpawnArguments('confine', file, args, options);
    const unknownKeys = pendingSpec ? 'ignore' : 'reject'; // child_process ignores unknown options
    pendingSpec = null;
    this.#file = spec.file;
    this.#args = spec.args;
    const o = validateOptions(spec.options, unknownKeys);
    this.#options = o;
    this.#backend = backendFor(o.executor);
    if (o.limits) this.#resources = Object.assign(Object.create(null), o.limits);
    if (o.runAs !== undefined) this.#runAs = o.runAs;
    else if (o.uid !== undefined || o.gid !== undefined) this.#runAs = runAsOfIds(o.uid ?? undefined, o.gid ?? undefined);
    if (o.isolate !== undefined) {
      const isolate = (this as unknown as { isolate?: (spec: unknown) => unknown }).isolate;
      if (typeof isolate !== 'function')
        throw new ConfineArgumentError('command: options.isolate: this version of confine has no isolate()');
      isolate.call(this, o.isolate);
    }
    // Planned when read (`enforced`) and by start(), not here: limit() and runAs() usually follow
    // and would make it stale (a plan was most of what the constructor cost). What the plan
    // would refuse is refused now all the same: a cgroupParent that cannot be used.
    if (this.#isolation) this.#enforced = this.#plan();
    else {
      this.#enforced = null;
      this.#backend.checkOptions?.({ cgroupParent: cgroupParentOf(o) });
    }
    this.#exit = new Promise<ExitStatus>((resolve, reject) => {
      this.#resolveExit = resolve;
      this.#rejectExit = reject;
    });
    // wait() may never be called: a rejected start must not become an unhandled rejection here.
    this.#exit.catch(() => {});
  }

  /**
   * spawn(): the executor made from child_process's arguments and started now. Argument errors
   * are thrown (Node's codes); a start that fails is an 'error' event, as with child_process.
   */
  static [kSpawn](file: unknown, args: unknown, options: unknown): Executor {
    pendingSpec = normalizeSpawnArguments('node', file, args, options);
    let ex: Executor;
    try {
      ex = new Executor(pendingSpec.file);
    } finally {
      pendingSpec = null;
    }
    ex.#style = 'child_process';
    try {
      ex.#launch();
      // No start() awaits it: a throw of a 'spawn' listener is not an unhandled rejection.
      ex.#started!.catch(() => {});
    } catch {
      // Reported by #failed() as 'error' and 'close' on a later tick.
    }
    return ex;
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
    this.#enforced ??= this.#plan();
    return structuredClone(this.#enforced);
  }

  get pid(): number | undefined {
    return this.#tree?.pid;
  }

  /** Serializable identity of the running tree for openPid(); null before start. */
  get handle(): string | null {
    return this.#tree?.pid !== undefined ? this.#tree.handle : null;
  }

  get stdio(): (Readable | Writable | null)[] {
    return this.#tree?.stdio ?? this.#failure?.stdio ?? [null, null, null];
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

  // ---- the ChildProcess look-alike -----------------------------------------------------------

  /** child_process's: the exit code (a negative errno after a failed spawn()), else null. */
  get exitCode(): number | null {
    return this.#status?.exitCode ?? this.#failure?.exitCode ?? null;
  }

  /** child_process's: the signal that ended the leader, else null. */
  get signalCode(): NodeJS.Signals | null {
    return this.#status?.signal ?? null;
  }

  /** child_process's: true once kill() has delivered a signal. */
  get killed(): boolean {
    return this.#killed;
  }

  /** The program as started (the shell, with the `shell` option). */
  get spawnfile(): string {
    return this.#file;
  }

  /** argv as the program gets it, argv[0] included. */
  get spawnargs(): string[] {
    return [this.#options.argv0 ?? this.#file, ...this.#args];
  }

  /** child_process's IPC channel: never open ('ipc' in stdio is refused). */
  get connected(): false {
    return false;
  }

  /** The leader keeps the event loop alive until it exits (the default), as ChildProcess.ref(). */
  ref(): void {
    this.#refed = true;
    this.#tree?.ref?.();
  }

  /** The supervisor may exit while the leader runs, as ChildProcess.unref(). */
  unref(): void {
    this.#refed = false;
    this.#tree?.unref?.();
  }

  /** `using child = spawn(...)`: kill() unless killed already, as ChildProcess does. */
  [Symbol.dispose](): void {
    if (!this.#killed) this.kill();
  }

  // ---- before the start ----------------------------------------------------------------------

  /** Adds resource limits. Called before start(), as in Nomad's executor; may be called repeatedly. */
  limit(resources: Resources): this {
    this.#assertNew('limit');
    this.#resources = Object.assign(Object.create(null), this.#resources, validateResources(resources));
    this.#enforced = null;
    return this;
  }

  /** Runs the child as a user name, uid, 'uid:gid' or { user | uid, gid?, groups? }. */
  runAs(user: RunAsSpec): this {
    this.#assertNew('runAs');
    this.#runAs = validateRunAs(user);
    this.#enforced = null;
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
    const { mergeIsolation, validateIsolation } = isolationLayer();
    const next: IsolationRequest =
      spec === undefined ? { preset: true, overrides: {} } : { preset: false, spec: validateIsolation(spec) };
    this.#isolation = mergeIsolation(this.#isolation, next);
    this.#enforced = null; // planned when read, as after limit() and runAs(); start() plans the concrete spec
    return this;
  }

  #assertNew(what: string): void {
    if (this.#state !== 'new') throw new ConfineStateError(`${what}() must be called before start()`);
  }

  #plan(cgroupParent = cgroupParentOf(this.#options)): EnforcedMap {
    return this.#backend.plan({
      resources: this.#resources,
      identity: this.#identity,
      runAs: this.#runAs !== null,
      restricted: isRestricted(this.#runAs),
      killOnParentExit: this.#options.killOnParentExit === true,
      cgroupParent,
      customArgv0: this.#options.argv0 !== undefined && this.#options.argv0 !== this.#file,
      isolation: this.#isolationSpec ?? (this.#isolation ? isolationLayer().plannedSpec(this.#isolation) : null),
    });
  }

  // ---- the start -----------------------------------------------------------------------------

  /**
   * Starts the program; resolves once it has been exec'd, rejects with a typed error. An abort
   * of options.signal before it resolves makes it reject with AbortedError (and stops whatever
   * started).
   */
  start(): Promise<this> {
    if (this.#state !== 'new') {
      const was = this.#tree ? 'started' : 'started once, and failed';
      return Promise.reject(new ConfineStateError(`start(): this executor was already ${was}`));
    }
    try {
      this.#launch(); // throws the typed error (the executor is failed then)
    } catch (e) {
      return Promise.reject(e);
    }
    // Not an async function awaiting #started: that cost a promise and a microtask more between
    // the backend's confirmation and the caller's continuation, on every start.
    return this.#started!;
  }

  /** The synchronous part of every start: checks, lookups, the plan, the backend's launch. */
  #launch(): void {
    this.#state = 'starting';
    this.#startedAt = monotonicMs();
    const o = this.#options;
    let tree: Tree;
    try {
      // start() does not run a program whose run was cancelled before it began; spawn() does, and
      // stops it at once, as child_process does (see #running).
      if (o.signal?.aborted && this.#style === 'confine') throw new AbortedError(o.signal.reason);
      const why = this.#backend.unavailable();
      if (why) throw new BackendUnavailableError(this.#backend.kind, why);
      const req = this.#request();
      if (o.killOnParentExit) startWatchdog();
      tree = this.#backend.launch(req);
    } catch (e) {
      this.#failed(e);
      throw e;
    }
    this.#tree = tree;
    if (!this.#refed) tree.unref?.();
    // The whole tree dies with us, even by SIGKILL.
    if (o.killOnParentExit && tree.pid !== undefined) guardHandle(tree.handle);
    if (o.timeout !== undefined && o.timeout !== null) {
      this.#timer = setTimeout(() => {
        this.#flags.timedOut = true;
        void this.#politeStop();
      }, o.timeout);
      this.#timer.unref();
    }
    // Before anything can settle: an abort while the start is pending is not lost.
    if (o.signal && !o.signal.aborted) {
      const signal = o.signal;
      this.#abortListener = () => this.#onAbort(signal.reason);
      signal.addEventListener('abort', this.#abortListener, { once: true });
    }
    // start()'s promise, settled in the same microtask as 'spawn'. The exit is watched from then
    // on ('exit' never comes before 'spawn': its reaction runs in a later microtask): an exit
    // known already (a program that exited while the backend awaited its exec) is reported before
    // start()'s caller continues. Armed before 'spawn' is emitted, so that a listener's throw
    // (start() rejects with it) does not leave the running tree unwatched: wait() still settles.
    this.#started = tree.started.then(
      () => {
        void tree.exited.then((raw) => this.#onExit(raw));
        this.#running();
        return this.#startSettled();
      },
      (e: unknown) => {
        this.#startResolved = true;
        this.#failed(e);
        // start() rejects with it; spawn() has no start() to reject (#failed() reports it).
        if (this.#style === 'confine') throw e;
        return this;
      },
    );
  }

  /** The launch request: cwd, identity, environment and program resolved, the plan checked. */
  #request(): LaunchRequest {
    const o = this.#options;
    const cwd = checkCwd(o.cwd ?? undefined);
    const cgroupParent = cgroupParentOf(o); // read once: process.env is not a plain object
    const restricted = isRestricted(this.#runAs);
    if (restricted && process.platform !== 'win32') {
      throw new ConfineArgumentError(
        'runAs({ restricted: true }) is a Windows token; on POSIX run as another user: runAs("nobody")',
      );
    }
    this.#identity =
      this.#runAs === null || restricted
        ? null
        : (require('./users.js') as typeof import('./users.js')).resolveIdentity(this.#runAs);
    const env = childEnv(o.env ?? undefined, this.#identity);
    let view: View | null = null;
    // The plan of the start: with isolate(), made once the spec is concrete and used for the
    // view too (nothing it reads changes in between; a preset's plan took ~0.1 ms here).
    let planned: EnforcedMap | null = null;
    if (this.#isolation) {
      // The program and the cwd are looked up in the view the child will have.
      const { concreteSpec, prepareView } = isolationLayer();
      this.#isolationSpec = concreteSpec(this.#isolation, cwd);
      const e = (planned = this.#plan(cgroupParent));
      ({ view, path: this.#path } = prepareView(this.#isolationSpec, {
        file: this.#file,
        cwd,
        pathEnv: env.PATH ?? env.Path,
        privatePids: e.processes?.mechanism === 'pid-namespace',
        useView: e.filesystem?.mechanism === 'mount-namespace' || e.filesystem?.mechanism === 'landlock',
      }));
    } else {
      this.#path = lookPath(this.#file, cwd, env.PATH ?? env.Path);
    }
    const enforced = (this.#enforced = planned ?? this.#plan(cgroupParent));
    this.#checkEnforcement(enforced);
    return {
      file: this.#path,
      argv: this.spawnargs,
      env,
      cwd,
      stdio: normalizeStdio(o.stdio),
      identity: this.#identity,
      restricted: restricted ? { integrity: (this.#runAs as { integrity?: 'low' | 'medium' }).integrity ?? 'medium' } : null,
      resources: this.#resources,
      killOnParentExit: o.killOnParentExit === true,
      cgroupParent,
      customArgv0: o.argv0 !== undefined && o.argv0 !== this.#file,
      isolation: this.#isolationSpec ? { spec: this.#isolationSpec, view } : null,
      windowsVerbatimArguments: o.windowsVerbatimArguments === true,
    };
  }

  /** strict: reject; otherwise one process warning per unenforced request. */
  #checkEnforcement(enforced: EnforcedMap): void {
    // treeStop and closeFds describe the backend, not a request: capabilities() reports them.
    // Own keys in a loop, not entries().filter(): every start comes here, most find nothing missing.
    let missing: [string, Enforcement][] | null = null;
    for (const k of Object.keys(enforced)) {
      const e = enforced[k as keyof EnforcedMap];
      if (k === 'treeStop' || k === 'closeFds' || !e || e.enforced) continue;
      missing ??= [];
      missing.push([k, e]);
    }
    if (missing === null) return;
    if (this.#options.strict) {
      throw new UnenforcedError(
        missing.map(([k, e]) => ({ limit: k, why: e.note ?? e.mechanism })),
        this.#backend.kind,
      );
    }
    for (const [k, e] of missing) {
      process.emitWarning(`${k} is not enforced by the ${this.#backend.kind} backend: ${e.note ?? 'no mechanism'}`, {
        type: 'ConfineWarning',
        code: 'CONFINE_UNENFORCED',
      });
    }
  }

  /** The program runs: 'spawn', and the abort spawn() was given already aborted. */
  #running(): void {
    if (this.#state === 'starting') this.#state = 'running';
    this.emit('spawn');
    const signal = this.#options.signal;
    if (this.#style === 'child_process' && signal?.aborted && !this.#flags.canceled) this.#onAbort(signal.reason);
  }

  /** What start() resolves with: this executor, or the abort that came first (a 'spawn' listener's too). */
  #startSettled(): this {
    this.#startResolved = true;
    if (this.#abortedEarly) throw this.#abortedEarly;
    return this;
  }

  /** The start failed: the typed error (or child_process's) rejects wait() and is reported. */
  #failed(e: unknown): void {
    this.#state = 'failed';
    this.#clearWatchers();
    if (this.#style === 'confine') {
      this.#rejectExit(e);
      if (this.listenerCount('error') > 0) this.emit('error', e);
      return;
    }
    // child_process: 'error' (an uncaught exception without a listener), then 'close' with the
    // negative errno as exit code; stdio is there as with child_process, ended.
    const { toChildProcessError, uvErrno } = childProcessErrors();
    const err = toChildProcessError(e, this.#file, this.#args);
    this.#rejectExit(err);
    this.#failure = {
      exitCode: uvErrno(e instanceof ConfineError ? e.errno : null),
      stdio: this.#tree?.stdio ?? standInStdio(normalizeStdio(this.#options.stdio)),
    };
    process.nextTick(() => {
      this.emit('error', err);
      setImmediate(() => this.emit('close', this.exitCode, null));
    });
  }

  #onAbort(reason: unknown): void {
    if (this.#state !== 'starting' && this.#state !== 'running') return;
    this.#flags.canceled = true;
    const err = this.#style === 'child_process' ? childProcessErrors().abortError(reason) : new AbortedError(reason);
    if (!this.#startResolved && this.#style === 'confine') this.#abortedEarly = err;
    void this.#politeStop();
    if (this.#style === 'child_process' || this.listenerCount('error') > 0) this.emit('error', err);
  }

  #politeStop(): Promise<ExitStatus> {
    return this.shutdown({
      signal: this.#options.killSignal ?? 'SIGTERM',
      graceMs: this.#options.graceMs ?? DEFAULT_GRACE_MS,
    }).catch(() => this.#exit);
  }

  #clearWatchers(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    if (this.#abortListener) this.#options.signal?.removeEventListener('abort', this.#abortListener);
    this.#abortListener = null;
  }

  #onExit(raw: Awaited<Tree['exited']>): void {
    const tree = this.#tree!;
    this.#clearWatchers();
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
      durationMs: Math.round(monotonicMs() - this.#startedAt),
    };
    this.#status = status;
    this.#state = 'exited';
    // The tree's cgroup goes now, not at 'close': a supervisor may exit as soon as it has seen
    // the exit (process.exit() in an 'exit' handler), while the stdio streams still drain.
    tree.release().catch((e: unknown) => {
      // The run is over and reported; a cgroup that cannot be removed must not crash the
      // supervisor (`confine doctor` lists it).
      process.emitWarning(`cleanup after ${this.#file} failed: ${(e as Error)?.message ?? String(e)}`, {
        type: 'ConfineWarning',
        code: 'CONFINE_CLEANUP',
      });
    });
    this.#resolveExit(status);
    this.emit('exit', status.exitCode, status.signal);
    // On a later turn of the event loop than wait() resolved: code that awaits wait() (even
    // through Promise.all) and then listens for 'close' must not miss it. When stdio closed
    // before the exit, `closed` is settled already and 'close' would otherwise come a microtask
    // or two after wait(), how many depending on the backend.
    void tree.closed.then(() => setImmediate(() => this.emit('close', status.exitCode, status.signal)));
  }

  // ---- the running tree ----------------------------------------------------------------------

  /** Resolves once with the leader's exit status. */
  wait(): Promise<ExitStatus> {
    if (this.#state === 'new') return Promise.reject(new ConfineStateError('wait() called before start()'));
    return this.#exit;
  }

  /** Sends a signal to the leader only, like ChildProcess.kill(). False when it is gone. */
  kill(signal: NodeJS.Signals | number = 'SIGTERM'): boolean {
    const n = signalNumber(signal, 'kill');
    if (!this.#tree || this.#tree.pid === undefined || (this.#state !== 'running' && this.#state !== 'starting')) return false;
    const delivered = this.#tree.signal(n);
    if (delivered) this.#killed = true;
    return delivered;
  }

  /**
   * Graceful stop: `signal` to every process of the tree, then forceStop() after `graceMs`.
   * Resolves with the exit status. Safe to call twice, concurrently with forceStop(), after the
   * exit, and while start() is pending (what starts is stopped).
   */
  shutdown(opts: ShutdownOptions = {}): Promise<ExitStatus> {
    let sig: number;
    let graceMs: number;
    let tree: Tree;
    try {
      sig = signalNumber(opts.signal ?? this.#options.killSignal ?? 'SIGTERM', 'shutdown: signal');
      graceMs = validateGrace(opts.graceMs ?? this.#options.graceMs ?? DEFAULT_GRACE_MS, 'shutdown: graceMs');
      tree = this.#startedTree('shutdown');
    } catch (e) {
      return Promise.reject(e);
    }
    if (this.#shutdownPromise) return this.#shutdownPromise;
    const live = this.#live();
    if (live) this.#flags.stopped = true;
    this.#shutdownPromise = (async () => {
      if (live) {
        tree.signalTree(sig);
        let timer: NodeJS.Timeout | undefined;
        const graceOver = await Promise.race([
          this.#exit.then(
            () => false,
            () => false,
          ),
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
    let tree: Tree;
    try {
      tree = this.#startedTree('forceStop');
    } catch (e) {
      return Promise.reject(e);
    }
    if (this.#forcePromise) return this.#forcePromise;
    if (this.#live()) this.#flags.stopped = true;
    this.#forcePromise = tree.killTree().then(() => this.#exit);
    return this.#forcePromise;
  }

  /** The tree is there and has not exited (it may still be starting). */
  #live(): boolean {
    return this.#state === 'running' || this.#state === 'starting';
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
    // Not a promise: its state and argument errors are thrown here, before any iteration.
    this.#startedTree('statsStream');
    return (require('./lifecycle/stats-stream.js') as typeof import('./lifecycle/stats-stream.js')).statsStream(this, opts);
  }

  /** Changes limits of the running tree. Resolves to the new enforcement of those limits. */
  async update(resources: Resources): Promise<EnforcedMap> {
    const tree = this.#startedTree('update');
    const valid = validateResources(resources, 'update');
    if (this.#state === 'exited') {
      const out: EnforcedMap = {};
      for (const k of Object.keys(valid) as (keyof Resources)[])
        out[k] = notEnforced('the tree has exited: there is nothing to limit');
      return out;
    }
    const result = await tree.update(valid);
    this.#resources = Object.assign(Object.create(null), this.#resources, valid);
    Object.assign((this.#enforced ??= this.#plan()), result);
    return structuredClone(result);
  }

  /**
   * Attaches this (unstarted) executor to a running process, by handle or pid: what Open() of
   * Nomad's executor did. Prefer openPid(), which makes the executor for you.
   */
  async open(handleOrPid: string | number): Promise<this> {
    if (this.#state !== 'new') throw new ConfineStateError('open(): this executor was already started');
    this.#state = 'starting';
    let attached: Awaited<ReturnType<typeof attachTree>>;
    try {
      attached = await (require('./attach.js') as typeof import('./attach.js')).attachTree(handleOrPid);
    } catch (e) {
      this.#state = 'new';
      throw e;
    }
    const { tree, backend } = attached;
    this.#backend = backend;
    this.#tree = tree;
    if (!this.#refed) tree.unref?.();
    this.#flags.reattached = true;
    this.#startedAt = monotonicMs();
    this.#enforced = { ...this.#plan(), ...tree.enforcement?.() };
    this.#startResolved = true;
    this.#running();
    void tree.exited.then((raw) => this.#onExit(raw));
    return this;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    if (this.#live()) await this.forceStop();
  }
}

/** child_process's uid/gid options as a runAs spec (the user's groups when the uid is known). */
function runAsOfIds(uid: number | undefined, gid: number | undefined): RunAsSpec {
  if (uid === undefined) return { uid: process.getuid?.() ?? 0, gid: gid! };
  return gid === undefined ? uid : { uid, gid };
}

function checkCwd(cwd: string | URL | undefined): string {
  // The supervisor's own cwd exists (or the child reports chdir failing).
  if (cwd === undefined) return process.cwd();
  const dir = path.resolve(String(cwd));
  try {
    const st = statSync(dir);
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

function isRestricted(spec: RunAsSpec | null): boolean {
  return typeof spec === 'object' && spec !== null && spec.restricted === true;
}

/** options.cgroupParent, else CONFINE_CGROUP_PARENT (so operators and test suites can set it). */
function cgroupParentOf(o: CommandOptions): string | undefined {
  if (o.cgroupParent !== undefined) return o.cgroupParent;
  const env = process.env.CONFINE_CGROUP_PARENT;
  if (!env) return undefined;
  // Read by every plan and start: the value last found valid is not checked again.
  if (env !== validEnvParent) validEnvParent = validateCgroupParent(env, 'CONFINE_CGROUP_PARENT');
  return env;
}
let validEnvParent: string | undefined;

function normalizeStdio(stdio: CommandOptions['stdio']): StdioValue[] {
  if (stdio === undefined) return ['pipe', 'pipe', 'pipe'];
  if (typeof stdio === 'string') return [stdio, stdio, stdio];
  const out = [...stdio];
  while (out.length < 3) out.push('pipe');
  return out.map((s, i) => (s === null || s === undefined ? (i < 3 ? 'pipe' : 'ignore') : s));
}

/**
 * child_process sets up stdio even for a spawn that fails (ENOENT), so that
 * `spawn(...).stdout.on(...)` never throws: ended streams where pipes were asked for.
 */
function standInStdio(stdio: StdioValue[]): (Readable | Writable | null)[] {
  const { PassThrough } = require('node:stream') as typeof import('node:stream');
  return stdio.map((s, i) => {
    if (s !== 'pipe' && s !== 'overlapped') return null;
    const stream = new PassThrough();
    if (i === 0) stream.destroy();
    else stream.end();
    return stream;
  });
}

/** child_process's error shapes: only spawn() (the child_process style) reports in them. */
function childProcessErrors(): typeof import('./child-process/errors.js') {
  return require('./child-process/errors.js') as typeof import('./child-process/errors.js');
}

/** Internal: an executor attached to an existing tree (openPid). */
export function describeAttached(pid: number): string {
  try {
    return readlinkSync(`/proc/${pid}/exe`);
  } catch {
    return `pid:${pid}`;
  }
}
