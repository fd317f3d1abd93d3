// The pure-JS backend: child_process underneath, anywhere Node runs. It enforces what
// child_process and a POSIX shell can: uid/gid (libuv drops every supplementary group), a new
// session so the process group can be signalled as a whole, and the per-process rlimits through
// the shell's `ulimit` builtin before the program is exec'd. Everything else is reported as not
// enforced, per limit.
//
// When rlimits are asked for, the child is born as `/bin/sh -c SCRIPT`: the script sets the
// limits, reports any failure on fd 3 (a socket to us) and execs the program. fd 3 reaching EOF
// without a message means the program was exec'd, the same contract as the native error pipe.

import { isolationEnforcement, isolationSupport } from '../isolation/index.js';
import { spawn, execFile, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import type { Readable, Writable } from 'node:stream';
import { SpawnError, fromNodeError, SystemError } from '../errors.js';
import { descendants, pidExists, processStartTime } from '../proc.js';
import { RLIMIT_RESOURCES, TREE_RESOURCES } from '../resources.js';
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
import { AttachedTree, notUpdatable, pidTreeStats } from './attached-tree.js';
import { drainStdio, forgetAtExit, killAtExit, notEnforced, sigkillEach } from './shared.js';
import { killOnParentExitEnforcement } from '../lifecycle/watchdog.js';

const isWindows = process.platform === 'win32';
const isLinux = process.platform === 'linux';

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
        out[key] = notEnforced(
          key === 'maxProcesses'
            ? 'needs a cgroup (linux backend) or RLIMIT_NPROC (native backends); the pure-JS backend has neither'
            : 'needs a cgroup or a Job Object (the linux or windows backend)',
        );
      } else if (rule && !isWindows) {
        out[key] = req.customArgv0
          ? notEnforced('set through /bin/sh ulimit, which cannot keep a custom argv0')
          : {
              enforced: true,
              mechanism: 'ulimit',
              scope: 'process',
              note: `/bin/sh ulimit ${rule.ulimitFlag} before exec, soft and hard${rule.ulimitUnit > 1 ? `, rounded down to ${rule.ulimitUnit}-byte units` : ''}`,
            };
      } else {
        out[key] = notEnforced(isWindows ? 'Windows needs the native Job Object backend' : 'no mechanism');
      }
    }
    if (req.runAs) {
      out.runAs = isWindows
        ? notEnforced('child_process cannot change the user on Windows')
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
    // No namespaces here: every isolation key is reported as not enforced, saying why.
    if (req.isolation) Object.assign(out, isolationEnforcement(req.isolation, this.kind, isolationSupport));
    return out;
  }

  launch(req: LaunchRequest): Tree {
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
    const spawned = new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve);
      child.once('error', (e) => reject(fromNodeError(e, 'execve', `cannot start ${req.file}`)));
    });
    // The exit watcher is in place at once, before anything can happen to the child.
    const tree = new UniversalTree(child, req.killOnParentExit, handshake ? 3 : child.stdio.length);
    // The handshake below waits across turns of the event loop: the output stays ours till then
    // (the tree has its own copy of the streams for the caller).
    const fd3 = child.stdio[3] as Readable | undefined;
    const held = handshake ? holdOutput(child) : null;
    const handshakeDone = spawned.then(async () => {
      if (!handshake) return;
      const message = await readAll(fd3!);
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
      if (rlimits.some(([, r]) => r!.rlimit === 'nofile')) await execDone(child.pid!, tree.exited, wrapperToken);
    });
    tree.started = held ? handshakeDone.finally(() => held.release()) : handshakeDone;
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

/**
 * Keeps Node's child_process from dropping the child's output while launch() waits for the
 * wrapper's exec. child_process resumes each output stream nobody reads yet when the child exits
 * (so that its pipe drains and 'close' follows), and what the stream held is gone. That wait
 * spans turns of the event loop: a short program can write and exit before start() resolves,
 * and its caller, who reads after start(), would find nothing (a fast machine, or many trees
 * starting at once, does this often). So until release() that flush sees no stream (it walks
 * child.stdio); release() puts them back and, when the exit came meanwhile, drains them a turn
 * later, once start()'s caller has attached its readers (drainStdio, as the native backends do).
 */
function holdOutput(child: ChildProcess): { release(): void } {
  const stdio = child.stdio as unknown as (Readable | Writable | null)[];
  const streams = stdio.slice();
  let exited = false;
  child.once('exit', () => (exited = true));
  stdio.fill(null);
  return {
    release() {
      stdio.splice(0, stdio.length, ...streams);
      if (exited) setImmediate(() => drainStdio(streams));
    },
  };
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

/** A tree whose leader is our own ChildProcess. */
class UniversalTree implements Tree {
  readonly stdio: (Readable | Writable | null)[];
  /** Set by launch(): the spawn, then (with rlimits) the wrapper shell's handshake. */
  started: Promise<void> = Promise.resolve();
  readonly exited: Promise<RawExit>;
  readonly closed: Promise<void>;
  private handleText: string | null = null;
  private gone = false;

  constructor(
    private readonly child: ChildProcess,
    killOnParentExit: boolean,
    /** How many of the child's stdio entries are the caller's (the rlimit handshake uses fd 3). */
    stdioCount: number,
  ) {
    this.stdio = child.stdio.slice(0, stdioCount) as (Readable | Writable | null)[];
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.gone = true;
        resolve({ exitCode: code, signal: signal ?? null, cpuUserMicros: null, cpuSystemMicros: null, memoryPeakBytes: null });
      });
    });
    this.closed = new Promise((resolve) => child.once('close', () => resolve()));
    // Errors after spawn (a failed kill) are reported by the calls that cause them.
    child.on('error', () => {});
    if (killOnParentExit) killAtExit(this);
  }

  /** child_process's pid: undefined when the spawn failed. */
  get pid(): number | undefined {
    return this.child.pid;
  }

  get handle(): string {
    this.handleText ??= encodeHandle({ kind: 'universal', pid: this.child.pid!, startTime: processStartTime(this.child.pid!) });
    return this.handleText;
  }

  ref(): void {
    this.child.ref();
  }

  unref(): void {
    this.child.unref();
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
    if (this.pid === undefined) return;
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
    if (isWindows || this.pid === undefined) {
      this.signal(9);
      return;
    }
    const kids = this.gone ? [] : descendants(this.pid);
    try {
      process.kill(-this.pid, 'SIGKILL');
    } catch {
      /* group empty */
    }
    sigkillEach(kids);
  }

  async killTree(): Promise<void> {
    if (this.pid === undefined) return;
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
    return pidTreeStats(this.pid ?? 0, this.gone || this.pid === undefined);
  }

  async update(resources: Resources): Promise<EnforcedMap> {
    return notUpdatable(resources);
  }

  oomKilled(): boolean {
    return false;
  }

  async release(): Promise<void> {
    forgetAtExit(this);
  }
}
