// The public types of confine. Every name that crosses the API boundary lives here, so the
// backends, the CLI and the docs all read one definition.

import type { Readable, Writable, Stream } from 'node:stream';

/** The backends, chosen by capability testing (see `autoselectExecutor`). */
export type ExecutorKind = 'linux' | 'posix' | 'windows' | 'universal';

/**
 * Resource limits. Units are in the names. Each one is optional; a limit not asked for is
 * inherited from the supervisor.
 */
export interface Resources {
  /** Memory of the whole tree, hard: the tree is OOM-killed past it. */
  memoryBytes?: number;
  /** Swap of the whole tree, on top of memoryBytes. */
  memorySwapBytes?: number;
  /** CPU time share as a number of cores: 0.5 is half of one core, 2 is two cores. */
  cpu?: number;
  /** Relative CPU weight against sibling trees, 1..10000 (cgroup v2's cpu.weight scale). */
  cpuWeight?: number;
  /** CPU set the tree may run on, e.g. "0-1" or "0,2". */
  cpus?: string;
  /** Number of processes (and threads) in the tree. */
  maxProcesses?: number;
  /**
   * Relative disk IO weight against sibling trees, 1..10000 (cgroup v2's io.weight scale,
   * default 100). Takes effect only on disks whose IO scheduler shares by weight (BFQ, or
   * iocost): `enforced` says where.
   */
  ioWeight?: number;
  /** Bytes per second the tree may read from a disk: `{ device, rate }` or one per disk. */
  ioReadBytesPerSecond?: IoDeviceRate | IoDeviceRate[];
  /** Bytes per second the tree may write to a disk (direct and written-back IO alike on v2). */
  ioWriteBytesPerSecond?: IoDeviceRate | IoDeviceRate[];
  /** Read operations per second on a disk. */
  ioReadOpsPerSecond?: IoDeviceRate | IoDeviceRate[];
  /** Write operations per second on a disk. */
  ioWriteOpsPerSecond?: IoDeviceRate | IoDeviceRate[];
  /** RLIMIT_NOFILE: open file descriptors per process. */
  openFiles?: number;
  /** RLIMIT_CPU: CPU seconds per process; the process gets SIGXCPU, then SIGKILL. */
  cpuSeconds?: number;
  /** RLIMIT_FSIZE: largest file a process may write. */
  fileSizeBytes?: number;
  /** RLIMIT_CORE: largest core dump. 0 disables core dumps. */
  coreBytes?: number;
  /** RLIMIT_STACK: stack size of the main thread. */
  stackBytes?: number;
  /**
   * RLIMIT_AS: address space per process. Explicit only: V8 and the JVM reserve far more
   * address space than they use and fail to start under a tight RLIMIT_AS.
   */
  addressSpaceBytes?: number;
}

export type ResourceName = keyof Resources;

/**
 * One disk's rate, for the io throttles (`ioWriteBytesPerSecond` and the like; the unit is the
 * one in the resource's name). `device` is a disk's 'MAJ:MIN' ('8:0'), its node ('/dev/vda'), or
 * any path on it ('/var/lib/jobs': the disk whose filesystem holds that path); a partition means
 * its whole disk. `rate` > 0; `Infinity` is no limit on that disk (how `update()` lifts one).
 */
export interface IoDeviceRate {
  device: string;
  rate: number;
}

/** Who the child runs as: a user name, a numeric uid, 'uid:gid', or an object. */
export type RunAsSpec =
  | string
  | number
  | {
      user?: string | number;
      uid?: number;
      gid?: number;
      /** Supplementary groups; default: the user's groups from the group database. */
      groups?: number[];
      /**
       * Windows: run with a restricted token of the supervisor's own user (Administrators and
       * other privileged groups deny-only, privileges removed). Not with user/uid.
       */
      restricted?: boolean;
      /** Windows, with restricted: the token's integrity level. Default 'medium'. */
      integrity?: 'low' | 'medium';
    };

/** A resolved identity. */
export interface Identity {
  uid: number;
  gid: number;
  groups: number[];
  name: string | null;
  home: string | null;
}

export type StdioValue = 'pipe' | 'overlapped' | 'inherit' | 'ignore' | number | Stream | null | undefined;
export type StdioOption = 'pipe' | 'overlapped' | 'inherit' | 'ignore' | StdioValue[];

/**
 * Options of `command()` and `spawn()`: child_process.spawn's (same names, same meaning, same
 * defaults) and confine's own. Only own properties are read.
 */
export interface CommandOptions {
  /** Working directory; '' and null mean the supervisor's, as in child_process. */
  cwd?: string | URL | null;
  /**
   * The whole environment of the child. Default: the supervisor's (process.env). Keys the object
   * inherits through its own prototype chain count too, as in child_process; Object.prototype's
   * never do.
   */
  env?: NodeJS.ProcessEnv | null;
  /** argv[0] as the program sees it. Default: the file as given. */
  argv0?: string;
  stdio?: StdioOption;
  /** Cancels the run: the tree is shut down with `killSignal` and `graceMs`. */
  signal?: AbortSignal;
  /** Milliseconds after start when the tree is shut down with `killSignal` and `graceMs`; 0 = none. */
  timeout?: number | null;
  /** Signal for timeout, abort and the first step of shutdown. Default SIGTERM. */
  killSignal?: NodeJS.Signals | number | null;
  /** Grace between the polite signal and forceStop, for timeout and abort. Default 5000. */
  graceMs?: number;
  /** Accepted for child_process compatibility: the tree always gets its own session. */
  detached?: boolean | null;
  /**
   * Run `file` and its arguments, joined by spaces, through a shell as child_process does:
   * `/bin/sh -c` (a string names another shell); on Windows `cmd.exe /d /s /c`.
   */
  shell?: boolean | string | null;
  /** Run as this uid (and `gid`): what `runAs({ uid, gid })` does, with the user's groups. */
  uid?: number | null;
  gid?: number | null;
  /** Windows: pass the command line as it is, without quoting (set by `shell` with cmd.exe). */
  windowsVerbatimArguments?: boolean | null;
  /** Accepted for child_process compatibility; without an 'ipc' channel it changes nothing. */
  serialization?: 'json' | 'advanced';
  /** Windows: hide the console window of the child. Accepted for compatibility. */
  windowsHide?: boolean | null;
  /** Resource limits: what `limit()` takes. */
  limits?: Resources;
  /** Who the child runs as: what `runAs()` takes. */
  runAs?: RunAsSpec;
  /** Isolation: what `isolate()` takes, where this version has it. */
  isolate?: unknown;
  /** Force a backend instead of `autoselectExecutor()`. */
  executor?: ExecutorKind;
  /** Reject `start()` when any requested limit or identity cannot be enforced. */
  strict?: boolean;
  /**
   * Parent cgroup for the tree's own cgroup (Linux): a clean absolute path inside the hierarchy,
   * or 'delegated': the supervisor's delegated cgroup v2 subtree, with leave to move the
   * supervisor's processes into a leaf of it (v2's no-internal-processes rule; docs/cgroups.md).
   */
  cgroupParent?: string;
  /** Kill the tree when the supervisor dies. Off by default (reattach is the default). */
  killOnParentExit?: boolean;
}

/** spawn()'s options: the same as command()'s. */
export type SpawnOptions = CommandOptions;

/**
 * The read-only spec of an executor, as `Command()` of Nomad's executor (HashiCorp Nomad's first
 * exec package, client/exec, 2015) held it.
 */
export interface CommandSpec {
  /** The file as given. */
  readonly file: string;
  /** The file resolved in PATH, once start() has resolved it. */
  readonly path: string | null;
  readonly args: readonly string[];
  readonly options: Readonly<CommandOptions>;
  readonly resources: Readonly<Resources>;
  readonly runAs: RunAsSpec | null;
  /** What isolate() was given (the preset shows as 'preset'), or null. */
  readonly isolation: Readonly<Isolation> | 'preset' | null;
}

/** How one requested limit (or property) is enforced. */
export interface Enforcement {
  /** True when the mechanism holds the limit against a hostile child. */
  enforced: boolean;
  /** The mechanism, e.g. 'cgroup2', 'cgroup1', 'rlimit', 'job', 'uid', 'none'. */
  mechanism: string;
  /** What the limit covers: the whole tree, each process, or every process of the user. */
  scope: 'tree' | 'process' | 'user' | 'none';
  /** Anything a careful caller should know. */
  note?: string;
}

export type EnforcedMap = Partial<
  Record<ResourceName | IsolationKey | 'runAs' | 'groups' | 'treeStop' | 'killOnParentExit' | 'closeFds', Enforcement>
>;

/**
 * What a tree can see and reach (`executor.isolate()`). A key not given leaves that part as the
 * host has it; `isolate()` without an argument is the preset for untrusted tools (docs/isolation.md).
 */
export interface Isolation {
  /**
   * The filesystem view: paths not listed are absent. Absolute paths; each keeps its location.
   * `read`: read and execute (read-only, nosuid, nodev); `write`: read and write; `tmp`: a fresh
   * empty tmpfs that goes with the tree (`{ path, sizeBytes }`: of that size, ENOSPC past it; its
   * pages count toward memoryBytes either way). /proc and /dev are provided (a private minimal /dev).
   */
  filesystem?: { read?: string[]; write?: string[]; tmp?: (string | { path: string; sizeBytes?: number })[] };
  /** 'none': a network namespace with nothing up; 'loopback': its own lo, up; 'host': unchanged. */
  network?: 'host' | 'loopback' | 'none';
  /** 'private': a pid namespace, the tree sees only itself (pid 1 is confine's init). */
  processes?: 'host' | 'private';
  /** 'private': System V IPC and POSIX message queues of its own. */
  ipc?: 'host' | 'private';
  /** Its own hostname (a UTS namespace). */
  hostname?: string;
  /** A system call filter: 'default' (a denylist), 'host' (none) or { deny: [...names] }. Issue 17. */
  syscalls?: 'host' | 'default' | { deny: string[] };
  /** Capabilities kept when the child runs as uid 0; default none. Issue 17. */
  capabilities?: string[];
}

export type IsolationKey = keyof Isolation;

/** Whether one isolation mechanism works here, and why not. */
export interface IsolationAvailability {
  ok: boolean;
  reason: string | null;
}

/** capabilities().isolation: what the linux backend can isolate on this host, and why not. */
export interface IsolationCapabilities {
  /**
   * 'namespaces' where the child can get them here; 'landlock' where it cannot but Landlock is
   * there (files, TCP, scopes: docs/isolation.md); 'none' (reason says why) elsewhere.
   */
  mechanism: 'namespaces' | 'landlock' | 'none';
  reason: string | null;
  /** A supervisor that is not root isolates through a user namespace of the child's own. */
  viaUserNamespace: boolean;
  userNamespaces: IsolationAvailability;
  namespaces: Record<'mount' | 'pid' | 'net' | 'ipc' | 'uts', IsolationAvailability>;
  mounts: IsolationAvailability;
  /** A fresh /proc for a private pid namespace. */
  proc: IsolationAvailability;
  loopback: IsolationAvailability;
  /** The init that runs as pid 1 of a private pid namespace (shipped beside the addon). */
  init: IsolationAvailability & { path: string | null };
  /** Read-only binds hold for every mount below them (mount_setattr, Linux 5.12). */
  recursiveReadOnly: boolean;
  /** Landlock: its ABI version here (null: none, reason says why), from the addon's probe. */
  landlock: { abi: number | null; reason: string | null };
  /** Whether seccomp filters can be installed here (null: not probed), from the addon's probe. */
  seccomp: { available: boolean | null; reason: string | null };
}

/** The exit status of a tree: what `wait()`, `shutdown()` and `forceStop()` resolve to. */
export interface ExitStatus {
  /** Exit code, or null when killed by a signal or when unknowable (reattached). */
  exitCode: number | null;
  /** Signal name when killed by a signal. */
  signal: NodeJS.Signals | null;
  /** The kernel's OOM killer ended the tree (from the cgroup or job, never guessed). */
  oomKilled: boolean;
  /** `timeout` ran out and the tree was shut down. */
  timedOut: boolean;
  /** The AbortSignal fired and the tree was shut down. */
  canceled: boolean;
  /** Stopped by shutdown() or forceStop() (or timeout/abort). */
  stopped: boolean;
  /** The process was attached by openPid(), so its exit code cannot be known. */
  reattached: boolean;
  /** CPU time of the leader and its waited-for descendants, or null where unknown. */
  cpuUserMicros: number | null;
  cpuSystemMicros: number | null;
  /** Peak resident memory (of the largest process, or of the tree with a cgroup). */
  memoryPeakBytes: number | null;
  /** Wall time from start to exit. */
  durationMs: number;
}

export interface Stats {
  memoryBytes: number | null;
  memoryPeakBytes: number | null;
  cpuUserMicros: number | null;
  cpuSystemMicros: number | null;
  processes: number | null;
  throttledPeriods?: number | null;
  throttledMicros?: number | null;
  /**
   * Disk IO of the tree, as the block layer counted it (v2 io.stat, v1 blkio.throttle.*), summed
   * over disks; null where the tree has no io cgroup (on v1, a tree joins blkio only for an IO
   * limit).
   */
  ioReadBytes?: number | null;
  ioWriteBytes?: number | null;
  ioReadOps?: number | null;
  ioWriteOps?: number | null;
}

export interface ShutdownOptions {
  signal?: NodeJS.Signals | number;
  graceMs?: number;
}

export interface Capabilities {
  /** The native addon loaded. */
  native: boolean;
  /** The backend autoselectExecutor() picks. */
  backend: ExecutorKind;
  /** Why anything is missing (null when nothing is). */
  reason: string | null;
  platform: NodeJS.Platform;
  root: boolean;
  /** Backends usable here. */
  backends: ExecutorKind[];
  /** What each available mechanism can do here. */
  features: Record<string, boolean | string | number | null>;
  /** Per resource: what the picked backend would use. */
  resources: Partial<Record<ResourceName, Enforcement>>;
  /** Things missing, each with its reason. */
  missing: { what: string; why: string }[];
  /** Native addon version and probe result, when loaded. */
  addon: { version: string; path: string | null } | null;
  /** Which isolation mechanisms this host has (namespaces, user namespaces, ...), and why not. */
  isolation: IsolationCapabilities;
  /** Detail the backend adds: cgroup layout and so on. */
  detail?: Record<string, unknown>;
}

export type StdinStream = Writable | null;
export type OutStream = Readable | null;
