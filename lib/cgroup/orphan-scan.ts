// Finding task cgroups whose supervisor is gone: walk every hierarchy for directories named by
// taskCgroupName() and check the supervisor pid and start time encoded in the name. The public
// side (confine doctor's listing, cleanupOrphans(), adoption handles) is lib/lifecycle/orphans.ts.

import * as fs from 'node:fs';
import * as path from 'node:path';
import type { CgroupLayout } from './hierarchy.js';
import { errCode, readPids } from './files.js';
import { parseTaskCgroupName, pidNamespaceOf, supervisorAlive, visiblePidNamespaces, type ParsedTaskName } from './names.js';

export interface OrphanCgroup {
  /** The task cgroup (v2), or its directory in the first v1 hierarchy. */
  path: string;
  /** Processes still in it (v1: union over the hierarchies). */
  pids: number[];
  /** controller -> directory, as TaskCgroup.adopt() takes them. */
  paths: Record<string, string>;
  name: string;
  supervisor: ParsedTaskName;
}

/** Walk a hierarchy for task cgroup directories (depth-limited; does not descend into them). */
function walk(root: string, maxDepth: number, found: (dir: string, name: string) => void): void {
  const stack: [string, number][] = [[root, 0]];
  while (stack.length) {
    const [dir, depth] = stack.pop()!;
    let ents: fs.Dirent[];
    try {
      ents = fs.readdirSync(dir, { withFileTypes: true });
    } catch (e) {
      if (errCode(e) === 'ENOENT' || errCode(e) === 'EACCES') continue;
      throw e;
    }
    for (const ent of ents) {
      if (!ent.isDirectory()) continue;
      const full = path.join(dir, ent.name);
      if (parseTaskCgroupName(ent.name)) found(full, ent.name);
      else if (depth < maxDepth) stack.push([full, depth + 1]);
    }
  }
}

/** Every task cgroup (by name) in the hierarchies of `layout`, grouped by name. */
export function listTaskCgroups(layout: CgroupLayout): OrphanCgroup[] {
  const byName = new Map<string, OrphanCgroup>();
  for (const h of layout.hierarchies) {
    walk(h.mount, 12, (dir, name) => {
      let o = byName.get(name);
      if (!o) {
        o = { path: dir, pids: [], paths: {}, name, supervisor: parseTaskCgroupName(name)! };
        byName.set(name, o);
      }
      if (h.version === 2) o.paths.unified = dir;
      else for (const c of h.controllers) o.paths[c] = dir;
    });
  }
  for (const o of byName.values()) {
    if (o.paths.unified !== undefined) o.path = o.paths.unified; // the v2 one, wherever its mount is listed
    const s = new Set<number>();
    for (const d of new Set(Object.values(o.paths))) for (const p of readPids(d)) s.add(p);
    o.pids = [...s].sort((a, b) => a - b);
  }
  return [...byName.values()];
}

/**
 * confine task cgroups whose owning supervisor is gone (its pid is not running, or runs a
 * process with another start time). Judged in the caller's pid namespace; a cgroup made in
 * another one is an orphan only when the caller, in the host's namespace, sees no process left in it
 * (see supervisorAlive).
 * Those with pids can be adopted (TaskCgroup.adopt(o.paths)) or killed.
 */
export function listOrphans(layout: CgroupLayout): OrphanCgroup[] {
  const own = pidNamespaceOf('self');
  let namespaces: Set<number> | null | undefined;
  return listTaskCgroups(layout).filter((o) => {
    // /proc is scanned once per listing, and only when a cgroup of another namespace is met.
    const other = o.supervisor.pidNamespace !== null && o.supervisor.pidNamespace !== own;
    if (other && namespaces === undefined) namespaces = visiblePidNamespaces();
    return !supervisorAlive(o.supervisor, namespaces);
  });
}

/** Remove the orphans that hold no process; returns the directories removed. */
export function removeEmptyOrphans(layout: CgroupLayout): string[] {
  const removed: string[] = [];
  for (const o of listOrphans(layout)) {
    if (o.pids.length) continue;
    for (const d of new Set(Object.values(o.paths))) {
      try {
        fs.rmdirSync(d);
        removed.push(d);
      } catch {
        /* a process arrived, or children: leave it */
      }
    }
  }
  return removed;
}
