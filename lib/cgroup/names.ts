// Task cgroup names: unique, and traceable to the supervisor that made them, so that cgroups
// left behind by a supervisor that crashed can be told apart from live ones.
//
//   confine-<pid>-<start>-<seq>-<rand>-<pidns>
//
//   pid    the supervisor's pid (decimal, as seen in its own pid namespace)
//   start  the supervisor's start time in clock ticks since boot (/proc/<pid>/stat field 22),
//          base 36: a pid reused by another process has a different start time
//   seq    a per-process counter, base 36
//   rand   6 hex digits, so two supervisors that share a pid (different pid namespaces) and
//          a start tick still cannot collide (Math.random: V8 seeds it from the OS per process,
//          and uniqueness is all it is for; node:crypto would cost every run ~5 ms to load)
//   pidns  the inode of the supervisor's pid namespace, base 36: the pid above means something
//          only there. From another pid namespace the same number names another process (or
//          none), and a live supervisor in a container would look dead to the host (and the
//          host's to the container): cleanupOrphans() there would remove its spares and, with
//          `stop`, kill its trees. Names without it (made before it was added) are judged as
//          before, in the caller's namespace.
//
// Example: confine-4242-2bkq1-0-9f3a1c-1ilqdtw. About 40 characters; cgroup names have no
// length limit below NAME_MAX (255).

import * as fs from 'node:fs';

const NAME_RE = /^confine-([0-9]+)-([0-9a-z]+)-([0-9a-z]+)-([0-9a-f]+)(?:-([0-9a-z]+))?$/;

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

/** The inode of a process's pid namespace (/proc/<pid>/ns/pid), null when it cannot be read. */
export function pidNamespaceOf(pid: number | 'self'): number | null {
  try {
    return fs.statSync(`/proc/${pid}/ns/pid`).ino;
  } catch {
    return null;
  }
}

let selfStart: number | null | undefined;
let selfPidNamespace: number | null | undefined;
let seq = 0;

/** A fresh task cgroup name for this supervisor (see the scheme above). */
export function taskCgroupName(): string {
  if (selfStart === undefined) selfStart = processStartTicks('self');
  const start = (selfStart ?? 0).toString(36);
  const n = (seq++).toString(36);
  const rand = Math.floor(Math.random() * 0x1000000)
    .toString(16)
    .padStart(6, '0');
  if (selfPidNamespace === undefined) selfPidNamespace = pidNamespaceOf('self');
  const ns = selfPidNamespace === null ? '' : `-${selfPidNamespace.toString(36)}`;
  return `confine-${process.pid}-${start}-${n}-${rand}${ns}`;
}

export interface ParsedTaskName {
  pid: number;
  startTicks: number;
  seq: number;
  /** The supervisor's pid namespace (inode); null in a name made before it was recorded. */
  pidNamespace: number | null;
}

/** Parse a name made by taskCgroupName(); null for anything else. */
export function parseTaskCgroupName(name: string): ParsedTaskName | null {
  const m = NAME_RE.exec(name);
  if (!m) return null;
  return {
    pid: Number(m[1]),
    startTicks: parseInt(m[2]!, 36),
    seq: parseInt(m[3]!, 36),
    pidNamespace: m[5] === undefined ? null : parseInt(m[5], 36),
  };
}

/**
 * The kernel's initial pid namespace has this fixed inode (PROC_PID_INIT_INO): from it every
 * process of the host is visible, so a namespace with no process in sight has none at all.
 */
const INITIAL_PID_NAMESPACE = 0xeffffffc;

/**
 * The pid namespaces that have a process this one can see: from the host's namespace every
 * container's, from inside one only its own (and those nested in it). null when a process's
 * namespace could not be read (not root): then nothing can be said of a namespace not found.
 */
export function visiblePidNamespaces(): Set<number> | null {
  const out = new Set<number>();
  let complete = true;
  for (const ent of fs.readdirSync('/proc')) {
    if (!/^[0-9]+$/.test(ent)) continue;
    try {
      out.add(fs.statSync(`/proc/${ent}/ns/pid`).ino);
    } catch (e) {
      const c = (e as NodeJS.ErrnoException).code;
      // EACCES (another user's process, or one ptrace rules keep from us, as an init can be):
      // its status, readable by all, still says whether it is in this namespace alone.
      if (c !== 'ENOENT' && c !== 'ESRCH' && !inThisNamespaceOnly(ent)) complete = false;
    }
  }
  return complete ? out : null;
}

/** The process lives in the caller's pid namespace and no nested one (NSpid has one pid). */
function inThisNamespaceOnly(pid: string): boolean {
  try {
    const line = /^NSpid:\s*(.*)$/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return line !== null && line[1]!.trim().split(/\s+/).length === 1;
  } catch {
    return false;
  }
}

/**
 * Whether the supervisor named in a task cgroup name is still running: a process with that pid
 * exists and started at the recorded tick, judged in the caller's pid namespace. The pid of a
 * supervisor of another pid namespace cannot be looked up from here: it counts as alive unless
 * the caller is in the host's initial namespace and sees no process left in that namespace
 * (`namespaces`, from visiblePidNamespaces(); null: unknown). From inside a container the
 * host's namespace, and any other outside it, is out of sight: alive.
 */
export function supervisorAlive(p: ParsedTaskName, namespaces?: Set<number> | null): boolean {
  if (selfPidNamespace === undefined) selfPidNamespace = pidNamespaceOf('self');
  if (p.pidNamespace !== null && selfPidNamespace !== null && p.pidNamespace !== selfPidNamespace) {
    if (selfPidNamespace !== INITIAL_PID_NAMESPACE) return true;
    const seen = namespaces === undefined ? visiblePidNamespaces() : namespaces;
    return seen === null || seen.has(p.pidNamespace);
  }
  if (p.pid === process.pid)
    return selfStart === undefined ? processStartTicks('self') === p.startTicks : selfStart === p.startTicks;
  const st = processStartTicks(p.pid);
  return st !== null && st === p.startTicks;
}
