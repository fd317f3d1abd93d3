// What every backend provides to the Executor. The Executor owns the API, validation and
// policy (warnings, strict, timeouts, the order of events); a backend starts a tree, reports how
// it enforces each limit, and gives the Executor the means to signal, stop and measure it.

import type { Readable, Writable } from 'node:stream';
import type { EnforcedMap, ExecutorKind, Identity, Resources, Stats, StdioValue } from '../types.js';
import type { IsolationSpec, View } from '../isolation/index.js';

export interface LaunchRequest {
  /** Absolute path of the program, already resolved and checked. */
  file: string;
  /** argv, argv[0] included. */
  argv: string[];
  env: Record<string, string>;
  /** Absolute, existing directory. */
  cwd: string;
  /** One entry per child fd (0, 1, 2, ...). */
  stdio: StdioValue[];
  identity: Identity | null;
  /** Windows: run with a restricted token of the supervisor's user (runAs({ restricted })). */
  restricted: { integrity: 'low' | 'medium' } | null;
  resources: Resources;
  killOnParentExit: boolean;
  cgroupParent: string | undefined;
  /** true when argv[0] differs from the file as given (options.argv0). */
  customArgv0: boolean;
  /** isolate(): the spec (the preset made concrete) and its filesystem view, resolved on the host. */
  isolation: { spec: IsolationSpec; view: View | null } | null;
  /** Windows: the command line as given, without quoting (child_process's option of that name). */
  windowsVerbatimArguments?: boolean;
}

export interface PlanRequest {
  resources: Resources;
  identity: Identity | null;
  runAs: boolean;
  /** runAs({ restricted: true }): a restricted token (Windows) rather than another user. */
  restricted?: boolean;
  killOnParentExit: boolean;
  cgroupParent: string | undefined;
  customArgv0: boolean;
  /** isolate()'s spec (before start() the preset's filesystem paths are not known yet). */
  isolation: IsolationSpec | null;
}

/** How the leader ended, as the backend saw it. */
export interface RawExit {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  cpuUserMicros: number | null;
  cpuSystemMicros: number | null;
  memoryPeakBytes: number | null;
}

/**
 * A started (or attached) tree. launch() returns it at once, the process already there (as
 * child_process's spawn() does); `started` settles when the program is known to run.
 */
export interface Tree {
  /** The leader's pid; undefined only while a backend that learns it later has not (a failed start). */
  readonly pid: number | undefined;
  /**
   * Resolves once the program has been exec'd (at once for the native backends, whose launch
   * reports exec failures itself); rejects with the typed error when it could not be, after the
   * backend has released what it held.
   */
  readonly started: Promise<void>;
  /** The parent's ends of the child's stdio; null where not piped. */
  readonly stdio: (Readable | Writable | null)[];
  /** Serializable identity of the tree for openPid(). */
  readonly handle: string;
  /** Resolves once, when the leader has exited (and, for our own child, been reaped). */
  readonly exited: Promise<RawExit>;
  /** Resolves when every stdio stream of ours has closed (after `exited`). */
  readonly closed: Promise<void>;
  /** Signal the leader only. Returns false when it is gone. */
  signal(sig: number): boolean;
  /** Signal every process of the tree the backend can reach. */
  signalTree(sig: number): void;
  /** Kill every process of the tree; resolves when the backend has done all it can. */
  killTree(): Promise<void>;
  stats(): Promise<Stats>;
  /** Change limits of the running tree; returns the new enforcement of those limits. */
  update(resources: Resources): Promise<EnforcedMap>;
  /** The tree was OOM-killed, from the kernel's own counter. */
  oomKilled(): boolean;
  /**
   * Release what the tree held (cgroup, job, fds) once it is gone. Idempotent. Called at the
   * leader's exit: what can be released then is released before it returns (synchronously), so
   * a supervisor that exits right after 'exit' or wait() leaves nothing behind.
   */
  release(): Promise<void>;
  /** Whether the leader keeps the supervisor's event loop alive, as ChildProcess.ref()/unref(). */
  ref?(): void;
  unref?(): void;
  /** Attached trees: how they are stopped, which a plan of the backend cannot know. */
  enforcement?(): EnforcedMap;
}

/** The parsed form of `executor.handle`. */
export interface HandleData {
  kind: ExecutorKind;
  pid: number;
  startTime: string | null;
  /**
   * 'process' for a bare pid confine did not start (openPid(pid)): only that process is
   * signalled and stopped, never descendants found by a /proc walk. Absent for confine's trees.
   */
  scope?: 'process';
  /** Backend-specific: cgroup paths, job name. */
  extra?: Record<string, unknown>;
}

export interface Backend {
  readonly kind: ExecutorKind;
  /** null when usable here, else why not. */
  unavailable(): string | null;
  /** How this backend would enforce the request. Pure: starts nothing. */
  plan(req: PlanRequest): EnforcedMap;
  /**
   * Throws what plan() would throw for these options (a cgroupParent that cannot be used): for
   * command(), which refuses them at once without making a plan that limit() or runAs() would
   * make stale. Optional: a backend whose plan() throws nothing has none.
   */
  checkOptions?(req: Pick<PlanRequest, 'cgroupParent'>): void;
  /** Starts the tree now (synchronously, as libuv's spawn does); throws the typed error. */
  launch(req: LaunchRequest): Tree;
  /** Attach to a running process already verified to be `data`. */
  attach(data: HandleData): Promise<Tree>;
}

const HANDLE_PREFIX = 'confine1';

/** A handle is `confine1.<base64url(JSON)>`: opaque, one line, safe in env vars and files. */
export function encodeHandle(data: HandleData): string {
  return `${HANDLE_PREFIX}.${Buffer.from(JSON.stringify(data)).toString('base64url')}`;
}

export function decodeHandle(handle: string): HandleData | null {
  if (!handle.startsWith(`${HANDLE_PREFIX}.`)) return null;
  try {
    const parsed: unknown = JSON.parse(Buffer.from(handle.slice(HANDLE_PREFIX.length + 1), 'base64url').toString('utf8'));
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return null;
    // Own properties only, all the way down: an `extra` (cgroup paths) planted on Object.prototype
    // must never become the cgroup a forceStop() kills.
    const data = nullProto(parsed) as HandleData;
    if (!Number.isInteger(data.pid) || data.pid <= 0) return null;
    if (!['linux', 'posix', 'windows', 'universal'].includes(data.kind)) return null;
    if (data.startTime !== null && typeof data.startTime !== 'string') return null;
    return data;
  } catch {
    return null;
  }
}

/** A JSON value with every object copied into one without a prototype. */
function nullProto(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(nullProto);
  if (typeof v !== 'object' || v === null) return v;
  const out: Record<string, unknown> = Object.create(null);
  for (const [k, x] of Object.entries(v)) out[k] = nullProto(x);
  return out;
}
