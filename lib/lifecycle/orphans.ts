// Orphaned confine cgroups: task cgroups whose supervisor is gone (it crashed, or was killed
// without killOnParentExit). `confine doctor` lists them; cleanupOrphans() removes the empty ones
// and, when asked, stops (kills) the trees still in the rest and removes those too.
//
// A supervisor that reattached to such a tree with openPid() does not make it un-orphaned: the
// name records the supervisor that created it. Pass `under` to limit a cleanup to one parent.
// The scan of the hierarchies that finds them is lib/cgroup/orphan-scan.ts.

import * as path from 'node:path';
import { detectCgroups, listOrphans, TaskCgroup, type OrphanCgroup } from '../cgroup/index.js';
import { encodeHandle } from '../backends/backend.js';
import { processStartTime } from '../proc.js';
import { readOpt } from '../cgroup/files.js';

export interface OrphanInfo {
  /** The task cgroup's name (confine-<pid>-<start>-<seq>-<rand>). */
  name: string;
  /** Its directory (v2), or its directory in the first v1 hierarchy. */
  path: string;
  /** controller -> directory, every hierarchy it is in. */
  paths: Record<string, string>;
  /** Processes still in it. */
  pids: number[];
  /** The supervisor that created it (gone now), as recorded in the name. */
  supervisor: { pid: number; startTicks: number; pidNamespace: number | null };
  /**
   * A handle that openPid() adopts: the oldest process still in the cgroup as its leader, and
   * the cgroup itself, so stats, shutdown and forceStop cover the whole tree. null when empty.
   */
  handle: string | null;
}

/** The oldest member (smallest start time) stands for the tree's leader. */
function adoptionHandle(o: OrphanCgroup): string | null {
  let best: { pid: number; start: string } | null = null;
  for (const pid of o.pids) {
    const start = processStartTime(pid);
    if (start !== null && (best === null || Number(start) < Number(best.start))) best = { pid, start };
  }
  // Any v1 directory makes it a v1 task cgroup. With its v2 directory alone it is a v2 one when
  // that has controllers, or on a pure v2 host; else a hybrid host's tree without limits, whose
  // limits would live in v1 (the version tells adopt() which).
  const v1 = Object.keys(o.paths).some((c) => c !== 'unified');
  const v2Controllers = o.paths.unified ? (readOpt(path.join(o.paths.unified, 'cgroup.controllers')) ?? '').trim() : '';
  const cgroupVersion = !v1 && (v2Controllers !== '' || detectCgroups().mode === 'v2') ? 2 : 1;
  return best
    ? encodeHandle({ kind: 'linux', pid: best.pid, startTime: best.start, extra: { cgroup: { ...o.paths }, cgroupVersion } })
    : null;
}

export interface OrphanOptions {
  /**
   * Only task cgroups under this parent: a cgroup path as `cgroupParent` takes it
   * ('/confine-ci'), or an absolute directory under a cgroup mount.
   */
  under?: string;
}

export interface CleanupOptions extends OrphanOptions {
  /** Kill the trees still running in orphaned cgroups, then remove those too. Default false. */
  stop?: boolean;
}

export interface CleanupResult {
  /** Directories removed (every hierarchy of each cgroup). */
  removed: string[];
  /** Orphans whose processes were killed (`stop: true`). */
  stopped: OrphanInfo[];
  /** Orphans left in place (they hold processes and `stop` was not given, or could not be removed). */
  left: OrphanInfo[];
  /** What failed, per cgroup. */
  errors: { path: string; message: string }[];
}

function info(o: OrphanCgroup): OrphanInfo {
  return {
    name: o.name,
    path: o.path,
    paths: { ...o.paths },
    pids: o.pids.slice(),
    supervisor: { pid: o.supervisor.pid, startTicks: o.supervisor.startTicks, pidNamespace: o.supervisor.pidNamespace },
    handle: adoptionHandle(o),
  };
}

function isUnder(o: OrphanCgroup, under: string | undefined, mounts: string[]): boolean {
  if (under === undefined) return true;
  const dirs = Object.values(o.paths);
  const norm = path.posix.normalize(under).replace(/\/+$/, '');
  return dirs.some((d) => {
    if (d.startsWith(`${norm}/`)) return true; // an absolute directory
    return mounts.some((m) => d.startsWith(`${path.posix.join(m, norm)}/`));
  });
}

/** The orphaned confine task cgroups of this host (judged in the caller's pid namespace). */
export function listOrphanCgroups(opts: OrphanOptions = {}): OrphanInfo[] {
  const layout = detectCgroups();
  if (layout.mode === 'none') return [];
  const mounts = layout.hierarchies.map((h) => h.mount);
  return listOrphans(layout)
    .filter((o) => isUnder(o, opts.under, mounts))
    .map(info);
}

/**
 * Remove orphaned task cgroups that hold no process; with `stop: true` also kill the trees in
 * the others (freeze-kill-thaw, or cgroup.kill) and remove them.
 */
export async function cleanupOrphans(opts: CleanupOptions = {}): Promise<CleanupResult> {
  const result: CleanupResult = { removed: [], stopped: [], left: [], errors: [] };
  for (const o of listOrphanCgroups(opts)) {
    if (o.pids.length > 0 && !opts.stop) {
      result.left.push(o);
      continue;
    }
    let cg: TaskCgroup;
    try {
      cg = TaskCgroup.adopt(o.paths);
    } catch (e) {
      result.errors.push({ path: o.path, message: (e as Error).message });
      continue;
    }
    try {
      if (o.pids.length > 0 || cg.pids().length > 0) {
        if (!opts.stop) {
          result.left.push(o);
          continue;
        }
        await cg.kill();
        result.stopped.push(o);
      }
      await cg.remove();
      result.removed.push(...new Set(Object.values(o.paths)));
    } catch (e) {
      result.errors.push({ path: o.path, message: (e as Error).message });
      result.left.push(o);
    }
  }
  return result;
}

/** For `confine doctor`: the orphans, never throwing (an unreadable hierarchy lists none). */
export function doctorOrphans(): OrphanInfo[] {
  try {
    return listOrphanCgroups();
  } catch {
    return [];
  }
}

/** `confine doctor`'s text section for orphans (empty when there are none). */
export function formatOrphans(orphans: OrphanInfo[]): string[] {
  if (orphans.length === 0) return [];
  const lines = [
    '',
    `orphaned cgroups (their supervisor is gone; cleanupOrphans() removes empty ones, { stop: true } the rest):`,
  ];
  for (const o of orphans) {
    lines.push(
      `  ${o.path}  ${o.pids.length ? `${o.pids.length} process(es): ${o.pids.slice(0, 8).join(' ')}${o.pids.length > 8 ? ' ...' : ''}` : 'empty'}  (supervisor pid ${o.supervisor.pid})`,
    );
  }
  return lines;
}
