// Joining a running tree to v1 hierarchies it started without: the work of TaskCgroup.extend().
// On v1 and hybrid hosts a tree starts in only the hierarchies its limits need (each v1
// directory costs a mkdir, a migration and an rmdir per spawn); update() with a limit of another
// kind joins it to that hierarchy then.
//
// In order: mkdir each new directory beside the tree's others and write its limits before
// anyone joins; tell `beforeMove` the tree's paths to be (the killOnParentExit watchdog registers
// them); freeze the tree; move every process in; thaw. Frozen, the tree cannot fork; where it
// cannot be frozen (v1 without a freezer hierarchy) the moves repeat until a pass finds nobody
// left, since a child forked meanwhile starts where its parent was. Memory the tree charged
// before the move stays where it was (v1 moves no charges). On any failure the processes moved
// go back to the directory each came from, the new directories are removed, and a typed error
// (stage 'cgroup') is thrown.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { ConfineArgumentError, SystemError } from '../errors.js';
import type { Resources } from '../types.js';
import { errCode, exists, mkdirV1, readOpt, readPids, sysError, writeFile } from './files.js';
import { parseCgroupLayout, type CgroupLayout } from './hierarchy.js';
import { writeV1 } from './limits.js';
import { controllersFor, v1Name, type ParentChoice } from './parent.js';

/** What of a task cgroup the move needs (TaskCgroup has it). */
export interface ExtendTarget {
  readonly paths: Readonly<Record<string, string>>;
  /** The directory named in messages; its cgroup.procs existing means the tree's cgroup is there. */
  readonly dir: string;
  pids(): number[];
  freeze(): Promise<boolean>;
  thaw(): void;
}

/** The v1 hierarchies of `choice` that `resources` need and a tree with `paths` lacks: [controller, parent]. */
export function hierarchiesToJoin(
  paths: Readonly<Record<string, string>>,
  choice: ParentChoice,
  resources: Resources,
): [string, string][] {
  const wanted = new Set(controllersFor(resources).map(v1Name));
  return Object.entries(choice.paths).filter(([c]) => wanted.has(c) && choice.controllers.includes(c) && paths[c] === undefined);
}

/**
 * Joins the tree to the hierarchies `add` (from hierarchiesToJoin()) with `resources` written
 * first; returns controller -> new directory. `going()` says the tree's cgroup is being removed
 * (the move then fails and rolls back).
 */
export async function joinHierarchies(
  tree: ExtendTarget,
  add: [string, string][],
  resources: Resources,
  opts: { swap: boolean; beforeMove?: (paths: Readonly<Record<string, string>>) => void; going: () => boolean },
): Promise<Record<string, string>> {
  const name = path.basename(tree.dir);
  const added: Record<string, string> = {};
  const made: { ctrl: string; parent: string; dir: string }[] = [];
  /** new directory -> pid -> the directory it came from in that hierarchy */
  const cameFrom = new Map<string, Map<number, string>>();
  let frozen = false;
  try {
    const mine = new Set(Object.values(tree.paths));
    for (const [ctrl, parent] of add) {
      const dir = path.join(parent, name);
      // A hierarchy co-mounted with one the tree has (cpu,cpuacct): the directory is there.
      if (!mine.has(dir) && !made.some((m) => m.dir === dir)) {
        mkdirV1(parent, dir);
        made.push({ ctrl, parent, dir });
        cameFrom.set(dir, new Map());
      }
      added[ctrl] = dir;
    }
    writeV1(added, resources, { controllers: Object.keys(added), swap: opts.swap, creating: true });
    opts.beforeMove?.({ ...tree.paths, ...added });
    // Where each process was, read once per pid, and parsed once per distinct cgroup set (a
    // tree's processes mostly share one): the tree stays frozen while this runs.
    const mountinfo = made.length > 0 ? fs.readFileSync('/proc/self/mountinfo', 'utf8') : '';
    const layouts = new Map<string, CgroupLayout['controllers']>();
    const origins = new Map<number, CgroupLayout['controllers'] | null>();
    const originOf = (pid: number, ctrl: string): string | null => {
      if (!origins.has(pid)) {
        const text = readOpt(`/proc/${pid}/cgroup`);
        if (text !== null && !layouts.has(text)) layouts.set(text, parseCgroupLayout(mountinfo, text, () => null).controllers);
        origins.set(pid, text === null ? null : layouts.get(text)!);
      }
      const c = origins.get(pid)?.[ctrl];
      return c ? path.join(c.mount, c.own) : null;
    };
    if (made.length > 0) frozen = await tree.freeze();
    for (let pass = 0; made.length > 0; pass++) {
      if (opts.going() || !exists(path.join(tree.dir, 'cgroup.procs')))
        throw new SystemError(`the tree's cgroup ${tree.dir} was removed meanwhile`, { errno: 'ENOENT', path: tree.dir });
      const pids = tree.pids();
      let moved = 0;
      for (const m of made) {
        const there = new Set(readPids(m.dir));
        for (const pid of pids) {
          if (there.has(pid)) continue;
          const from = originOf(pid, m.ctrl);
          if (from) cameFrom.get(m.dir)!.set(pid, from);
          moveInto(m.dir, pid);
          moved++;
        }
      }
      if (moved === 0) break;
      if (pass === 50)
        throw new SystemError(`the tree in ${tree.dir} kept forking while it was moved`, { errno: 'EAGAIN', path: tree.dir });
    }
    return added;
  } catch (e) {
    for (const m of made.reverse()) {
      try {
        // A child forked during the move was not seen: it goes where the others came from.
        const from = cameFrom.get(m.dir)!;
        const usual = from.values().next().value;
        for (const pid of readPids(m.dir)) {
          const to = from.get(pid) ?? usual;
          if (to) moveInto(to, pid);
        }
        fs.rmdirSync(m.dir);
      } catch {
        /* a process we could not move back keeps it: doctor lists it */
      }
    }
    if (e instanceof ConfineArgumentError) throw e;
    const err = e instanceof SystemError ? e : sysError(`cannot add a hierarchy to ${tree.dir}`, e);
    throw new SystemError(err.message, {
      syscall: err.syscall,
      errno: err.errno,
      path: err.path,
      stage: 'cgroup',
      cause: err.cause,
    });
  } finally {
    if (frozen) tree.thaw();
  }
}

/** Move a process into a cgroup directory; one that has exited meanwhile is fine. */
function moveInto(dir: string, pid: number): void {
  try {
    writeFile(path.join(dir, 'cgroup.procs'), String(pid));
  } catch (e) {
    if (errCode((e as { cause?: unknown }).cause) !== 'ESRCH') throw e;
  }
}
