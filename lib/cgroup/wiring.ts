// How the linux backend uses the cgroup module, and how capabilities() sees the same parent:
// one parent choice per cgroupParent (made on first use), the hierarchies each tree joins, a
// tree's task cgroup taken from the pool (guarded by the killOnParentExit watchdog when it should
// be), update() of a running tree's cgroup, and the parent an adopted task cgroup was made under.
// Not a backend: lib/backends/native.ts and lib/capabilities.ts import it.

import * as path from 'node:path';
import { guardCgroup, unguard, watchdogPid } from '../lifecycle/watchdog.js';
import { asksForIo, TREE_RESOURCES } from '../resources.js';
import type { EnforcedMap, Resources } from '../types.js';
import { detectCgroups } from './hierarchy.js';
import { DELEGATED } from './delegation.js';
import { chooseParent, enforcementFor, type ParentChoice } from './parent.js';
import { taskCgroupPool } from './pool.js';
import type { TaskCgroup } from './task-cgroup.js';

/** Controllers task cgroups may need: the parent is prepared with these where it can be. */
const CGROUP_CONTROLLERS = ['memory', 'cpu', 'cpuset', 'pids', 'io'];

/**
 * One parent choice per cgroupParent, made on first use: it may create directories, and with
 * 'delegated' move the supervisor's processes into a leaf (lib/cgroup/delegation.ts). A choice
 * made while describeOnly() runs makes no such move and is not kept.
 */
const parents = new Map<string, ParentChoice>();
let describing = 0;
export function parentFor(cgroupParent: string | undefined): ParentChoice {
  const key = cgroupParent ?? '';
  let p = parents.get(key);
  if (!p) {
    const dryRun = describing > 0 && key === DELEGATED;
    p = chooseParent(detectCgroups(), { cgroupParent, needed: CGROUP_CONTROLLERS, dryRun });
    if (dryRun) return p;
    // The supervisor's own cgroup changed: choices made before the move looked at the old one.
    if (p.delegation?.moved) parents.clear();
    parents.set(key, p);
  }
  return p;
}

/** Run `fn` (capabilities(), confine doctor) without moving the supervisor's processes. */
export function describeOnly<T>(fn: () => T): T {
  describing++;
  try {
    return fn();
  } finally {
    describing--;
  }
}

/**
 * The parent the linux backend puts trees under, or null where tree limits must come from
 * elsewhere; throws the typed error of a cgroupParent that cannot be used (bad input, before
 * anything starts).
 */
export function usableParent(cgroupParent: string | undefined): ParentChoice | null {
  const p = parentFor(cgroupParent);
  if (p.error) throw p.error;
  return p.ok ? p : null;
}

/** Why the cgroup limits of trees under `cgroupParent` are not enforced (the note says what to do). */
export function whyNoCgroupLimit(cgroupParent: string | undefined): string {
  const p = parentFor(cgroupParent);
  return p.reason ?? p.note ?? 'the cgroup controller is not available';
}

/**
 * v1, pure (no v2 tree beside it): the hierarchies every tree joins, whatever its limits: pids
 * (process count), freezer (the exact tree kill) and cpuacct (CPU usage).
 */
const V1_HIERARCHIES_OF_EVERY_TREE = ['pids', 'freezer', 'cpuacct'];

/**
 * v1 only: the hierarchies this tree needs. Each v1 hierarchy is a directory to make and remove
 * per spawn and a migration of the child into it, and a memory cgroup is by far the costliest
 * for the kernel to create, so memory, cpu, cpuset and blkio join only when a limit asks for them.
 * pids, freezer and cpuacct always do (V1_HIERARCHIES_OF_EVERY_TREE), unless the host is hybrid:
 * then the v2 tree ('unified') does their work and pids joins only for maxProcesses. Memory use
 * then comes from /proc.
 */
export function narrowChoice(choice: ParentChoice, r: Resources): ParentChoice {
  if (choice.version !== 1) return choice;
  // Which of the five the limits ask for, as bits: the narrowed choice is made once per set.
  const asks =
    (r.maxProcesses !== undefined ? 1 : 0) |
    (r.memoryBytes !== undefined || r.memorySwapBytes !== undefined ? 2 : 0) |
    (r.cpu !== undefined || r.cpuWeight !== undefined ? 4 : 0) |
    (r.cpus !== undefined ? 8 : 0) |
    (asksForIo(r) ? 16 : 0);
  let made = narrowed.get(choice);
  if (!made) {
    made = new Map();
    narrowed.set(choice, made);
  }
  let out = made.get(asks);
  if (!out) {
    const keep = new Set(choice.paths.unified !== undefined ? ['unified'] : V1_HIERARCHIES_OF_EVERY_TREE);
    if (asks & 1) keep.add('pids');
    if (asks & 2) keep.add('memory');
    if (asks & 4) keep.add('cpu');
    if (asks & 8) keep.add('cpuset');
    if (asks & 16) keep.add('blkio');
    const paths = Object.fromEntries(Object.entries(choice.paths).filter(([c]) => keep.has(c)));
    out = { ...choice, paths, controllers: choice.controllers.filter((c) => keep.has(c)) };
    made.set(asks, out);
  }
  return out;
}
/** narrowChoice()'s results per parent choice, by the bits of what the limits ask for. */
const narrowed = new WeakMap<ParentChoice, Map<number, ParentChoice>>();

// Spare cgroups are empty, but a supervisor killed with them would leave them: where the
// killOnParentExit watchdog already runs, it removes them too. A spare that then goes to a tree
// without killOnParentExit is unregistered again, or the watchdog would kill that tree when the
// supervisor exits. The pool's hooks are set by the first takeTaskCgroup(): spares exist only
// after a take.
const guardedSpares = new WeakMap<TaskCgroup, number>();
let sparesGuarded = false;
function guardSpares(): void {
  if (sparesGuarded) return;
  sparesGuarded = true;
  taskCgroupPool.onSpare = (tc) => {
    if (watchdogPid() === null) return;
    const id = guardCgroup(tc.paths);
    if (id > 0) guardedSpares.set(tc, id);
  };
  taskCgroupPool.onDrop = (tc) => {
    const id = guardedSpares.get(tc);
    if (id !== undefined) unguard(id);
  };
}

/**
 * The task cgroup of a new tree under `parent`, with the hierarchies and limits `resources`
 * need: a spare from the pool when one is ready. With `killOnParentExit` the watchdog learns it
 * before its first process exists; without, a spare the watchdog guarded is unregistered.
 */
export function takeTaskCgroup(parent: ParentChoice, resources: Resources, killOnParentExit: boolean): TaskCgroup {
  guardSpares();
  const cgroup = taskCgroupPool.take(narrowChoice(parent, resources), resources);
  if (killOnParentExit) guardCgroup(cgroup.paths);
  else if (guardedSpares.has(cgroup)) unguard(guardedSpares.get(cgroup)!);
  return cgroup;
}

/**
 * For a spawn that failed (with `why`) because `gone`, a spare takeTaskCgroup() gave it, was
 * removed behind the pool's back: a fresh task cgroup of its kind, guarded as takeTaskCgroup()
 * guards one, and `gone` forgotten (TaskCgroupPool.replaceGone()). null when `gone` is not such a
 * spare (a cgroup made for this spawn, or a replacement already): the failure is then the caller's.
 */
export function replaceGoneTaskCgroup(gone: TaskCgroup, killOnParentExit: boolean, why?: unknown): TaskCgroup | null {
  const fresh = taskCgroupPool.replaceGone(gone, why);
  if (fresh && killOnParentExit) guardCgroup(fresh.paths);
  return fresh;
}

/**
 * update() of a running tree's cgroup: the cgroup limits among `resources` are written to it;
 * on v1 and hybrid hosts a limit of a kind the tree started without first joins it to that
 * hierarchy under `parent` (TaskCgroup.extend; `hooks.beforeMove` sees the new paths before any
 * process moves, `hooks.extended` after). Returns the enforcement of the limits it wrote; the
 * caller answers for the others (rlimits, limits without a controller).
 */
export async function updateTreeCgroup(
  cgroup: TaskCgroup,
  parent: ParentChoice | null,
  resources: Resources,
  hooks: { beforeMove?: (paths: Readonly<Record<string, string>>) => void; extended?: (cg: TaskCgroup) => void } = {},
): Promise<EnforcedMap> {
  const cgKeys = (Object.keys(resources) as (keyof Resources)[]).filter((k) => TREE_RESOURCES.includes(k));
  if (cgKeys.length === 0) return {};
  const sub: Resources = Object.create(null);
  for (const k of cgKeys) (sub as Record<string, unknown>)[k] = resources[k];
  if (parent && (await cgroup.extend(parent, sub, hooks.beforeMove)).length > 0) hooks.extended?.(cgroup);
  cgroup.update(sub);
  return enforcementFor(
    {
      ok: true,
      version: cgroup.version,
      controllers: cgroup.controllers,
      features: { swap: cgroup.swapAccounting },
      paths: cgroup.paths,
    },
    sub,
  );
}

/**
 * The parent choice an adopted task cgroup was made under: its directory's parent, relative to
 * its hierarchy's mount, as a cgroupParent (so update() can join it to more hierarchies there).
 */
export function parentOfAdopted(cg: TaskCgroup): ParentChoice | null {
  const dir = cg.paths.unified ?? cg.dir;
  const h = detectCgroups().hierarchies.find((x) => dir.startsWith(`${x.mount}/`));
  if (!h) return null;
  const p = parentFor(`/${path.relative(h.mount, path.dirname(dir))}`);
  return p.ok ? p : null;
}
