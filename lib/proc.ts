// Facts about processes, read the way each platform allows: whether the supervisor is root, the
// start time that proves a pid still names the same process, liveness, descendants for the
// best-effort tree walk of backends without a cgroup or job, and their usage from /proc.

import { readFileSync, readdirSync } from 'node:fs';
import type { Stats } from './types.js';

const isLinux = process.platform === 'linux';

/**
 * The clock tick of /proc/<pid>/stat times and v1 cpuacct.stat: USER_HZ, 100 on every Linux
 * architecture's ABI (sysconf(_SC_CLK_TCK) answers the same).
 */
export const USER_HZ = 100;

/** The supervisor runs as root (effective uid 0: what the kernel's permission checks see). */
export function isRoot(): boolean {
  return typeof process.geteuid === 'function' && process.geteuid() === 0;
}

/**
 * The start time of `pid` as an opaque, comparable string: on Linux field 22 of /proc/<pid>/stat
 * (clock ticks since boot), elsewhere `ps -o lstart`. null when the process does not exist.
 */
export function processStartTime(pid: number): string | null {
  if (isLinux) {
    return statFields(pid)?.[19] ?? null; // field 22 overall is index 19 after pid and comm
  }
  try {
    // Not Linux: ps (node:child_process is loaded here only, not by every run on Linux).
    const { execFileSync } = require('node:child_process') as typeof import('node:child_process');
    const out = execFileSync('ps', ['-o', 'lstart=', '-p', String(pid)], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    return out.trim() || null;
  } catch {
    return null;
  }
}

/** Linux: the session id of `pid` (field 6 of /proc/<pid>/stat), null when gone or elsewhere. */
export function processSessionId(pid: number): number | null {
  const f = isLinux ? statFields(pid) : null;
  return f ? Number(f[3]) : null;
}

/**
 * Linux: the fields of /proc/<pid>/stat after comm (index 0 is field 3, the state), null when
 * gone. comm (field 2) may hold spaces and parentheses: the fields start after the last ')'.
 */
function statFields(pid: number): string[] | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return null;
  }
}

/** Linux: the process state letter ('R', 'S', 'Z', ...), null when gone. */
export function processState(pid: number): string | null {
  return isLinux ? (statFields(pid)?.[0] ?? null) : null;
}

/** PF_EXITING in the flags of /proc/<pid>/stat: set as the kernel begins the process's exit. */
const PF_EXITING = 0x4;

/**
 * Linux: whether `pid` has begun to exit: gone, a zombie (Z) or dead (X), or inside the kernel's
 * exit (PF_EXITING, set before its files close: a pipe's EOF can be seen while the state still
 * says R). From then on the process runs no code of its own. False elsewhere.
 */
export function processExiting(pid: number): boolean {
  if (!isLinux) return false;
  const f = statFields(pid);
  if (!f) return true;
  return f[0] === 'Z' || f[0] === 'X' || (Number(f[6]) & PF_EXITING) !== 0;
}

/**
 * The supervisor's ancestors, from its parent up to init: on Linux by the /proc parent links,
 * elsewhere `ps -o ppid=` step by step.
 */
export function ancestorsOfSelf(): number[] {
  const out: number[] = [];
  let pid = process.ppid;
  while (pid > 1 && out.length < 4096 && !out.includes(pid)) {
    out.push(pid);
    pid = parentOf(pid) ?? 0;
  }
  return out;
}

function parentOf(pid: number): number | null {
  if (isLinux) {
    const f = statFields(pid);
    return f ? Number(f[1]) : null;
  }
  try {
    // Not Linux: ps (node:child_process is loaded here only, not by every run on Linux).
    const { execFileSync } = require('node:child_process') as typeof import('node:child_process');
    const out = execFileSync('ps', ['-o', 'ppid=', '-p', String(pid)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    return Number(out.trim()) || null;
  } catch {
    return null;
  }
}

/** True while a process with this pid exists (it may be a zombie). */
export function pidExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Linux: every descendant of `pid` (children, grandchildren, ...) from the /proc children lists.
 * A best-effort snapshot: a process can fork between the read and the signal, and a process
 * whose parent died is re-parented away and no longer found. Empty elsewhere.
 */
export function descendants(pid: number): number[] {
  if (!isLinux) return [];
  const out: number[] = [];
  const queue = [pid];
  const seen = new Set<number>([pid]);
  while (queue.length) {
    const p = queue.shift()!;
    let tasks: string[];
    try {
      tasks = readdirSync(`/proc/${p}/task`);
    } catch {
      continue;
    }
    for (const t of tasks) {
      let kids: string;
      try {
        kids = readFileSync(`/proc/${p}/task/${t}/children`, 'utf8');
      } catch {
        continue;
      }
      for (const k of kids.split(' ')) {
        const c = Number(k);
        if (c > 0 && !seen.has(c)) {
          seen.add(c);
          out.push(c);
          queue.push(c);
        }
      }
    }
  }
  return out;
}

/** Linux: the members of process group `pgid`, from /proc (field 5 of stat). */
export function processGroupMembers(pgid: number): number[] {
  if (!isLinux) return [];
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(rest[2]) === pgid) out.push(Number(name));
    } catch {
      /* gone */
    }
  }
  return out;
}

/** Linux: usage of a set of processes from /proc (zombies and processes gone meanwhile skipped). */
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
    cpuUserMicros: (utime * 1e6) / USER_HZ,
    cpuSystemMicros: (stime * 1e6) / USER_HZ,
    processes: n,
  };
}
