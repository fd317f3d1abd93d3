// The addon's JavaScript surface, as types: what native/addon.cc (Linux, macOS) and
// native/addon_win.cc (Windows) export. docs/native-api.md and docs/native-win.md describe each
// call; this file is the contract lib/ compiles against. The addon validates nothing a caller
// could get wrong in JavaScript (lib/validate.ts does), so these types are the whole check on
// the lib/ side. A change to either addon's exports changes this file and those docs together.

/** What every build answers. `features` are measured on this host (see the docs per platform). */
export interface AddonProbe {
  version: string;
  platform: string;
  features: Record<string, boolean | string | number | null>;
  /** POSIX builds: the names the kernel-guard fields accept (empty off Linux). */
  names?: { syscalls: string[]; capabilities: string[] };
}

/** The fields an addon error carries (the `Error` also has `message`). */
export interface AddonError {
  code?: string;
  stage?: string | null;
  syscall?: string | null;
  errno?: string | null;
  errnoNumber?: number | null;
  /** Windows: the closest POSIX errno name. */
  posixErrno?: string | null;
  message?: string;
}

// ---- POSIX (native/addon.cc) -------------------------------------------------------------

export interface PosixUser {
  uid: number;
  gid: number;
  name: string;
  home: string;
  shell: string;
  groups: number[];
}

export interface PosixSpawnRequest {
  file: string;
  argv: string[];
  envp: readonly string[];
  cwd?: string | null;
  uid?: number;
  gid?: number;
  groups?: number[] | null;
  rlimits?: [string, number][];
  stdio: number[];
  setsid?: boolean;
  noNewPrivs?: boolean;
  pdeathsig?: number;
  resetOomScoreAdj?: boolean;
  cgroupFd?: number;
  cgroupProcsFds?: number[];
  /** Linux: kept capabilities of a uid-0 child (names from probe().names.capabilities). */
  capabilities?: string[] | null;
  seccomp?: PosixSeccompRequest | null;
  landlock?: PosixLandlockRequest | null;
  forceNoPidfd?: boolean;
  forceNoCloseRange?: boolean;
  forceNoClearSighand?: boolean;
  /**
   * Return once the clone's vfork has returned, with the error pipe as `errorFd` while the
   * program's exec is still to come (the init path); watchStart() learns the outcome.
   */
  startAsync?: boolean;
  /** Linux: namespaces, the new root, the init (docs/native-api.md, "isolation"). */
  isolation?: PosixIsolationRequest | null;
  /**
   * Linux: a handle from prepare() in place of capabilities, seccomp, landlock and isolation
   * (which must then be absent); the isolation's per-spawn fds go beside it.
   */
  prepared?: PosixPreparedRequest | null;
  /** With `prepared`: isolation.initFd, statusFd and netnsFd of this spawn (-1 or absent: none). */
  initFd?: number;
  statusFd?: number;
  netnsFd?: number;
}

/** What prepare() reads: the keys of a spawn request that a prepared handle stands for. */
export interface PosixPrepareRequest {
  capabilities?: string[] | null;
  seccomp?: PosixSeccompRequest | null;
  landlock?: PosixLandlockRequest | null;
  isolation?: PosixIsolationRequest | null;
}

/** An opaque handle of the addon (an External), freed when it is collected. */
export type PosixPreparedRequest = { readonly __confinePrepared: unique symbol };

/** One step of the child's filesystem view, in order (outer mounts before inner ones). */
export interface PosixMount {
  kind: 'bind' | 'tmpfs' | 'proc' | 'dev' | 'symlink';
  /** Absolute, normalized; where it appears in the view. */
  target: string;
  /** bind: the real path on the host. */
  source?: string;
  /** bind: read-only (and nosuid, nodev; every bind is nosuid, nodev). */
  readOnly?: boolean;
  /** proc: /proc/sys, sysrq-trigger, irq, bus bound read-only (a child that keeps root's capabilities). */
  readOnlyKernelFiles?: boolean;
  /** symlink: its text. */
  linkTo?: string;
  /** tmpfs: the mount data, `mode=1777` or `mode=1777,size=<bytes>` (lib/isolation/tmp-size.ts). */
  data?: string;
}

export interface PosixIsolationRequest {
  /** CLONE_NEWUSER: the child maps its own uid and gid (a supervisor that is not root). */
  user?: boolean;
  mount?: boolean;
  pid?: boolean;
  net?: boolean;
  ipc?: boolean;
  uts?: boolean;
  /** The mounts build a new root (pivot_root); else they are made in place (a fresh /proc). */
  newRoot?: boolean;
  mounts?: PosixMount[];
  hostname?: string | null;
  loopback?: boolean;
  /** Root: join spare net/ipc namespaces made ahead by the addon's thread, when one is ready. */
  spares?: boolean;
  /** A network namespace to join (setns) instead of a new one; -1 for none. */
  netnsFd?: number;
  /** pid: the init executable (an fd opened by lib/) and the write end of its status pipe. */
  initFd?: number;
  statusFd?: number;
}

/** One step of probeIsolation(): null when it worked, the errno name when not, undefined when not tried. */
export type ProbeStep = string | null | undefined;
export interface PosixIsolationProbePath {
  clone: ProbeStep;
  user?: ProbeStep;
  mount: ProbeStep;
  pid: ProbeStep;
  net: ProbeStep;
  ipc: ProbeStep;
  uts: ProbeStep;
  uidMap?: ProbeStep;
  mounts: ProbeStep;
  proc: ProbeStep;
  loopback: ProbeStep;
}
export interface PosixIsolationProbe {
  /** Without a user namespace; tried as root only (null otherwise). */
  direct: PosixIsolationProbePath | null;
  userns: PosixIsolationProbePath;
  mountSetattr: boolean;
  openat2: boolean;
}

/** The system call filter: the default table plus these (docs/native-api.md, Kernel guards). */
export interface PosixSeccompRequest {
  /** More calls answered EPERM (names from probe().names.syscalls). */
  deny?: string[];
  /** io_uring_setup/enter/register denied (the network is not the host's). */
  denyIoUring?: boolean;
  /** socket() of every family but AF_UNIX answered EAFNOSUPPORT. */
  unixSocketsOnly?: boolean;
}

export interface PosixLandlockPathRule {
  path: string;
  access: 'read' | 'write';
}

/** A rule of the cached policy, with the identity the caller checked (stat with bigint: true). */
export interface PosixLandlockRule extends PosixLandlockPathRule {
  dev: number | bigint;
  ino: number | bigint;
}

export interface PosixLandlockRequest {
  /** The policy's rules: one ruleset per distinct policy, built once. */
  rules: PosixLandlockRule[];
  /** This spawn's own rules (a directory made for the tree): a fresh ruleset for the spawn. */
  treeRules?: PosixLandlockPathRule[];
  /** Paths the child opens itself, after its identity change (mounts it made). */
  childRules?: PosixLandlockPathRule[];
  /** ABI >= 4: TCP bind and connect denied. */
  denyTcp?: boolean;
  /** ABI >= 6: no signal to a process outside the child's domain. */
  scopeSignals?: boolean;
  /** ABI >= 6: no connect to an abstract unix socket outside the child's domain. */
  scopeAbstractUnix?: boolean;
}

/** watch()'s callback argument: the child has exited and has been reaped. */
export interface PosixExit {
  exitCode: number | null;
  /** The signal number, 0 when it exited normally. */
  signal: number;
  userMicros: number;
  systemMicros: number;
  maxRssBytes: number;
  /** Only when the child could not be reaped (ECHILD). */
  errno?: string;
  /**
   * A loop watch of a pidfd: whether the caller's pidfd (its number as given to watch()) was still
   * that pidfd just before the reap; absent where not checked. The caller closes it only if true.
   */
  pidfdOurs?: boolean;
}

export interface PosixAddon {
  probe(): AddonProbe;
  lookupUser(nameOrUid: string | number): PosixUser | null;
  /** What changes when any of the files changes (device, inode, size, mtime, ctime); "-" for one missing. */
  fileStamp(paths: string[]): string;
  /** null when `path` is a regular file this process may execute; else the errno name (EISDIR for a directory, EACCES for another non-regular file). */
  executableFile(path: string): string | null;
  /**
   * Changes whenever the process environment (environ) differs from the last call's; null off
   * the process's initial thread (a worker, whose process.env is not environ).
   */
  environGeneration(): number | null;
  /** Both ends close-on-exec; `nonBlockingWrite`: the write end O_NONBLOCK (EAGAIN when full). */
  pipe(nonBlockingWrite?: boolean): [readFd: number, writeFd: number];
  openDevNull(flags: number): number;
  close(fd: number): void;
  /**
   * Each item an fd (read from offset 0 with pread; it stays open) or a path (opened, read,
   * closed): the texts, null where the file or its cgroup is gone (ENOENT, ENODEV, ENOTDIR). A
   * short read is taken as the end: only for files the kernel makes in one show() (a cgroup's
   * keyed and single-value files), never for cgroup.procs, tasks or other files handed out a
   * page per read, which this would cut short without an error. A directory reads as its link
   * count, "nlink <n>\n" (on cgroupfs 2 + its child cgroups).
   * Throws ERR_CONFINE_SYSTEM on any other error. Optional: builds before it lack it.
   */
  readFiles?(items: (number | string)[]): (string | null)[];
  /** "dev:ino" of each fd (fstat), null for one not open. Optional: builds before it lack it. */
  fdIdentity?(fds: number[]): (string | null)[];
  /**
   * Held fds read with their check, in one call: false for one that is no longer the file
   * `ids[i]` (fdIdentity()'s "dev:ino") names, else as readFiles() of the fd (a directory's link
   * count from that check's own fstat, without a read). Optional.
   */
  readHeldFiles?(fds: number[], ids: string[]): (string | null | false)[];
  spawn(req: PosixSpawnRequest): { pid: number; pidfd: number; errorFd: number };
  /**
   * The outcome of a startAsync spawn whose `errorFd` is >= 0 (taken over): `onStart(null)` once
   * the program exec'd, `onStart(error)` with the error spawn() would have thrown once it failed.
   */
  watchStart(pid: number, errorFd: number, file: string, onStart: (error: (Error & AddonError) | null) => void): void;
  /**
   * `cgroupDirs`: the tree's task cgroup directories. Should the environment end before the exit
   * is seen (a worker thread terminated), the addon reaps the leader and removes them once empty.
   * Ignored on the process's initial thread, whose JS outlives its trees (nothing is read there).
   */
  watch(pid: number, pidfd: number, onExit: (exit: PosixExit) => void, cgroupDirs?: readonly string[]): void;
  /** The watched tree of `pid` has these task cgroup directories now (update() joined more); false: no watch. */
  watchCgroup?(pid: number, cgroupDirs: readonly string[]): boolean;
  /**
   * Whether `fd` is still the pidfd given to the loop watch of `pid` (user code may have closed
   * that number and opened a file of its own there): exact on every kernel (kcmp against the
   * watch's own copy, else the fdinfo's Pid:). true where no loop watch of pid is left to ask.
   */
  pidfdHeld?(pid: number, fd: number): boolean;
  /** Whether the watch of `pid` keeps the event loop alive; false when there is none (exited, or a thread watch). */
  watchRef(pid: number, ref: boolean): boolean;
  /** null when delivered, else the errno name ('ESRCH' for a child that is gone). */
  signal(pid: number, pidfd: number, sig: number): string | null;
  killGroup(pgid: number, sig: number): string | null;
  /** Linux: this process's PR_GET_DUMPABLE (0, 1 or 2), which a spawn leaves as it found it. */
  dumpable?(): number;
  /** Linux: each isolation step tried in a throwaway child. */
  probeIsolation?(): PosixIsolationProbe;
  /** Linux: the guards and isolation of a spawn request read once, for spawn()'s `prepared`. */
  prepare?(request: PosixPrepareRequest): PosixPreparedRequest;
  /** Linux: sig queued to an init of a private pid namespace, marked for the whole tree. */
  signalTree?(pid: number, pidfd: number, sig: number): string | null;
}

// ---- Windows (native/addon_win.cc) ---------------------------------------------------------

/** Limits as the public API names them (lib/ converts them); null or 0 removes one. */
export type WinLimits = Partial<
  Record<'memoryBytes' | 'processMemoryBytes' | 'maxProcesses' | 'cpu' | 'cpuWeight' | 'cpuSeconds', number | null>
> & { killOnClose?: boolean };

/** What a job carries now, in the API's units plus the Windows ones written (cpuRate, cpuRateWeight). */
export type WinLimitState = Record<
  'memoryBytes' | 'processMemoryBytes' | 'maxProcesses' | 'cpu' | 'cpuWeight' | 'cpuSeconds' | 'cpuRate' | 'cpuRateWeight',
  number | null
> & { killOnClose: boolean };

/** One limit the job refused: `{ [limit]: error }`. */
export type WinLimitErrors = Record<string, AddonError>;

export type WinStdio = 'ignore' | 'inherit' | { type: 'fd'; fd: number } | { type: 'pipe'; path: string };

export interface WinSpawnRequest {
  file: string;
  argv: string[];
  verbatimArguments?: boolean;
  env: string[] | null;
  cwd: string | null;
  stdio: WinStdio[];
  limits?: WinLimits;
  killOnClose?: boolean;
  strictLimits?: boolean;
  restrictedToken?: { integrity?: 'low' | 'medium' } | true | null;
  windowsHide?: boolean;
  console?: 'inherit' | 'new' | 'none';
  useJobList?: boolean;
}

export interface WinSpawnResult {
  job: number;
  pid: number;
  jobName: string;
  startTimeMicros: number;
  jobList: boolean;
  restricted: boolean;
  createCall: string;
  limits: WinLimitState;
  limitErrors: WinLimitErrors;
  notes: string[];
}

export interface WinJobStats {
  memoryBytes: number;
  memoryPeakBytes: number;
  processMemoryPeakBytes: number;
  userMicros: number;
  systemMicros: number;
  processes: number;
  totalProcesses: number;
  terminatedProcesses: number;
  readOps: number;
  writeOps: number;
  readBytes: number;
  writeBytes: number;
  pids: number[];
}

/** watch()'s onExit argument: the leader has exited; usage is the whole tree's. */
export interface WinExit {
  exitCode: number;
  oomKilled: boolean;
  cpuTimeExceeded: boolean;
  terminated: boolean;
  userMicros: number;
  systemMicros: number;
  memoryPeakBytes: number;
  processMemoryPeakBytes: number;
  processes: number;
  totalProcesses: number;
  pids: number[];
}

export interface WinJobEvent {
  type: string;
  pid: number;
}

export interface WinOpenedJob {
  job: number;
  pid: number | null;
  jobName: string;
  alive: boolean;
  events: boolean;
  startTimeMicros: number | null;
  limits: WinLimitState;
}

export interface WinTokenInfo {
  user: string;
  integrity: string | null;
  restricted: boolean;
  elevated: boolean;
  groups: { sid: string; name: string | null; enabled: boolean; denyOnly: boolean; integrity: boolean; logon: boolean }[];
  privileges: string[];
}

export interface WindowsAddon {
  probe(): AddonProbe;
  spawn(req: WinSpawnRequest): WinSpawnResult;
  watch(job: number, onExit: (exit: WinExit) => void, onEvent?: (ev: WinJobEvent) => void): void;
  close(job: number): void;
  terminate(job: number, exitCode?: number): void;
  ctrlBreak(job: number): { delivered: boolean; reason: string | null };
  closeWindows(job: number): { windows: number; processes: number };
  stats(job: number): WinJobStats;
  updateLimits(job: number, limits: WinLimits): { limits: WinLimitState; limitErrors: WinLimitErrors; notes: string[] };
  inJob(job: number, pid: number): boolean | null;
  /** With a pid the process must be in the job (stage 'identity' otherwise): pid and start time are then set. */
  openJob(name: string, pid: number): WinOpenedJob & { pid: number; startTimeMicros: number };
  openJob(name: string): WinOpenedJob;
  tokenInfo(pid?: number): WinTokenInfo;
  handleCount(): number;
  commandLine(argv: string[]): string;
  environmentBlock(env: string[]): string[];
}

/** The addon as loaded: either build; `probe().platform === 'win32'` tells which. */
export type Addon = PosixAddon | WindowsAddon;
