// Task cgroup names: unique, and traceable to the supervisor that made them, so that cgroups
// left behind by a supervisor that crashed can be told apart from live ones.
//
//   confine-<pid>-<start>-<seq>-<rand>
//
//   pid    the supervisor's pid (decimal, as seen in its own pid namespace)
//   start  the supervisor's start time in clock ticks since boot (/proc/<pid>/stat field 22),
//          base 36: a pid reused by another process has a different start time
//   seq    a per-process counter, base 36
//   rand   6 hex digits, so two supervisors that share a pid (different pid namespaces) and
//          a start tick still cannot collide (Math.random: V8 seeds it from the OS per process,
//          and uniqueness is all it is for; node:crypto would cost every run ~5 ms to load)
//
// Example: confine-4242-2bkq1-0-9f3a1c. About 30 characters; cgroup names have no length limit
// below NAME_MAX (255).

import * as fs from 'node:fs';

const NAME_RE = /^confine-([0-9]+)-([0-9a-z]+)-([0-9a-z]+)-([0-9a-f]+)$/;

/** Start time of a process in clock ticks since boot, or null when there is no such process. */
export function processStartTicks(pid: number | 'self'): number | null {
  let stat: string;
  try {
    stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // comm (field 2) may contain spaces and parentheses: split after the last ')'.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // rest[0] is field 3 (state); field 22 (starttime) is rest[19].
  const n = Number(rest[19]);
  return Number.isFinite(n) ? n : null;
}

let selfStart: number | null | undefined;
let seq = 0;

/** A fresh task cgroup name for this supervisor (see the scheme above). */
export function taskCgroupName(): string {
  if (selfStart === undefined) selfStart = processStartTicks('self');
  const start = (selfStart ?? 0).toString(36);
  const n = (seq++).toString(36);
  const rand = Math.floor(Math.random() * 0x1000000)
    .toString(16)
    .padStart(6, '0');
  return `confine-${process.pid}-${start}-${n}-${rand}`;
}

export interface ParsedTaskName {
  pid: number;
  startTicks: number;
  seq: number;
}

/** Parse a name made by taskCgroupName(); null for anything else. */
export function parseTaskCgroupName(name: string): ParsedTaskName | null {
  const m = NAME_RE.exec(name);
  if (!m) return null;
  return { pid: Number(m[1]), startTicks: parseInt(m[2]!, 36), seq: parseInt(m[3]!, 36) };
}

/**
 * Whether the supervisor named in a task cgroup name is still running: a process with that pid
 * exists and started at the recorded tick. Judged in the caller's pid namespace.
 */
export function supervisorAlive(p: ParsedTaskName): boolean {
  if (p.pid === process.pid)
    return selfStart === undefined ? processStartTicks('self') === p.startTicks : selfStart === p.startTicks;
  const st = processStartTicks(p.pid);
  return st !== null && st === p.startTicks;
}
