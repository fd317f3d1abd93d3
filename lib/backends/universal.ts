// The pure-JS backend: child_process underneath, anywhere Node runs. It enforces what
// child_process and a POSIX shell can: uid/gid (libuv drops every supplementary group), a new
// session so the process group can be signalled as a whole, and the per-process rlimits through
// the shell's `ulimit` builtin before the program is exec'd. Everything else is reported as not
// enforced, per limit.
//
// When rlimits are asked for, the child is born as `/bin/sh -c SCRIPT`: the script sets the
// limits, reports any failure on fd 3 (a socket to us) and execs the program. fd 3 reaching EOF
// without a message means the program was exec'd, the same contract as the native error pipe.

import { spawn, execFile, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import type { Readable, Writable } from 'node:stream';
import { SpawnError, fromNodeError, SystemError } from '../errors.js';
import { descendants, pidExists, processStartTime } from '../proc.js';
import { RLIMIT_RESOURCES } from '../rlimits.js';
import type { EnforcedMap, Enforcement, Resources, Stats, StdioValue } from '../types.js';
import {
  encodeHandle,
  type Backend,
  type HandleData,
  type LaunchRequest,
  type PlanRequest,
  type RawExit,
  type Tree,
} from './backend.js';
import { killOnParentExitEnforcement } from '../lifecycle/watchdog.js';

const isWindows = process.platform === 'win32';
const isLinux = process.platform === 'linux';
const CLK_TCK = 100; // USER_HZ: 100 on every Linux architecture Node supports.

const NOT_ENFORCED = (note: string): Enforcement => ({ enforced: false, mechanism: 'none', scope: 'none', note });

const TREE_RESOURCES: (keyof Resources)[] = ['memoryBytes', 'memorySwapBytes', 'cpu', 'cpuWeight', 'cpus', 'maxProcesses'];

/** How the pure-JS backend stops a tree, for `enforced.treeStop` and capabilities(). */
function treeStopEnforcement(): Enforcement {
  if (isWindows) {
    return {
      enforced: false,
      mechanism: 'taskkill',
      scope: 'tree',
      note: 'taskkill /T walks parent links; a process whose parent has exited is missed',
    };
  }
  return {
    enforced: false,
    mechanism: 'process-group',
    scope: 'tree',
    note:
      'signals go to the process group of the new session; a descendant that calls setsid() or ' +
      'setpgid() leaves it' +
      (isLinux ? ' and is found only while its parent lives (/proc children walk)' : ''),
  };
}

export class UniversalBackend implements Backend {
  readonly kind = 'universal' as const;

  unavailable(): string | null {
    return null;
  }

  plan(req: PlanRequest): EnforcedMap {
    const out: EnforcedMap = {};
    for (const key of Object.keys(req.resources) as (keyof Resources)[]) {
      const rule = RLIMIT_RESOURCES[key];
      if (TREE_RESOURCES.includes(key)) {
        out[key] = NOT_ENFORCED(
          key === 'maxProcesses'
            ? 'needs a cgroup (linux backend) or RLIMIT_NPROC (native backends); the pure-JS backend has neither'
            : 'needs a cgroup or a Job Object (the linux or windows backend)',
        );
      } else if (rule && !isWindows) {
        out[key] = req.customArgv0
          ? NOT_ENFORCED('set through /bin/sh ulimit, which cannot keep a custom argv0')
          : {
              enforced: true,
              mechanism: 'ulimit',
              scope: 'process',
              note: `/bin/sh ulimit ${rule.ulimitFlag} before exec, soft and hard${rule.ulimitUnit > 1 ? `, rounded down to ${rule.ulimitUnit}-byte units` : ''}`,
            };
      } else {
        out[key] = NOT_ENFORCED(isWindows ? 'Windows needs the native Job Object backend' : 'no mechanism');
      }
    }
    if (req.runAs) {
      out.runAs = isWindows
        ? NOT_ENFORCED('child_process cannot change the user on Windows')
        : { enforced: true, mechanism: 'uid', scope: 'process', note: 'setgid/setuid by child_process (libuv)' };
      const id = req.identity;
      const onlyPrimary = id ? id.groups.every((g) => g === id.gid) : true;
      out.groups = {
        enforced: !isWindows && onlyPrimary,
        mechanism: isWindows ? 'none' : 'setgroups(0)',
        scope: 'process',
        note: "child_process drops all supplementary groups (setgroups(0, NULL)): the user's other groups are not set",
      };
    }
    if (req.killOnParentExit) {
      out.killOnParentExit = killOnParentExitEnforcement(
        { cgroup: false, pdeathsig: false },
        {
          enforced: false,
          mechanism: 'exit-hook',
          scope: 'tree',
          note: 'the tree is killed when the supervisor exits normally; a SIGKILLed supervisor leaves it running (needs the native addon)',
        },
      );
    }
    out.treeStop = treeStopEnforcement();
    out.closeFds = {
      enforced: false,
      mechanism: 'none',
      scope: 'process',
      note: 'child_process (libuv) passes on every descriptor the supervisor opened without O_CLOEXEC (Node opens its own with it; native addons and inherited ones may not)',
    };
    return out;
  }

  async launch(req: LaunchRequest): Promise<Tree> {
    const rlimits =
      isWindows || req.customArgv0
        ? []
        : Object.entries(RLIMIT_RESOURCES).filter(([k]) => req.resources[k as keyof Resources] !== undefined);
    const handshake = rlimits.length > 0;
    const wrapperToken = `confine-wrapper-${randomBytes(6).toString('hex')}`;
    let file = req.file;
    let args = req.argv.slice(1);
    const stdio: StdioValue[] = req.stdio.map((s) => s ?? 'ignore');
    if (handshake) {
      const lines: string[] = [];
      let nofile = '';
      for (const [key, rule] of rlimits) {
        const value = Math.floor((req.resources[key as keyof Resources] as number) / rule!.ulimitUnit);
        // Under a small open-files limit the shell cannot redirect at all (it saves fds above
        // 10 first): that limit comes last, after fd 3 is closed, so a failure there can only
        // show as exit status 127 with the shell's message, and start() waits for the exec.
        if (rule!.rlimit === 'nofile') nofile = `ulimit -n ${value} || exit 127`;
        else lines.push(`ulimit ${rule!.ulimitFlag} ${value} 2>/dev/null || { echo "rlimit ${rule!.rlimit}" >&3; exit 127; }`);
      }
      lines.push('exec 3>&-');
      // A token that names this wrapper in /proc/<pid>/cmdline until the exec replaces it.
      if (nofile) lines.push(`${nofile} # ${wrapperToken}`);
      lines.push('exec "$0" "$@"');
      file = '/bin/sh';
      args = ['-c', lines.join('\n'), req.file, ...args];
      while (stdio.length < 3) stdio.push('ignore');
      stdio[3] = 'pipe';
    }
    const opts: SpawnOptions = {
      cwd: req.cwd,
      env: req.env,
      argv0: handshake ? 'sh' : req.argv[0]!,
      stdio: stdio as SpawnOptions['stdio'],
      detached: !isWindows,
      windowsHide: true,
    };
    if (req.identity) {
      opts.uid = req.identity.uid;
      opts.gid = req.identity.gid;
    }
    let child: ChildProcess;
    try {
      child = spawn(file, args, opts);
    } catch (e) {
      throw fromNodeError(e, 'spawn', `cannot start ${req.file}`);
    }
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve);
      child.once('error', (e) => reject(fromNodeError(e, 'execve', `cannot start ${req.file}`)));
    });
    // Without a handshake the exit watcher must be in place at once.
    const tree = new UniversalTree(
      child,
      { kind: 'universal', pid: child.pid!, startTime: processStartTime(child.pid!) },
      req.killOnParentExit,
    );
    if (handshake) {
      const message = await readAll(child.stdio[3] as Readable);
      if (message) {
        await tree.exited;
        const [stage, what] = message.trim().split(' ');
        throw new SpawnError(
          `cannot set ${what} limit for ${req.file}: the shell's ulimit failed (raising a hard limit needs privilege)`,
          {
            stage: stage ?? 'rlimit',
            syscall: 'setrlimit',
            errno: 'EPERM',
          },
        );
      }
      if (rlimits.some(([, r]) => r!.rlimit === 'nofile')) await execDone(tree.pid, tree.exited, wrapperToken);
    }
    return tree;
  }

  async attach(data: HandleData): Promise<Tree> {
    return new AttachedTree(data);
  }
}

/**
 * Resolves once the wrapper shell has exec'd the program (its command line no longer holds the
 * wrapper's script), or has exited. Linux reads /proc; elsewhere the exec follows within the
 * shell's next few instructions and is not awaited.
 */
async function execDone(pid: number, exited: Promise<unknown>, token: string): Promise<void> {
  if (!isLinux) return;
  let over = false;
  void exited.then(() => (over = true));
  for (let i = 0; i < 2000 && !over; i++) {
    let cmdline: string;
    try {
      cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    } catch {
      return;
    }
    if (!cmdline.includes(token)) return;
    await new Promise((r) => setTimeout(r, 1));
  }
}

function readAll(stream: Readable): Promise<string> {
  return new Promise((resolve) => {
    let text = '';
    stream.setEncoding('utf8');
    stream.on('data', (d: string) => (text += d));
    stream.once('end', () => resolve(text));
    stream.once('close', () => resolve(text));
    stream.once('error', () => resolve(text));
  });
}

/** Killing the trees of the exit hook: only those asked for with killOnParentExit. */
const exitHookTrees = new Set<{ killNow(): void }>();
let exitHookInstalled = false;
function registerExitHook(tree: { killNow(): void }): void {
  exitHookTrees.add(tree);
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once('exit', () => {
      for (const t of exitHookTrees) t.killNow();
    });
  }
}

/** Linux: usage of a set of processes from /proc. */
export function procStatsOf(pids: number[]): Stats {
  let rss = 0;
  let peak = 0;
  let utime = 0;
  let stime = 0;
  let n = 0;
  for (const pid of pids) {
    try {
      const status = readFileSync(`/proc/${pid}/status`, 'utf8');
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (f[0] === 'Z') continue;
      utime += Number(f[11]);
      stime += Number(f[12]);
      const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? 0) * 1024;
      rss += kb('VmRSS');
      peak = Math.max(peak, kb('VmHWM'));
      n++;
    } catch {
      /* exited meanwhile */
    }
  }
  return {
    memoryBytes: rss,
    memoryPeakBytes: peak,
    cpuUserMicros: (utime * 1e6) / CLK_TCK,
    cpuSystemMicros: (stime * 1e6) / CLK_TCK,
    processes: n,
  };
}

const NULL_STATS: Stats = {
  memoryBytes: null,
  memoryPeakBytes: null,
  cpuUserMicros: null,
  cpuSystemMicros: null,
  processes: null,
};

/** Usage of a tree without a cgroup: the leader and the descendants /proc still links to it. */
function treeStats(pid: number, gone: boolean): Stats {
  if (!isLinux || gone) return { ...NULL_STATS, processes: gone ? 0 : null };
  return procStatsOf([pid, ...descendants(pid)]);
}

/** The pure-JS backend has no mechanism that could change a running tree's limits. */
function notUpdatable(resources: Resources): EnforcedMap {
  const out: EnforcedMap = {};
  for (const k of Object.keys(resources) as (keyof Resources)[])
    out[k] = NOT_ENFORCED('the pure-JS backend cannot change limits of a running tree');
  return out;
}

/** A tree whose leader is our own ChildProcess. */
class UniversalTree implements Tree {
  readonly pid: number;
  readonly stdio: (Readable | Writable | null)[];
  readonly handle: string;
  readonly exited: Promise<RawExit>;
  readonly closed: Promise<void>;
  private gone = false;

  constructor(
    private readonly child: ChildProcess,
    data: HandleData,
    killOnParentExit: boolean,
  ) {
    this.pid = child.pid!;
    this.stdio = [child.stdin, child.stdout, child.stderr];
    this.handle = encodeHandle(data);
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.gone = true;
        resolve({ exitCode: code, signal: signal ?? null, cpuUserMicros: null, cpuSystemMicros: null, memoryPeakBytes: null });
      });
    });
    this.closed = new Promise((resolve) => child.once('close', () => resolve()));
    // Errors after spawn (a failed kill) are reported by the calls that cause them.
    child.on('error', () => {});
    if (killOnParentExit) registerExitHook(this);
  }

  signal(sig: number): boolean {
    if (this.gone) return false;
    try {
      return this.child.kill(sig);
    } catch {
      return false;
    }
  }

  signalTree(sig: number): void {
    if (isWindows) {
      this.signal(sig);
      return;
    }
    try {
      process.kill(-this.pid, sig);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ESRCH')
        throw new SystemError(`cannot signal process group ${this.pid}`, {
          syscall: 'kill',
          errno: (e as NodeJS.ErrnoException).code ?? null,
        });
    }
  }

  killNow(): void {
    if (isWindows) {
      this.signal(9);
      return;
    }
    const kids = this.gone ? [] : descendants(this.pid);
    try {
      process.kill(-this.pid, 'SIGKILL');
    } catch {
      /* group empty */
    }
    for (const p of kids) {
      try {
        process.kill(p, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
  }

  async killTree(): Promise<void> {
    if (isWindows) {
      await new Promise<void>((resolve) => execFile('taskkill', ['/T', '/F', '/PID', String(this.pid)], () => resolve()));
      return;
    }
    // Repeat: a process can fork between our walk and our signal.
    for (let i = 0; i < 5; i++) {
      this.killNow();
      if (this.gone || !pidExists(this.pid)) break;
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  async stats(): Promise<Stats> {
    return treeStats(this.pid, this.gone);
  }

  async update(resources: Resources): Promise<EnforcedMap> {
    return notUpdatable(resources);
  }

  oomKilled(): boolean {
    return false;
  }

  async release(): Promise<void> {
    exitHookTrees.delete(this);
  }
}

/**
 * A process that is not our child: attached by openPid(). Its exit is seen by polling (the
 * pure-JS backend has no pidfd), its identity re-checked by start time before every signal.
 */
export class AttachedTree implements Tree {
  readonly pid: number;
  readonly stdio: (Readable | Writable | null)[] = [null, null, null];
  /** Re-encoded by a subclass when what it names grows (AttachedNativeTree after update()). */
  handle: string;
  readonly exited: Promise<RawExit>;
  readonly closed: Promise<void>;
  private gone = false;
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly data: HandleData) {
    this.pid = data.pid;
    this.handle = encodeHandle(data);
    this.exited = new Promise((resolve) => {
      const check = () => {
        if (!this.alive()) {
          this.gone = true;
          resolve({ exitCode: null, signal: null, cpuUserMicros: null, cpuSystemMicros: null, memoryPeakBytes: null });
          return;
        }
        this.timer = setTimeout(check, 100);
      };
      check();
    });
    this.closed = this.exited.then(() => undefined);
  }

  /** The pid still names the process we attached to. */
  private alive(): boolean {
    if (!pidExists(this.pid)) return false;
    const st = processStartTime(this.pid);
    if (this.data.startTime !== null && st !== this.data.startTime) return false;
    // A zombie that is not our child: it has exited; its parent will reap it.
    try {
      if (isLinux && readFileSync(`/proc/${this.pid}/stat`, 'utf8').split(') ')[1]?.startsWith('Z')) return false;
    } catch {
      return false;
    }
    return true;
  }

  signal(sig: number): boolean {
    if (this.gone || !this.alive()) return false;
    try {
      process.kill(this.pid, sig);
      return true;
    } catch {
      return false;
    }
  }

  private isGroupLeader(): boolean {
    if (!isLinux) return false;
    try {
      const stat = readFileSync(`/proc/${this.pid}/stat`, 'utf8');
      return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]) === this.pid;
    } catch {
      return false;
    }
  }

  signalTree(sig: number): void {
    if (this.gone || !this.alive()) return;
    if (this.isGroupLeader()) {
      try {
        process.kill(-this.pid, sig);
        return;
      } catch {
        /* fall through to the leader */
      }
    }
    this.signal(sig);
  }

  async killTree(): Promise<void> {
    if (this.gone || !this.alive()) return;
    const kids = descendants(this.pid);
    this.signalTree(9);
    for (const p of kids) {
      try {
        process.kill(p, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
  }

  async stats(): Promise<Stats> {
    return treeStats(this.pid, this.gone);
  }

  async update(resources: Resources): Promise<EnforcedMap> {
    return notUpdatable(resources);
  }

  oomKilled(): boolean {
    return false;
  }

  async release(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
  }
}
