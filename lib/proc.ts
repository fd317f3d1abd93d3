// Facts about processes that are not our children, read the way each platform allows: the start
// time that proves a pid still names the same process, liveness, and descendants for the
// best-effort tree walk of backends without a cgroup or job.

import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';

const isLinux = process.platform === 'linux';

/**
 * The start time of `pid` as an opaque, comparable string: on Linux field 22 of /proc/<pid>/stat
 * (clock ticks since boot), elsewhere `ps -o lstart`. null when the process does not exist.
 */
export function processStartTime(pid: number): string | null {
  if (isLinux) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      // comm (field 2) may contain spaces and parentheses: fields after it start at the last ')'.
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      return rest[19] ?? null; // field 22 overall is index 19 after pid and comm
    } catch {
      return null;
    }
  }
  try {
    const out = execFileSync('ps', ['-o', 'lstart=', '-p', String(pid)], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    return out.trim() || null;
  } catch {
    return null;
  }
}

/** Linux: the process state letter ('R', 'S', 'Z', ...), null when gone. */
export function processState(pid: number): string | null {
  if (!isLinux) return null;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
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
