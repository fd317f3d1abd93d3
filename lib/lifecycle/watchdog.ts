// killOnParentExit for the whole tree, also when the supervisor is SIGKILLed: one small helper
// process per supervisor (the watchdog) holds the read end of a pipe whose write end only the
// supervisor has. The supervisor registers each tree on it; when the pipe reaches EOF the
// supervisor is gone (however it died), and the watchdog kills every tree still registered:
//
//   cgroup v2   cgroup.kill (kernel 5.14+), else cgroup.freeze, SIGKILL every member, thaw
//   cgroup v1   freezer.state FROZEN, SIGKILL every member, THAWED, until cgroup.procs is empty
//   no cgroup   the process group (after re-checking the leader's start time) and the
//               descendants still found through /proc children lists
//
// and then removes the emptied cgroups. See docs/lifecycle.md.
//
// The watchdog is `/bin/sh` running the script below: about 1 MB of memory and a millisecond to
// start, against 40+ MB and 40 ms for a second node; it needs nothing from the package (no
// dist/ file to find, no addon), and a shell's builtins (read, kill, echo >) are exactly the
// system calls this needs. It runs in a session of its own (no terminal: a Ctrl-C to the
// supervisor's process group does not reach it) and ignores the polite signals; it does not keep
// the supervisor's event loop alive, and it exits by itself after the EOF work.
//
// Protocol (one line each, on the watchdog's stdin):
//   add <id> cg <dir> [<dir>...]     a task cgroup (v2: one dir; v1: one per hierarchy)
//   add <id> pg <pgid> <starttime>   a process group whose leader has this start time
//   del <id>                         forget a registration
// Registrations whose cgroup is gone, or whose group is empty, are pruned as new ones arrive.

import { closeSync, constants as fsConstants, existsSync, readFileSync, writeSync } from 'node:fs';
import type { Socket } from 'node:net';
import type { PosixAddon } from '../addon.js';
import { decodeHandle } from '../backends/backend.js';
import { posixAddon } from '../loader.js';
import { processState } from '../proc.js';
import type { Enforcement } from '../types.js';

const SH = '/bin/sh';

/** The watchdog itself (POSIX sh: dash, bash, busybox ash). */
export const WATCHDOG_SCRIPT = String.raw`
trap '' INT TERM HUP QUIT TSTP TTIN TTOU PIPE USR1 USR2
exec 3>&- 4>&- 5>&- 6>&- 7>&- 8>&- 9>&-
echo -1000 2>/dev/null >/proc/self/oom_score_adj
N='
'
R=''
adds=0

# st=<start time of pid $1> (field 22 of /proc/<pid>/stat; comm may hold spaces and parens)
starttime() {
  st=''
  IFS= read -r line 2>/dev/null <"/proc/$1/stat" || return 1
  set -- ${'$'}{line##*) }
  shift 19
  st=$1
}

# the process group id of pid $1 (field 5)
pgidof() {
  pg=''
  IFS= read -r line 2>/dev/null <"/proc/$1/stat" || return 1
  set -- ${'$'}{line##*) }
  pg=$3
}

drop() {
  n=''
  while IFS= read -r l; do
    case $l in "$1 "*|'') ;; *) n=$n$l$N ;; esac
  done <<EOF
$R
EOF
  R=$n
}

# still worth keeping: a cgroup directory exists, or the group has members
keep() {
  shift
  case $1 in
    cg) shift; for d; do [ -d "$d" ] && return 0; done; return 1 ;;
    pg) kill -0 -"$2" 2>/dev/null ;;
  esac
  return 1
}

prune() {
  n=''
  while IFS= read -r l; do
    [ -n "$l" ] || continue
    keep $l && n=$n$l$N
  done <<EOF
$R
EOF
  R=$n
}

pidsof() {
  p=''
  for d; do
    [ -r "$d/cgroup.procs" ] || continue
    while IFS= read -r x; do p="$p $x"; done <"$d/cgroup.procs"
  done
}

killcg() {
  k=''; f=''; f2=''
  for d; do
    [ -e "$d/cgroup.kill" ] && k=$d
    [ -e "$d/freezer.state" ] && f=$d
    [ -e "$d/cgroup.freeze" ] && f2=$d
  done
  i=0
  while [ $i -lt 200 ]; do
    pidsof "$@"
    case $p in *[0-9]*) ;; *) break ;; esac
    if [ -n "$k" ]; then
      echo 1 2>/dev/null >"$k/cgroup.kill"
    else
      if [ -n "$f" ]; then
        echo FROZEN 2>/dev/null >"$f/freezer.state"
        j=0
        while [ $j -lt 100 ]; do
          s=''; IFS= read -r s 2>/dev/null <"$f/freezer.state"
          [ "$s" = FROZEN ] && break
          [ -n "$s" ] || break
          sleep 0.01; j=$((j + 1))
        done
      elif [ -n "$f2" ]; then
        echo 1 2>/dev/null >"$f2/cgroup.freeze"
        j=0
        while [ $j -lt 100 ]; do
          fr=''
          while IFS=' ' read -r a b; do [ "$a" = frozen ] && fr=$b; done 2>/dev/null <"$f2/cgroup.events"
          [ "$fr" = 1 ] && break
          [ -n "$fr" ] || break
          sleep 0.01; j=$((j + 1))
        done
      fi
      pidsof "$@"
      [ -n "$p" ] && kill -9 $p 2>/dev/null
      [ -n "$f" ] && echo THAWED 2>/dev/null >"$f/freezer.state"
      [ -n "$f2" ] && echo 0 2>/dev/null >"$f2/cgroup.freeze"
    fi
    sleep 0.01
    i=$((i + 1))
  done
  for d; do
    rmdir "$d" 2>/dev/null || { sleep 0.05; rmdir "$d" 2>/dev/null; }
  done
}

walk() {
  for t in /proc/$1/task/*/children; do
    c=''
    IFS= read -r c 2>/dev/null <"$t"
    for x in $c; do echo "$x"; walk "$x"; done
  done
}

killpg() {
  if starttime "$1"; then
    # the pid names another process now: the group it led is long empty (a pid is not reused
    # while it is still some group's id)
    [ "$st" = "$2" ] || return 0
    pgidof "$1"
    if [ "$pg" = "$1" ]; then
      kill -STOP -"$1" 2>/dev/null
      kids=$(walk "$1")
      kill -9 -"$1" 2>/dev/null
      [ -n "$kids" ] && kill -9 $kids 2>/dev/null
      return 0
    fi
  fi
  kill -9 -"$1" 2>/dev/null
  return 0
}

while IFS= read -r l; do
  case $l in
    'add '*)
      adds=$((adds + 1))
      if [ $adds -ge 16 ]; then prune; adds=0; fi
      R=$R${'$'}{l#add }$N ;;
    'del '*) drop "${'$'}{l#del }" ;;
  esac
done

while IFS= read -r l; do
  [ -n "$l" ] || continue
  set -- $l
  shift
  case $1 in
    cg) shift; killcg "$@" ;;
    pg) shift; killpg "$@" ;;
  esac
done <<EOF
$R
EOF
exit 0
`;

/**
 * The supervisor's end of the watchdog's stdin. From the addon it is a non-blocking pipe written
 * with plain write(2) calls: the line is in the pipe when write() returns, and node:net (with
 * node:stream, about a tenth of a `confine run`) is not loaded for it. A blocking pipe would not
 * do: a watchdog that is stopped (SIGSTOP) would stall the supervisor once 64 KB of lines are
 * unread. So a write that would block (EAGAIN, or only part of the line taken) hands the rest,
 * and every later line, to a net.Socket on the same descriptor, which queues them in order.
 */
class LineWriter {
  #fd: number;
  #socket: Socket | null;
  readonly #dead: () => void;

  constructor(fd: number, socket: Socket | null, dead: () => void) {
    this.#fd = fd;
    this.#socket = socket;
    this.#dead = dead;
    if (socket) this.#own(socket);
  }

  #own(socket: Socket): void {
    socket.on('error', this.#dead);
    socket.unref(); // the watchdog's pipe does not keep the supervisor's event loop alive
  }

  write(line: string): void {
    if (this.#socket) {
      this.#socket.write(line);
      return;
    }
    let rest = line;
    try {
      // A line is ASCII (ids, keywords, checked paths): string length is byte length.
      const n = writeSync(this.#fd, line);
      if (n === line.length) return;
      rest = line.slice(n);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') {
        this.#dead(); // EPIPE: the watchdog is gone
        return;
      }
    }
    const { Socket } = require('node:net') as typeof import('node:net');
    this.#socket = new Socket({ fd: this.#fd, readable: false, writable: true });
    this.#own(this.#socket);
    this.#socket.write(rest);
  }

  /** Bytes written but not yet in the pipe (queued by the socket); null while written directly. */
  get queuedBytes(): number | null {
    return this.#socket ? this.#socket.writableLength : null;
  }

  close(): void {
    if (this.#socket) this.#socket.destroy();
    else if (this.#fd >= 0) {
      try {
        closeSync(this.#fd);
      } catch {
        /* closed already */
      }
    }
    this.#fd = -1;
  }
}

interface Watchdog {
  pid: number;
  stdin: LineWriter;
  alive: boolean;
  /** Reaps it once it has exited (the addon's start; child_process reaps its own). */
  reap: (() => void) | null;
}

let current: Watchdog | null = null;
let nextId = 1;

/** Whether this host can run the watchdog (Linux with a POSIX shell). */
export function watchdogAvailable(): boolean {
  return process.platform === 'linux' && existsSync(SH);
}

const ARGV = ['-c', 'eval "$CONFINE_WATCHDOG_SCRIPT"'];
const ENV = { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LC_ALL: 'C', CONFINE_WATCHDOG_SCRIPT: WATCHDOG_SCRIPT };

/**
 * Started by the addon where it is loaded: its clone (CLONE_VM|CLONE_VFORK) costs a fraction of
 * child_process's fork of the whole supervisor, and node:child_process need not be loaded at all
 * (together about 13 ms of every `confine run`, measured with bench/startup.mjs). The addon's
 * exit watch would hold the event loop, so the process is not watched while it lives: ensure()
 * asks /proc whether it still runs before each use, and then reaps it.
 */
function startWithAddon(addon: PosixAddon, dead: () => void): Watchdog {
  const [r, w] = addon.pipe(true);
  let nul = -1;
  try {
    nul = addon.openDevNull(fsConstants.O_WRONLY);
    const { pid, pidfd } = addon.spawn({
      file: SH,
      argv: ['confine-watchdog', ...ARGV],
      envp: Object.entries(ENV).map(([k, v]) => `${k}=${v}`),
      cwd: '/',
      stdio: [r, nul, nul],
      // setsid: no controlling terminal, no share in the supervisor's process group.
      setsid: true,
    });
    // Once dead it is reaped at once, so the watch holds the loop for a moment only (without a
    // pidfd, on kernels before 5.3, the addon waits on a thread).
    const closePidfd = () => {
      if (pidfd >= 0) addon.close(pidfd);
    };
    const reap = () => {
      try {
        addon.watch(pid, pidfd, closePidfd);
      } catch {
        closePidfd();
      }
    };
    return { pid, stdin: new LineWriter(w, null, dead), alive: true, reap };
  } catch (e) {
    addon.close(w);
    throw e;
  } finally {
    addon.close(r);
    if (nul >= 0) addon.close(nul);
  }
}

/** Without the addon: child_process, which reaps it and says when it exits. */
function startWithChildProcess(dead: () => void): Watchdog {
  const { spawn } = require('node:child_process') as typeof import('node:child_process');
  const child = spawn(SH, ARGV, {
    argv0: 'confine-watchdog',
    stdio: ['pipe', 'ignore', 'ignore'],
    detached: true,
    cwd: '/',
    env: ENV,
  });
  child.once('error', dead);
  child.once('exit', dead);
  child.unref(); // the process does not keep the event loop alive (nor does our end of its pipe)
  return { pid: child.pid ?? 0, stdin: new LineWriter(-1, child.stdin as Socket, dead), alive: true, reap: null };
}

function ensure(): Watchdog | null {
  if (current?.alive) {
    // Look before each use: the addon's start has no exit report, and child_process's comes on
    // a later turn of the event loop (a registration in between would go to a dead watchdog).
    const state = processState(current.pid);
    if (state === null || state === 'Z' || state === 'X') markDead(current);
  }
  if (current?.alive) return current;
  if (!watchdogAvailable()) return null;
  let wd: Watchdog;
  const dead = () => markDead(wd);
  try {
    const addon = posixAddon();
    wd = addon ? startWithAddon(addon, dead) : startWithChildProcess(dead);
  } catch {
    return null;
  }
  current = wd;
  return wd;
}

function markDead(wd: Watchdog): void {
  if (!wd.alive) return;
  wd.alive = false;
  wd.stdin.close();
  wd.reap?.();
  if (current === wd) {
    current = null;
    registered.clear();
  }
}

const SAFE = /^[^\s'"\\$`]+$/;

/** The watchdog line for a handle, or null when it cannot be guarded. */
export function guardLine(handle: string): string | null {
  const d = decodeHandle(handle);
  if (!d || d.kind === 'windows') return null;
  const cg = d.extra?.cgroup as Record<string, string> | undefined;
  if (cg && typeof cg === 'object') {
    const dirs = [...new Set(Object.values(cg))].filter((p) => typeof p === 'string');
    if (dirs.length === 0 || !dirs.every((p) => p.startsWith('/') && SAFE.test(p))) return null;
    return `cg ${dirs.join(' ')}`;
  }
  if (d.startTime === null || !/^\d+$/.test(d.startTime)) return null;
  // Only a session or group leader's group is ours to kill (both backends start one).
  if (pgidOf(d.pid) !== d.pid) return null;
  return `pg ${d.pid} ${d.startTime}`;
}

function pgidOf(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]);
  } catch {
    return null;
  }
}

/**
 * Register a started tree (by its executor.handle) with this supervisor's watchdog, starting the
 * watchdog on first use. Returns a registration id (0 when the tree cannot be guarded here).
 */
export function guardHandle(handle: string): number {
  const line = guardLine(handle);
  return line === null ? 0 : send(line);
}

/**
 * Register a task cgroup (controller -> directory) before its first process exists, so that no
 * moment passes between the spawn and the registration. Returns the id, 0 when not guarded.
 */
export function guardCgroup(paths: Record<string, string>): number {
  const dirs = [...new Set(Object.values(paths))];
  if (dirs.length === 0 || !dirs.every((p) => p.startsWith('/') && SAFE.test(p))) return 0;
  return send(`cg ${dirs.join(' ')}`);
}

/** Start the watchdog now (before a spawn), so the registration after it is immediate. */
export function startWatchdog(): boolean {
  return ensure() !== null;
}

/** line -> id of what the current watchdog holds (a cgroup registered before and after spawn once). */
const registered = new Map<string, number>();

function send(line: string): number {
  const wd = ensure();
  if (!wd) return 0;
  const known = registered.get(line);
  if (known !== undefined) return known;
  const id = nextId++;
  registered.set(line, id);
  // Bounded: a long-lived supervisor forgets old lines (the watchdog prunes its own copy).
  if (registered.size > 4096) registered.delete(registered.keys().next().value!);
  wd.stdin.write(`add ${id} ${line}\n`);
  return id;
}

/** Forget a registration (the tree was released). */
export function unguard(id: number): void {
  if (id <= 0 || !current?.alive) return;
  for (const [line, i] of registered) if (i === id) registered.delete(line);
  current.stdin.write(`del ${id}\n`);
}

/**
 * Bytes of registrations the current watchdog has not been handed yet (its pipe was full: it is
 * stopped, or slow), or null while lines go straight into the pipe; null without a watchdog.
 * For tests: a registration counts once it is in the pipe.
 */
export function watchdogQueuedBytes(): number | null {
  return current?.alive ? current.stdin.queuedBytes : null;
}

/** The watchdog's pid, or null when none runs (for tests and `confine doctor`). */
export function watchdogPid(): number | null {
  return current?.alive ? current.pid || null : null;
}

/**
 * How killOnParentExit is enforced where the watchdog runs: `cgroup` for trees in a cgroup of
 * their own (exact), `group` for the process group (what can escape is said), with `pdeathsig`
 * when the native addon also gives the leader a parent-death signal. `fallback` where the
 * watchdog cannot run.
 */
export function killOnParentExitEnforcement(how: { cgroup: boolean; pdeathsig: boolean }, fallback: Enforcement): Enforcement {
  if (!watchdogAvailable()) return fallback;
  const mechanism = how.pdeathsig ? 'pdeathsig+watchdog' : 'watchdog';
  const leader = how.pdeathsig
    ? 'the leader gets SIGKILL from the kernel when the thread that started it dies (start trees from the main thread); '
    : '';
  if (how.cgroup) {
    return {
      enforced: true,
      mechanism,
      scope: 'tree',
      note: `${leader}a watchdog process kills the whole cgroup when the supervisor dies, even by SIGKILL (and the exit hook when it exits normally)`,
    };
  }
  return {
    enforced: false,
    mechanism,
    scope: 'tree',
    note: `${leader}a watchdog process kills the process group, and the descendants it can still find, when the supervisor dies, even by SIGKILL; a descendant that leaves the process group and whose parent has died escapes`,
  };
}
