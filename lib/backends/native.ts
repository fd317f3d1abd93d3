// The native backends: `linux` and `posix`. The addon starts the child itself (clone with vfork
// semantics on Linux, fork on macOS) and applies identity, session and rlimits between fork and
// exec; see docs/native-api.md. On `linux` every tree is also born into a cgroup of its own
// (clone3 CLONE_INTO_CGROUP on v2, cgroup.procs fds on v1) which holds the tree-wide limits and
// makes the tree stop exact; which cgroup, and how update() changes it, is lib/cgroup/wiring.ts.

import { constants as fsConstants, readSync } from 'node:fs';
import type { Readable, Writable } from 'node:stream';
import type { AddonError, PosixAddon, PosixExit, PosixPreparedRequest, PosixSpawnRequest } from '../addon.js';
import { ConfineArgumentError, ConfineError, SpawnError, SystemError } from '../errors.js';
import { posixAddon } from '../loader.js';
import { envBlock } from '../environment.js';
import { descendants, isRoot, procStatsOf, processExiting, processStartTime } from '../proc.js';
import { RLIMIT_RESOURCES, TREE_RESOURCES, rlimitsOf } from '../resources.js';
import { signalName } from '../signals.js';
import type { EnforcedMap, Identity, Resources, Stats, StdioValue } from '../types.js';
// The cgroup modules themselves, not the cgroup/index.js barrel: that one also loads the orphan
// scan, which a run does not use.
import { enforcementFor, type ParentChoice } from '../cgroup/parent.js';
import { taskCgroupPool } from '../cgroup/pool.js';
import { guardsLayer, isolationLayer } from '../isolation/lazy.js';
import { TaskCgroup } from '../cgroup/task-cgroup.js';
import {
  parentOfAdopted,
  replaceGoneTaskCgroup,
  takeTaskCgroup,
  updateTreeCgroup,
  usableParent,
  whyNoCgroupLimit,
} from '../cgroup/wiring.js';
import {
  encodeHandle,
  type Backend,
  type HandleData,
  type LaunchRequest,
  type PlanRequest,
  type RawExit,
  type Tree,
} from './backend.js';
import { AttachedTree } from './attached-tree.js';
import { drainStdio, forgetAtExit, killAtExit, notEnforced, stdioClosed, streamFd } from './shared.js';
import { guardCgroup, killOnParentExitEnforcement } from '../lifecycle/watchdog.js';
import type { GuardContext, GuardRequest } from '../isolation/guards.js';

const isLinux = process.platform === 'linux';

const SIGKILL = 9;
const SIGSTOP = 19;
/** The isolation request's fds, each spawn's own, go beside it (request.initFd, statusFd). */
const NO_FDS = Object.freeze({ initFd: -1, statusFd: -1 });

export class NativeBackend implements Backend {
  constructor(readonly kind: 'linux' | 'posix') {}

  private get addon(): PosixAddon {
    const a = posixAddon();
    if (!a) throw new SystemError('the native addon is not loaded', {});
    return a;
  }

  unavailable(): string | null {
    return null; // select.ts only makes a NativeBackend where the addon has spawn()
  }

  /** The parent choice under which this backend's trees get their cgroup; null without one. */
  private cgroupParentOf(cgroupParent: string | undefined): ParentChoice | null {
    return this.kind === 'linux' ? usableParent(cgroupParent) : null;
  }

  checkOptions(req: Pick<PlanRequest, 'cgroupParent'>): void {
    this.cgroupParentOf(req.cgroupParent); // plan()'s one throw: the parent's typed error
  }

  plan(req: PlanRequest): EnforcedMap {
    const out: EnforcedMap = {};
    const cg = this.cgroupParentOf(req.cgroupParent);
    const cgEnf = cg ? enforcementFor(cg, req.resources) : {};
    const asRoot = req.identity ? req.identity.uid === 0 : req.runAs ? false : isRoot();
    for (const key of Object.keys(req.resources) as (keyof Resources)[]) {
      const rule = RLIMIT_RESOURCES[key];
      if (rule) {
        out[key] = {
          enforced: true,
          mechanism: 'rlimit',
          scope: 'process',
          note: `RLIMIT_${rule.rlimit.toUpperCase()}, soft and hard`,
        };
      } else if (cgEnf[key]) {
        out[key] = cgEnf[key];
      } else if (key === 'maxProcesses') {
        out[key] = asRoot
          ? notEnforced('no pids cgroup here, and RLIMIT_NPROC does not hold for root')
          : {
              enforced: true,
              mechanism: 'rlimit',
              scope: 'user',
              note: 'RLIMIT_NPROC: counts every process of the user, not of the tree',
            };
      } else if (TREE_RESOURCES.includes(key)) {
        const why = this.kind === 'linux' ? whyNoCgroupLimit(req.cgroupParent) : 'needs a cgroup (the linux backend)';
        out[key] = notEnforced(why);
      }
    }
    if (req.runAs) {
      out.runAs = {
        enforced: true,
        mechanism: 'setresuid',
        scope: 'process',
        note: 'real, effective and saved ids; no_new_privs',
      };
      out.groups = {
        enforced: true,
        mechanism: 'setgroups',
        scope: 'process',
        note: "exactly the user's groups (or the ones given)",
      };
    }
    if (req.killOnParentExit) {
      out.killOnParentExit = killOnParentExitEnforcement(
        { cgroup: cg !== null, pdeathsig: true },
        isLinux
          ? {
              enforced: false,
              mechanism: cg ? 'pdeathsig+exit-hook' : 'pdeathsig',
              scope: 'process',
              note:
                'the leader gets SIGKILL when the thread that started it dies; its descendants survive a SIGKILLed supervisor' +
                (cg ? ' (the cgroup is killed when the supervisor exits normally)' : ''),
            }
          : {
              enforced: false,
              mechanism: 'exit-hook',
              scope: 'tree',
              note: 'the tree is killed when the supervisor exits normally; macOS has no parent-death signal',
            },
      );
    }
    if (req.isolation) {
      const { isolationEnforcement, isolationSupport } = isolationLayer();
      Object.assign(out, isolationEnforcement(req.isolation, this.kind, isolationSupport, childOf(req.identity, req.runAs)));
    }
    out.closeFds = {
      enforced: true,
      mechanism: 'close_range',
      scope: 'process',
      note: 'every descriptor above stdio is closed before exec',
    };
    out.treeStop = cg
      ? {
          enforced: true,
          mechanism: cg.paths.unified !== undefined ? 'cgroup2' : 'cgroup1',
          scope: 'tree',
          note:
            cg.paths.unified === undefined
              ? 'freeze, kill every member, thaw'
              : `cgroup.kill (or freeze, kill, thaw)${cg.version === 1 ? ' in the v2 tree of this hybrid host' : ''}`,
        }
      : {
          enforced: false,
          mechanism: 'process-group',
          scope: 'tree',
          note:
            'signals go to the process group of the new session; a descendant that calls setsid() leaves it' +
            (isLinux ? ' and is found only while its parent lives (/proc children walk)' : ''),
        };
    return out;
  }

  launch(req: LaunchRequest): Tree {
    const addon = this.addon;
    const childFds: number[] = []; // ours to close after the spawn
    const parentEnds: (Readable | Writable | null)[] = [];
    const stdio: number[] = [];
    let cgroup: TaskCgroup | null = null;
    let placement: ReturnType<TaskCgroup['placement']> | null = null;
    let cloneInto = false; // the child born into its v2 cgroup by clone3 (placement())
    let statusRead = -1; // the init's status pipe, ours after the spawn
    let statusId: string | null = null; // its "dev:ino": read and closed only while it is that pipe
    let privateTmp: string | null = null; // filesystem.tmp on the Landlock path, removed with the tree
    let spawned: { pid: number; pidfd: number; errorFd: number } | null = null; // until a tree owns it
    // The spawn found `cgroup` gone (the error `why`): a spare removed behind the pool's back.
    // Once per spawn, a fresh cgroup of its kind takes its place; its placement, or null when
    // `cgroup` is no such spare (or already the replacement): the failure is then the caller's.
    const intoFreshCgroup = (why: unknown): ReturnType<TaskCgroup['placement']> | null => {
      const fresh = cgroup ? replaceGoneTaskCgroup(cgroup, req.killOnParentExit, why) : null;
      if (!fresh) return null;
      placement?.done();
      placement = null;
      cgroup = fresh;
      placement = cgroup.placement(cloneInto);
      return placement;
    };
    try {
      // One /dev/null for every output given 'ignore' (the child's dup3s make its own copies).
      let devNullOut = -1;
      for (let i = 0; i < req.stdio.length; i++) {
        const s = req.stdio[i];
        if (i > 0 && (s === 'ignore' || s === null || s === undefined)) {
          if (devNullOut < 0) {
            devNullOut = addon.openDevNull(fsConstants.O_WRONLY);
            childFds.push(devNullOut);
          }
          stdio.push(devNullOut);
          parentEnds.push(null);
          continue;
        }
        const { child, parent } = stdioFd(addon, s, i);
        stdio.push(child.fd);
        if (child.owned) childFds.push(child.fd);
        parentEnds.push(parent);
      }
      const parent = this.cgroupParentOf(req.cgroupParent);
      if (parent) {
        cgroup = takeTaskCgroup(parent, req.resources, req.killOnParentExit);
        // Pure v2: born into its cgroup (clone3 CLONE_INTO_CGROUP) where the kernel can. Else
        // the child joins every directory itself, before exec and before it drops privileges;
        // on a hybrid host that is also the cheaper way into the v2 tree: measured here,
        // CLONE_INTO_CGROUP into a fresh cgroup added ~0.37 ms to a spawn, the child's own
        // write to its cgroup.procs ~0.06 ms. Into a reused v2 directory on a hybrid host it
        // would be cheaper still, but there it is wrong: the child shows the directory in
        // /proc/<pid>/cgroup and is missing from its cgroup.procs (kernel 6.18, seen on every
        // reuse), so membership, populated and cgroup.kill would not see it.
        // A reused directory's fds are held open across its trees (TaskCgroup.placement()).
        cloneInto = cgroup.version === 2 && cloneIntoCgroup(addon);
      }
      const rlimits = rlimitsOf(req.resources);
      // Without a pids cgroup, maxProcesses falls back to RLIMIT_NPROC (per user).
      if (req.resources.maxProcesses !== undefined && !cgroup?.controllers.includes('pids'))
        rlimits.push(['nproc', req.resources.maxProcesses]);
      const id = req.identity;
      const changesUser = id !== null && id.uid !== process.getuid?.();
      // isolate(): what the plan says is enforced, as the addon's request. A private pid
      // namespace gets the init as pid 1 and a pipe for the program's own wait status.
      let isolation = null;
      let guards: GuardRequest | null = null;
      let prepared: PosixPreparedRequest | null = null; // isolation and guards, read once by the addon
      const fds = { initFd: -1, statusFd: -1 };
      let env = req.env;
      if (req.isolation) {
        const { isolationEnforcement, isolationSupport, nativeIsolationRequest, openInit, preparedRequest } = isolationLayer();
        const { isolationMode, nativeGuardRequest, supportUnder } = guardsLayer();
        const mode = isolationMode(true);
        const support = isolationSupport();
        const child = childOf(id, id !== null);
        const enforced = isolationEnforcement(req.isolation.spec, this.kind, () => support, child, mode);
        if (enforced.processes?.mechanism === 'pid-namespace') {
          const [r, w] = addon.pipe();
          statusRead = r;
          statusId = addon.fdIdentity?.([r])[0] ?? null;
          childFds.push(w);
          fds.initFd = openInit();
          fds.statusFd = w;
        }
        isolation = nativeIsolationRequest(req.isolation.spec, enforced, req.isolation.view, support, NO_FDS, child.childIsRoot);
        // The kernel guards: capabilities, Landlock (where namespaces are not allowed), the filter.
        guards = nativeGuardRequest(req.isolation.spec, enforced, req.isolation.view, supportUnder(support, mode), {
          ...child,
          uid: id ? id.uid : (process.getuid?.() ?? null),
          gid: id ? id.gid : (process.getgid?.() ?? null),
          initPath: fds.initFd >= 0 ? support.init.path : null,
        });
        privateTmp = guards.privateTmp;
        if (privateTmp) env = { ...env, TMPDIR: privateTmp };
        // The same for every start of a spec: read once (prepared.ts). Not a tree's own tmp (its rule is this spawn's).
        const { capabilities, seccomp, landlock } = guards;
        if (!privateTmp) prepared = preparedRequest(addon, { isolation, capabilities, seccomp, landlock });
        if (!prepared && isolation) isolation = { ...isolation, ...fds };
      }
      // The cgroup's fds (placement() checks that held ones are still its files) right before the
      // request, so that no user code (a monkeypatched process.getuid above) runs between that
      // check and the spawn.
      if (cgroup) {
        try {
          placement = cgroup.placement(cloneInto);
        } catch (e) {
          // A spare whose files are not held yet, removed behind the pool's back: ENOENT.
          if (!(e instanceof SystemError && e.errno === 'ENOENT' && intoFreshCgroup(e))) throw e;
        }
      }
      const request: PosixSpawnRequest = {
        file: req.file,
        argv: req.argv,
        envp: envBlock(env),
        cwd: req.cwd,
        uid: id ? id.uid : -1,
        gid: id ? id.gid : -1,
        // A user namespace of the child's own denies setgroups: it keeps the supervisor's groups.
        groups: id && !isolation?.user ? id.groups : null,
        rlimits,
        stdio,
        setsid: true,
        noNewPrivs: changesUser || guards?.noNewPrivs === true,
        capabilities: prepared ? null : (guards?.capabilities ?? null),
        seccomp: prepared ? null : (guards?.seccomp ?? null),
        landlock: prepared ? null : (guards?.landlock ?? null),
        pdeathsig: req.killOnParentExit && isLinux ? SIGKILL : 0,
        resetOomScoreAdj: true,
        cgroupFd: placement?.cgroupFd ?? -1,
        cgroupProcsFds: placement?.cgroupProcsFds ?? [],
        isolation: prepared ? null : isolation,
        prepared,
        initFd: fds.initFd,
        statusFd: fds.statusFd,
        // The init path: back once the init runs; the program's exec is learnt on the loop.
        startAsync: statusRead >= 0,
      };
      try {
        spawned = addon.spawn(request);
      } catch (e) {
        // A spare removed behind the pool's back, its files held: the child's join write fails
        // with ENODEV (the addon reaped that child), clone3's CLONE_INTO_CGROUP with ENODEV (6.18)
        // or ENOENT (older kernels: the pure-v2 VM's). Once, into a fresh cgroup: the caller never
        // sees that race.
        const err = e as AddonError | null;
        const gone =
          err?.code === 'ERR_CONFINE_SPAWN' && err.stage === 'cgroup' && (err.errno === 'ENODEV' || err.errno === 'ENOENT');
        const fresh = gone ? intoFreshCgroup(e) : null;
        if (!fresh) throw e;
        spawned = addon.spawn({ ...request, cgroupFd: fresh.cgroupFd, cgroupProcsFds: fresh.cgroupProcsFds });
      }
      const { pid, pidfd, errorFd } = spawned;
      const tree = new NativeTree(
        addon,
        this.kind,
        pid,
        pidfd,
        parentEnds,
        cgroup,
        req.killOnParentExit,
        parent,
        statusRead,
        privateTmp,
        errorFd,
        req.file,
        statusId,
      );
      statusRead = -1;
      spawned = null;
      return tree;
    } catch (e) {
      // A failure after the spawn (the exit watch refused: no fd for its copy of the pidfd, the
      // loop refusing that fd): the child runs, and nothing could ever reap or stop it.
      const afterSpawn = spawned !== null;
      if (spawned) cgroup = abandonChild(addon, spawned, cgroup);
      for (const p of parentEnds) p?.destroy();
      if (privateTmp) guardsLayer().removePrivateTmp(privateTmp);
      if (statusRead >= 0) addon.close(statusRead);
      // Nothing was placed in it: its rmdir succeeds synchronously (remove() starts that way).
      if (cgroup) cgroup.remove().catch(() => {});
      throw toTypedError(e, req.file, afterSpawn);
    } finally {
      for (const fd of childFds) addon.close(fd);
      placement?.done();
    }
  }

  async attach(data: HandleData): Promise<Tree> {
    const paths = (data.extra?.cgroup ?? null) as Record<string, string> | null;
    const version = data.extra?.cgroupVersion === 1 || data.extra?.cgroupVersion === 2 ? data.extra.cgroupVersion : undefined;
    const cgroup = paths ? TaskCgroup.adopt(paths, version) : null;
    return new AttachedNativeTree(data, cgroup);
  }
}

/** Whether the child runs as uid 0 on the host (before start(), a runAs not yet resolved is not). */
function childOf(identity: Identity | null, runAs: boolean): GuardContext {
  if (identity) return { childIsRoot: identity.uid === 0, childUid: identity.uid };
  if (runAs) return { childIsRoot: false, childUid: null };
  return { childIsRoot: isRoot(), childUid: process.getuid?.() ?? null };
}

/** Failed removals of an emptied cgroup tried again (once a second) before release() gives up. */
const MAX_RELEASE_FAILURES = 60;

/** Whether clone3 can place the child into a v2 cgroup (kernel 5.7+); probed once. */
let intoCgroup: boolean | undefined;
function cloneIntoCgroup(addon: PosixAddon): boolean {
  intoCgroup ??= addon.probe().features?.cloneIntoCgroup === true;
  return intoCgroup;
}

/** The child's end (and our end) of one stdio entry. */
function stdioFd(
  addon: PosixAddon,
  s: StdioValue,
  i: number,
): { child: { fd: number; owned: boolean }; parent: Readable | Writable | null } {
  if (s === 'pipe') {
    // Loaded here, not above: a run without pipes (the command line's) needs no node:net.
    const { Socket } = require('node:net') as typeof import('node:net');
    const [r, w] = addon.pipe();
    // fd 0 (and only it) is written by us; the others are read, from when the tree's start
    // settles (NativeTree's startReading(): manualStart keeps net.Socket from reading at once).
    if (i === 0) return { child: { fd: r, owned: true }, parent: new Socket({ fd: w, readable: false, writable: true }) };
    const options = { fd: r, readable: true, writable: false, manualStart: true };
    return { child: { fd: w, owned: true }, parent: new Socket(options) };
  }
  if (s === 'inherit') return { child: { fd: i, owned: false }, parent: null };
  if (s === 'ignore' || s === null || s === undefined) {
    return {
      child: { fd: addon.openDevNull(i === 0 ? fsConstants.O_RDONLY : fsConstants.O_WRONLY), owned: true },
      parent: null,
    };
  }
  if (typeof s === 'number') return { child: { fd: s, owned: false }, parent: null };
  const fd = streamFd(s);
  if (fd === null)
    throw new ConfineArgumentError(`stdio[${i}]: the stream has no file descriptor (open it first, or use 'pipe')`);
  return { child: { fd, owned: false }, parent: null };
}

/**
 * A child spawned but not taken by a tree: killed (its cgroup, or by pidfd and process group),
 * its fds closed, reaped by a waiter thread (no fd needed: the fd table may be what failed), and
 * its cgroup removed once it is gone. Returns null: the caller no longer owns the cgroup.
 */
function abandonChild(
  addon: PosixAddon,
  child: { pid: number; pidfd: number; errorFd: number },
  cgroup: TaskCgroup | null,
): null {
  try {
    cgroup?.signalAll(SIGKILL);
  } catch {
    /* the leader's own kill below */
  }
  addon.signal(child.pid, child.pidfd, SIGKILL);
  addon.killGroup(child.pid, SIGKILL);
  if (child.pidfd >= 0) addon.close(child.pidfd);
  if (child.errorFd >= 0) addon.close(child.errorFd);
  const removeCgroup = () => void cgroup?.remove().catch(() => {});
  try {
    addon.watch(child.pid, -1, removeCgroup, cgroup?.dirs); // the directories also for a worker that ends first
  } catch {
    removeCgroup(); // no thread either: a zombie until the supervisor exits; the cgroup is tried
  }
  return null;
}

/** The addon throws plain Errors carrying stage/errno/syscall; give them their class. */
function toTypedError(e: unknown, file: string, afterSpawn = false): unknown {
  if (e instanceof ConfineError) return e;
  const err = e as AddonError | null;
  if (err?.code === 'ERR_CONFINE_SYSTEM') {
    // In the supervisor: before the spawn (a pipe, /dev/null), or after it (its watch: killed then).
    return new SystemError(`cannot start ${file}: ${err.message}${afterSpawn ? ' (the child was killed)' : ''}`, {
      stage: afterSpawn ? 'watch' : null,
      errno: err.errno ?? null,
      syscall: err.syscall ?? null,
      path: file,
      cause: e,
    });
  }
  if (err?.code === 'ERR_CONFINE_SPAWN') {
    return new SpawnError(
      `cannot start ${file}: ${err.stage ?? 'spawn'} failed: ${err.errno ?? ''}${err.message ? ` (${err.message})` : ''}`,
      {
        stage: err.stage ?? null,
        errno: err.errno ?? null,
        syscall: err.syscall ?? null,
        path: file,
        cause: e,
      },
    );
  }
  return e;
}

/**
 * Trees whose cgroup is not released yet. The process-exit hook removes each one that is empty
 * by then, as the last resort: a supervisor that ends right after a child has exited (process.exit()
 * in an 'exit' handler, a throw in a stdout 'end' handler that came before the exit was even
 * seen) leaves nothing behind. A tree still running keeps its cgroup: it has members.
 */
const unreleased = new Set<NativeTree>();
function releaseUnreleased(): void {
  // One budget for all: a tree whose leader exited may have members on their way out.
  const deadline = Date.now() + 1000;
  for (const t of unreleased) t.releaseNow({ waitMs: Math.max(0, deadline - Date.now()) });
}
/**
 * Registers `tree` for the exit hook, and puts the hook after every 'exit' listener added so far:
 * called again when a release has to wait (descendants still in the cgroup), so that a
 * supervisor's own exit handler that stops them (a kill of a grandchild it knows) runs first.
 */
function releaseAtExit(tree: NativeTree): void {
  unreleased.add(tree);
  // Last already (no listener added since the previous tree): left in place. Moving it costs
  // more than the look (a removeListener and an on(), each emitting its own event).
  const listeners = process.listeners('exit');
  if (listeners[listeners.length - 1] === releaseUnreleased) return;
  process.removeListener('exit', releaseUnreleased);
  process.on('exit', releaseUnreleased);
}

class NativeTree implements Tree {
  private handleText: string | null = null;
  /**
   * Settles once the program has exec'd or failed to. launch() throws a failure known when the
   * addon returns; on the init path the program's own exec comes later (errorFd).
   */
  readonly started: Promise<void>;
  private startPending = false;
  readonly stdio: (Readable | Writable | null)[];
  readonly exited: Promise<RawExit>;
  readonly closed: Promise<void>;
  private gone = false;
  private released = false;
  private releaseTimer: NodeJS.Timeout | null = null;
  private releaseFailures = 0;
  private peak: number | null = null;
  /** The cgroup's OOM count at the exit, read with the peak (exitPeak()); null before. */
  private oomAtExit: boolean | null = null;

  private readonly kind: 'linux' | 'posix';

  constructor(
    private readonly addon: PosixAddon,
    kind: 'linux' | 'posix',
    readonly pid: number,
    private pidfd: number,
    stdio: (Readable | Writable | null)[],
    private cgroup: TaskCgroup | null,
    private readonly killOnParentExit: boolean,
    /** The whole parent choice (the tree's cgroup may have joined fewer hierarchies: update()). */
    private readonly parent: ParentChoice | null,
    /**
     * processes: 'private': the read end of the init's status pipe (-1 without an init). The
     * leader is then confine-init, pid 1 of the tree's pid namespace; the program is its child.
     */
    private readonly initStatusFd = -1,
    /** filesystem.tmp on the Landlock path: the tree's own directory, removed once the tree is gone. */
    private privateTmp: string | null = null,
    /** The error pipe while the program's exec is still to come (-1: it has exec'd). */
    errorFd = -1,
    file = '',
    /** The status pipe's "dev:ino" when it was made (null: unknown, used unchecked). */
    private readonly initStatusId: string | null = null,
  ) {
    this.stdio = stdio;
    this.kind = kind;
    let resolve!: (exit: RawExit) => void;
    this.exited = new Promise((r) => {
      resolve = r;
    });
    // Outside the promise's executor: a watch refused must throw from here (launch() then ends
    // the child), not become a rejection of `exited` that nobody awaits while the child runs on.
    // The cgroup's directories go with the watch: should this worker thread end before the exit
    // (no JS of it runs again to release them), the addon removes them after the reap.
    addon.watch(
      pid,
      pidfd,
      (raw: PosixExit) => {
        this.gone = true;
        // The watcher polls its own copy; ours served signals and is done now, closed if the
        // watch found it still ours just before the reap (after it a pidfd names no process).
        if (this.pidfd >= 0 && raw.pidfdOurs !== false) addon.close(this.pidfd);
        this.pidfd = -1;
        // Output nobody reads yet is drained (so that 'close' follows); while the start is
        // pending the caller, who reads after start(), has not attached its readers: a turn after
        // it settles (as the universal backend's holdOutput()).
        if (this.startPending) {
          const later = () => void setImmediate(() => drainStdio(stdio));
          this.started.then(later, later);
        } else drainStdio(stdio);
        const st = this.programExit(raw);
        resolve({
          exitCode: st.signal ? null : st.exitCode,
          signal: signalName(st.signal),
          cpuUserMicros: st.userMicros,
          cpuSystemMicros: st.systemMicros,
          memoryPeakBytes: this.exitPeak(st.maxRssBytes),
        });
      },
      cgroup?.dirs,
    );
    this.closed = stdioClosed(stdio, this.exited);
    if (killOnParentExit) killAtExit(this);
    if (cgroup) releaseAtExit(this);
    if (errorFd < 0) {
      this.started = Promise.resolve();
      this.startReading();
    } else this.started = this.programStarted(errorFd, file);
  }

  /**
   * Our output pipes start reading when the start settles, not when they are made: until then
   * the caller, who reads after start(), has no listener on them. On the init path start()
   * settles on a later turn of the loop, and an output the program closed at once (an empty
   * stderr) would otherwise have reached its EOF, 'end' and 'close' before the caller could
   * listen (seen in CI under load: 'close' never came). Then, as child_process's streams, they
   * read into their buffers whether anyone listens or not. The caller's continuation after
   * start() runs before any I/O callback of the loop, so it sees every event.
   */
  private startReading(): void {
    for (let i = 1; i < this.stdio.length; i++) {
      const r = this.stdio[i] as Readable | null;
      if (r?.readable && !r.destroyed) r.read(0);
    }
  }

  /**
   * The init has exec'd; its program's exec is learnt from the error pipe on the loop. A failure
   * rejects once the tree is gone (the init exits after the program's record: reaped by the exit
   * watch, status pipe and pidfd closed) and its cgroup released, as a failure thrown by launch()
   * leaves nothing.
   */
  private programStarted(errorFd: number, file: string): Promise<void> {
    this.startPending = true;
    return new Promise<void>((resolve, reject) => {
      const failed = (e: unknown) => {
        const err = toTypedError(e, file, true);
        this.exited
          .then(() => this.release())
          .then(
            () => reject(err),
            () => reject(err),
          );
      };
      try {
        this.addon.watchStart(this.pid, errorFd, file, (e) => {
          if (e === null) {
            this.startReading();
            return resolve();
          }
          // ERR_CONFINE_SYSTEM: the pipe was taken from under the watch (user code closed both of
          // its fds), so the program's exec can no longer be known: no half-started tree.
          if (e.code === 'ERR_CONFINE_SYSTEM') this.killNow();
          failed(e);
        });
      } catch (e) {
        this.killNow(); // nothing can tell when the program runs: no half-started tree
        failed(e);
      }
    }).finally(() => {
      this.startPending = false;
    });
  }

  /**
   * With an init, how the program ended: the wait status the init wrote before it exited (an
   * int; it exits at once after, and the kernel has ended every other process of the namespace
   * before the init is reaped, so the pipe holds the record or is at EOF: the read never
   * blocks). No record: the init itself was killed (forceStop, OOM, pdeathsig): its own status
   * stands. Usage is the init's, which includes every process it reaped, the program first.
   */
  private programExit(raw: PosixExit): PosixExit {
    if (this.initStatusFd < 0) return raw;
    // User code that closed its number by mistake may have a file of its own there now: not
    // read (its bytes are not a wait status, nor ours to consume), not closed; no record.
    if (this.initStatusId !== null && this.addon.fdIdentity?.([this.initStatusFd])[0] !== this.initStatusId) return raw;
    const buf = Buffer.alloc(4);
    let n = 0;
    try {
      n = readSync(this.initStatusFd, buf, 0, 4, null);
    } catch {
      /* no record */
    }
    this.addon.close(this.initStatusFd);
    if (n !== 4) return raw;
    const status = buf.readInt32LE(0);
    const termSignal = status & 0x7f;
    return termSignal === 0
      ? { ...raw, exitCode: (status >> 8) & 0xff, signal: 0 }
      : { ...raw, exitCode: null, signal: termSignal };
  }

  /**
   * Made on first use (reading /proc/<pid>/stat costs more than the rest of a handle-less
   * start). Until we reap the child its pid cannot be reused, so the start time read then is
   * the child's own; after the exit the handle names no live process and can never verify.
   */
  get handle(): string {
    this.handleText ??= encodeHandle({
      kind: this.kind,
      pid: this.pid,
      startTime: this.gone ? 'exited' : processStartTime(this.pid),
      extra:
        this.cgroup || this.initStatusFd >= 0
          ? {
              ...(this.cgroup ? { cgroup: this.cgroup.paths, cgroupVersion: this.cgroup.version } : {}),
              ...(this.initStatusFd >= 0 ? { init: true } : {}),
            }
          : undefined,
    });
    return this.handleText;
  }

  /**
   * Peak memory at exit: the cgroup's own high-water mark. Without a cgroup, Linux's ru_maxrss
   * of a child started with CLONE_VM includes the supervisor's peak folded in at execve, so it
   * says nothing about the child: null there; elsewhere ru_maxrss.
   */
  private exitPeak(maxRssBytes: number): number | null {
    if (this.cgroup) {
      try {
        // The OOM count with it, in one read: the exit status asks for both right after.
        const at = this.cgroup.exitCounters();
        this.oomAtExit = at.oomKilled;
        return Math.max(at.memoryPeakBytes ?? 0, this.peak ?? 0) || null;
      } catch {
        return this.peak;
      }
    }
    return isLinux ? null : maxRssBytes;
  }

  signal(sig: number): boolean {
    if (this.gone) return false;
    return this.addon.signal(this.pid, this.ownPidfd(), sig) === null;
  }

  /**
   * The pidfd while it is still the one the spawn gave us; else -1, and forgotten (never closed):
   * user code that closed its number by mistake may have a file of its own there now. Without it
   * the pid serves: not reaped yet, it cannot name another process.
   */
  private ownPidfd(): number {
    if (this.pidfd >= 0 && this.addon.pidfdHeld?.(this.pid, this.pidfd) === false) this.pidfd = -1;
    return this.pidfd;
  }

  /**
   * The leader has exited or begun to (inside the kernel's exit, a zombie not reaped yet): seen by
   * the watch or not yet. Its stdout's EOF can come first (its files close during the exit).
   */
  private leaderExited(): boolean {
    return processExiting(this.pid);
  }

  ref(): void {
    if (!this.gone) this.addon.watchRef(this.pid, true);
  }

  unref(): void {
    if (!this.gone) this.addon.watchRef(this.pid, false);
  }

  signalTree(sig: number): void {
    // With an init, a signal it can catch goes through it, marked for the whole namespace: each
    // process gets it once (signalled directly too, the program would get it twice).
    if (this.initStatusFd >= 0 && sig !== SIGKILL && sig !== SIGSTOP) {
      if (!this.gone) this.addon.signalTree?.(this.pid, this.ownPidfd(), sig);
      return;
    }
    if (this.cgroup) {
      this.cgroup.signalAll(sig);
      return;
    }
    if (!this.gone) this.addon.killGroup(this.pid, sig);
  }

  /** Kill the tree synchronously, best effort (the exit hook, and each round of killTree()). */
  killNow(): void {
    if (this.cgroup) {
      try {
        this.cgroup.signalAll(SIGKILL);
      } catch {
        /* exiting anyway */
      }
      return;
    }
    if (!this.gone) {
      // The descendants are found through the leader, so list them while it lives; but kill the
      // leader first: a shell leader whose child was killed first could exit on its own in
      // between, and report an exit code instead of the SIGKILL it was sent.
      const others = descendants(this.pid);
      this.addon.signal(this.pid, this.ownPidfd(), SIGKILL);
      this.addon.killGroup(this.pid, SIGKILL);
      for (const p of others) this.addon.signal(p, -1, SIGKILL);
    }
  }

  async killTree(): Promise<void> {
    if (this.cgroup) {
      await this.cgroup.kill();
      await this.release();
      return;
    }
    for (let i = 0; i < 5 && !this.gone; i++) {
      this.killNow();
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  async stats(): Promise<Stats> {
    if (this.cgroup && this.released)
      return { memoryBytes: 0, memoryPeakBytes: this.peak, cpuUserMicros: null, cpuSystemMicros: null, processes: 0 };
    if (this.cgroup) {
      const s = this.cgroup.stats();
      if (s.memoryBytes === null) {
        // No memory controller for this tree (v1 without a memory limit): from /proc.
        const p = procStatsOf(this.cgroup.pids());
        s.memoryBytes = p.memoryBytes;
        s.memoryPeakBytes = Math.max(p.memoryPeakBytes ?? 0, this.peak ?? 0);
      }
      this.peak = Math.max(this.peak ?? 0, s.memoryPeakBytes ?? 0);
      return s;
    }
    if (this.gone)
      return { memoryBytes: 0, memoryPeakBytes: this.peak, cpuUserMicros: null, cpuSystemMicros: null, processes: 0 };
    return procStatsOf([this.pid, ...descendants(this.pid)]);
  }

  async update(resources: Resources): Promise<EnforcedMap> {
    return updateNativeTree(this.cgroup, this.parent, resources, {
      // Guarded before any process is moved: a supervisor killed meanwhile leaves nothing.
      beforeMove: this.killOnParentExit ? (paths) => guardCgroup(paths) : undefined,
      extended: (cg) => {
        this.handleText = null; // the handle names the new directories too
        if (!this.gone) this.addon.watchCgroup?.(this.pid, cg.dirs); // for a worker's end (launch())
      },
    });
  }

  oomKilled(): boolean {
    // At the exit: as read with the peak, before the release can hand the cgroup on.
    if (this.oomAtExit !== null) return this.oomAtExit;
    return this.cgroup?.oomKilled() ?? false;
  }

  /** The tree is gone: its private tmp goes too. */
  private removeTmp(): void {
    if (this.privateTmp === null) return;
    const dir = this.privateTmp;
    this.privateTmp = null;
    try {
      guardsLayer().removePrivateTmp(dir);
    } catch {
      /* best effort: named in docs/isolation.md */
    }
  }

  /**
   * What release() can do without waiting: the cgroup back to the pool (kept as a spare) or
   * removed, and the private tmp with it. True when nothing is left to release. At exit
   * (`waitMs`) the pool is not asked: its own exit hook may have drained already.
   */
  releaseNow(opts: { waitMs?: number } = {}): boolean {
    // Without a cgroup the leader's exit is all we can know of the tree.
    if (!this.cgroup || this.released) {
      this.removeTmp();
      return true;
    }
    if (opts.waitMs === undefined && !this.killOnParentExit && taskCgroupPool.giveBack(this.cgroup)) {
      this.cgroup = null;
    } else if (!this.cgroup.removeNowIfEmpty({ ...opts, whileMembers: this.gone || this.leaderExited() })) {
      // A tree whose leader is gone may still have descendants on their way out (killed by an
      // exit handler of the supervisor that ran before this one): they get the moment too.
      return false;
    }
    this.released = true;
    unreleased.delete(this);
    this.removeTmp();
    return true;
  }

  async release(): Promise<void> {
    forgetAtExit(this);
    // Reused by the next tree of its kind when it can be (the watchdog may still list a guarded
    // one: those are removed). From then on this tree has no cgroup: it is gone.
    if (this.releaseNow()) return;
    releaseAtExit(this);
    let removed = false;
    try {
      removed = await this.cgroup!.removeIfEmpty();
    } catch (e) {
      // Still EBUSY past remove()'s deadline with no member listed: the kernel had not let go of
      // the last exited task yet (seen at load 9 on 2 cores). Tried again below, as for a tree
      // with members; only a failure that outlasts every retry is the caller's.
      if (++this.releaseFailures >= MAX_RELEASE_FAILURES) throw e;
    }
    if (removed) {
      this.released = true;
      unreleased.delete(this);
      this.removeTmp();
      return;
    }
    // A leader that exited can leave descendants running: the cgroup stays until they are gone
    // (forceStop, or their own exit, looked for once a second).
    if (this.releaseTimer) return;
    this.releaseTimer = setTimeout(() => {
      this.releaseTimer = null;
      this.release().catch(() => {});
    }, 1000);
    this.releaseTimer.unref();
  }
}

/**
 * update() of a native tree: the cgroup limits among `resources` go to its cgroup (see
 * updateTreeCgroup() in lib/cgroup/wiring.ts for the hooks). rlimits cannot change after exec:
 * those, and limits without a cgroup, come back not enforced, saying why.
 */
async function updateNativeTree(
  cgroup: TaskCgroup | null,
  parent: ParentChoice | null,
  resources: Resources,
  hooks: Parameters<typeof updateTreeCgroup>[3] = {},
): Promise<EnforcedMap> {
  const out: EnforcedMap = cgroup ? await updateTreeCgroup(cgroup, parent, resources, hooks) : {};
  for (const k of Object.keys(resources) as (keyof Resources)[]) {
    out[k] ??= notEnforced(
      RLIMIT_RESOURCES[k]
        ? 'rlimits are fixed at exec: they cannot change in a running process'
        : cgroup
          ? "not available in this tree's cgroup (the controller is not available under the cgroup parent)"
          : 'no cgroup holds this tree',
    );
  }
  return out;
}

/** A tree of ours found again by handle: a pidfd-less view with its cgroup, if it had one. */
class AttachedNativeTree extends AttachedTree {
  constructor(
    private readonly attachedData: HandleData,
    private readonly cgroup: TaskCgroup | null,
  ) {
    super(attachedData);
  }
  override signalTree(sig: number): void {
    // A tree with an init: through it, as NativeTree.signalTree does (identity checked by start time).
    if (this.attachedData.extra?.init === true && sig !== SIGKILL && sig !== SIGSTOP && this.signal(0)) {
      posixAddon()?.signalTree?.(this.pid, -1, sig);
      return;
    }
    if (this.cgroup) this.cgroup.signalAll(sig);
    else super.signalTree(sig);
  }
  override async killTree(): Promise<void> {
    if (this.cgroup) {
      await this.cgroup.kill();
      await this.cgroup.remove();
    } else await super.killTree();
  }
  override async stats(): Promise<Stats> {
    return this.cgroup ? this.cgroup.stats() : super.stats();
  }
  override async update(resources: Resources): Promise<EnforcedMap> {
    return updateNativeTree(this.cgroup, this.cgroup ? parentOfAdopted(this.cgroup) : null, resources, {
      extended: (cg) => {
        // The handle names the new directories too.
        this.handle = encodeHandle({
          ...this.attachedData,
          extra: { ...this.attachedData.extra, cgroup: { ...cg.paths }, cgroupVersion: cg.version },
        });
      },
    });
  }
  override oomKilled(): boolean {
    return this.cgroup?.oomKilled() ?? false;
  }
  override async release(): Promise<void> {
    await super.release();
    if (this.cgroup) await this.cgroup.removeIfEmpty().catch(() => false);
  }
}
