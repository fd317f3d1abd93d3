// Choosing (and preparing) the parent cgroup under which task cgroups are created.
//
// v2, in order:
//   1. `cgroupParent` when given (a path inside the hierarchy, e.g. "/confine-ci" or
//      "/system.slice/ci.service/confine"; "/sys/fs/cgroup/..." is accepted too): created when
//      missing, the needed controllers enabled in cgroup.subtree_control at every level from the
//      hierarchy root down to it (levels that already have them are not written). Nothing else
//      is tried. Not root: a path a task could not be placed in is a ConfineArgumentError
//      (`error`) before anything is made: outside the delegated subtree (no write access to
//      the cgroup.procs of the common ancestor of it and the supervisor's cgroup, which the
//      kernel requires to move a process, at birth too), or not writable.
//   2. root: "/confine" under the hierarchy root. The root cgroup is exempt from the
//      no-internal-processes rule, so this works on every systemd host. Inside a container
//      (cgroup namespace) the visible root is not the real root: enabling controllers there
//      fails with EBUSY while it holds processes, and we fall through to 3 and 4.
//   3. root only: "<parent of own cgroup>/confine", then 4. "<own cgroup>/confine" (as before
//      delegation was known: a root supervisor can write anywhere).
//   Not root (and root with cgroupParent 'delegated'): the delegated subtree (delegation.ts:
//   the supervisor's own cgroup, or its parent when the supervisor sits in a leaf of it), and
//   task cgroups under "<subtree>/confine". When the subtree's cgroup itself holds processes
//   (the supervisor's own cgroup always does), the no-internal-processes rule keeps it from
//   giving controllers to children:
//     - with cgroupParent 'delegated' (the option or CONFINE_CGROUP_PARENT), every process in it
//       moves to the leaf "<subtree>/confine-supervisor" first (moveToLeaf), and task cgroups get
//       their controllers;
//     - without, task cgroups are made there WITHOUT controllers: they still give membership
//       from birth, cgroup.kill, cgroup.freeze and cpu.stat usage, but no limits; `note` says
//       why and what to do, and enforcementFor() claims nothing, so the backend falls back to
//       rlimits or reports the limits unenforced.
//     No delegated subtree: ok:false, with the reason.
//   The first candidate that offers every needed controller wins; otherwise the one that offers
//   the most. Nothing creatable: ok:false with the reasons.
//
// v1: one directory per hierarchy (co-mounted controllers share one): `cgroupParent`, else
// "/confine" (root) or "<own cgroup>/confine" (non-root, v1 has no internal-process rule).
// cpuset: every new level gets cpuset.cpus and cpuset.mems copied from its parent first, or no
// process could ever join it.
//
// hybrid (v1 controllers plus a v2 tree without any, as systemd's "unified" mount): the v1
// hierarchies as above, and the same parent in the v2 tree under the key 'unified'. Each task's
// v2 cgroup gives membership, cgroup.freeze (5.2+), cgroup.kill (5.14+) and CPU usage
// (cpu.stat) without any controller, so the tree joins only the v1 hierarchies whose limits it
// asks for: each v1 directory is a mkdir, a migration of the child and an rmdir per spawn.
// systemd tracks processes the same way on such hosts. Kernels without cgroup.freeze in the v2
// tree (before 5.2) keep the v1 way (freezer, cpuacct, pids).

import * as fs from 'node:fs';
import * as path from 'node:path';
import { ConfineArgumentError, type ConfineError } from '../errors.js';
import { isRoot } from '../proc.js';
import { asksForIo } from '../resources.js';
import type { Enforcement, Resources } from '../types.js';
import { detectCgroups, type CgroupLayout } from './hierarchy.js';
import { errCode, exists, readOpt, readPids, writeFile, ioLayer } from './files.js';
import { DELEGATED, findDelegation, moveToLeaf, SUPERVISOR_LEAF, type Delegation } from './delegation.js';

export interface ParentChoice {
  ok: boolean;
  version: 1 | 2 | null;
  /**
   * controller -> absolute directory of the parent. v2: one directory under the key 'unified'.
   * v1 on a hybrid host: also 'unified', the v2 tree that tracks the task cgroups.
   */
  paths: Record<string, string>;
  /** Directories chooseParent created (outermost first); releaseParent() removes them. */
  created: string[];
  /** What a careful caller should know about the choice (degraded controllers, fallbacks). */
  note: string | null;
  /** Why no parent could be used (ok:false), else null. */
  reason: string | null;
  /** Controllers task cgroups under this parent get (their limit files exist). */
  controllers: string[];
  /** Probed kernel features that change what can be enforced. */
  features: { swap: boolean };
  /**
   * Bad input found before anything was made (a cgroupParent this supervisor cannot use): the
   * backend throws it. ok is false then.
   */
  error?: ConfineError;
  /**
   * cgroup v2, not root or cgroupParent 'delegated': the delegated subtree the parent is in, and
   * the move that made room in it (null when none was made, or not allowed).
   */
  delegation?: Delegation & { leaf: string | null; moved: number; pending: boolean };
}

export interface ChooseOptions {
  /**
   * A path inside the hierarchy, or 'delegated': the supervisor's delegated subtree, with leave
   * to move the supervisor's processes into a leaf of it (cgroup v2's no-internal-processes rule).
   */
  cgroupParent?: string;
  /** Controllers the task cgroups may need. */
  needed: string[];
  /** Hybrid hosts: also track trees in the v2 hierarchy (default true; false = v1 only). */
  v2Tree?: boolean;
  /**
   * With 'delegated': say what the move would be instead of making it (capabilities() and
   * `confine doctor` change nothing about where the supervisor's processes live).
   */
  dryRun?: boolean;
}

/** Controllers a set of resources needs (by their v2 names: v1Name() gives the v1 one). */
export function controllersFor(r: Resources): string[] {
  const s = new Set<string>();
  if (r.memoryBytes !== undefined || r.memorySwapBytes !== undefined) s.add('memory');
  if (r.cpu !== undefined || r.cpuWeight !== undefined) s.add('cpu');
  if (r.cpus !== undefined) s.add('cpuset');
  if (r.maxProcesses !== undefined) s.add('pids');
  if (asksForIo(r)) s.add('io');
  return [...s];
}

/** A controller's name in v1: the io controller is v1's blkio; the others keep their names. */
export function v1Name(controller: string): string {
  return controller === 'io' ? 'blkio' : controller;
}

/** v2: controllers the parent enables even when no limit needs them (for stats). */
const V2_CONTROLLERS_OF_EVERY_PARENT = ['memory', 'pids'];
/**
 * v1: hierarchies the parent is made in even when no limit needs them: memory, cpuacct and pids
 * for stats, freezer for the tree kill. (Which of them each tree joins: lib/cgroup/wiring.ts.)
 */
const V1_HIERARCHIES_OF_EVERY_PARENT = ['memory', 'cpuacct', 'pids', 'freezer'];

function fail(reason: string, error?: ConfineError): ParentChoice {
  return {
    ok: false,
    version: null,
    paths: {},
    created: [],
    note: null,
    reason,
    controllers: [],
    features: { swap: false },
    ...(error ? { error } : {}),
  };
}

function uid(): number {
  return typeof process.geteuid === 'function' ? process.geteuid() : -1;
}

/** The errno of access(2) on `file` for `mode`, or null when allowed. */
function accessErrno(file: string, mode: number): string | null {
  try {
    fs.accessSync(file, mode);
    return null;
  } catch (e) {
    return errCode(e) ?? 'EACCES';
  }
}

/**
 * Not root, an explicit cgroupParent: can tasks be placed there at all? The kernel moves a
 * process (also into the cgroup it is born in) only for a writer with write access to the
 * cgroup.procs of the common ancestor of the source and the destination; and the directories
 * must be makeable. Checked before anything is made, so bad input leaves nothing behind.
 */
function checkExplicitV2(mount: string, own: string, rel: string): ConfineError | null {
  if (isRoot()) return null;
  const ancestor = commonAncestor(own, rel);
  const procs = path.join(mount, ancestor, 'cgroup.procs');
  const denied = accessErrno(procs, fs.constants.W_OK);
  if (denied) {
    const d = findDelegation(mount, own);
    return new ConfineArgumentError(
      `cgroupParent ${rel} is outside the cgroup subtree delegated to uid ${uid()}: a process can be placed there only with write access to ${procs}, the cgroup.procs of the common ancestor of ${rel} and the supervisor's cgroup ${own} (${denied}); ${d.subtree ? `the delegated subtree here is ${path.join(mount, d.subtree)}: give a path inside it, or 'delegated'` : `this supervisor has no delegated subtree (${d.reason})`}`,
      { syscall: 'access', errno: denied, path: procs },
    );
  }
  let existing = rel;
  while (existing !== '/' && !exists(path.join(mount, existing))) existing = path.posix.dirname(existing);
  const dir = path.join(mount, existing);
  const notWritable = accessErrno(dir, fs.constants.W_OK | fs.constants.X_OK);
  if (notWritable) {
    return new ConfineArgumentError(
      `cgroupParent ${rel} is not writable by uid ${uid()}: ${dir} ${existing === rel ? 'does not let us create task cgroups in it' : `does not let us create ${path.join(mount, rel)}`} (${notWritable})`,
      { syscall: 'access', errno: notWritable, path: dir },
    );
  }
  return null;
}

/** Normalise cgroupParent to a path inside the hierarchy mounted at `mount`. */
function relParent(cgroupParent: string, mounts: string[]): string {
  let p = cgroupParent;
  for (const m of mounts) {
    if (p === m || p.startsWith(m + '/')) {
      p = p.slice(m.length) || '/';
      break;
    }
  }
  if (!p.startsWith('/')) p = '/' + p;
  return path.posix.normalize(p);
}

function validRel(rel: string): string | null {
  if (rel === '/') return 'cgroupParent must not be the hierarchy root: give a directory of its own';
  if (rel.split('/').some((c) => c === '..' || c === '.')) return 'cgroupParent must not contain . or ..';
  return null;
}

/** The deepest cgroup both paths (relative to one mount, starting with '/') lie under. */
function commonAncestor(a: string, b: string): string {
  const x = a.split('/').filter(Boolean);
  const y = b.split('/').filter(Boolean);
  let i = 0;
  while (i < x.length && i < y.length && x[i] === y[i]) i++;
  return `/${x.slice(0, i).join('/')}`;
}

/** mkdir one level; returns true when we created it. */
function mkdirLevel(dir: string): boolean {
  try {
    fs.mkdirSync(dir);
    return true;
  } catch (e) {
    if (errCode(e) === 'EEXIST') return false;
    throw e;
  }
}

function rmdirQuiet(dir: string): void {
  try {
    fs.rmdirSync(dir);
  } catch {
    /* busy or gone: leave it */
  }
}

/**
 * "dir, dir: why" per distinct why: a reason shared by every hierarchy (EACCES in all seven of a
 * host's v1 hierarchies) is said once, naming its directories once.
 */
function sayOnce(failed: { dir: string; why: string }[]): string[] {
  const dirsBy = new Map<string, string[]>();
  for (const f of failed) dirsBy.set(f.why, [...(dirsBy.get(f.why) ?? []), f.dir]);
  return [...dirsBy].map(([why, dirs]) => `${dirs.join(', ')}: ${why}`);
}

function explain(e: unknown): string {
  const c = errCode(e);
  if (c === 'EBUSY') return 'EBUSY: the cgroup holds processes (no-internal-processes rule)';
  if (c === 'EACCES' || c === 'EPERM') return `${c}: not delegated to us`;
  if (c === 'ENOENT' || c === 'EINVAL') return `${c}: not available at this level`;
  if (c === 'EOPNOTSUPP') return `${c}: not supported here (threaded subtree?)`;
  return (e as Error)?.message ?? String(e);
}

interface V2Attempt {
  dir: string;
  created: string[];
  controllers: string[];
  problems: string[];
}

/** Create mount+rel level by level and enable `wanted` in each level's subtree_control. */
function prepareV2(mount: string, rel: string, wanted: string[]): V2Attempt {
  const created: string[] = [];
  const problems: string[] = [];
  let have = wanted.slice();
  const comps = rel.split('/').filter(Boolean);
  let dir = mount;
  try {
    for (let i = 0; i <= comps.length; i++) {
      if (i > 0) {
        dir = path.join(dir, comps[i - 1]!);
        if (mkdirLevel(dir)) created.push(dir);
      }
      // Enable in this level's subtree_control what the next level (or the tasks) need.
      const sc = (readOpt(path.join(dir, 'cgroup.subtree_control')) ?? '').split(/\s+/).filter(Boolean);
      // A non-root cgroup (the root has no cgroup.type) that holds processes must not hand out
      // controllers: domain ones fail with EBUSY, and threaded ones (pids, cpuset) succeed but
      // turn it into a thread root whose children are "domain invalid" and refuse processes.
      const missing = have.filter((c) => !sc.includes(c));
      if (missing.length && exists(path.join(dir, 'cgroup.type')) && readPids(dir).length > 0) {
        problems.push(
          `${dir} holds processes, so by the no-internal-processes rule it cannot give ${missing.join(', ')} to child cgroups`,
        );
        have = have.filter((c) => sc.includes(c));
        continue;
      }
      const next: string[] = [];
      for (const c of have) {
        if (sc.includes(c)) {
          next.push(c);
          continue;
        }
        try {
          writeFile(path.join(dir, 'cgroup.subtree_control'), `+${c}`);
          next.push(c);
        } catch (e) {
          problems.push(`${c} cannot be enabled in ${dir}: ${explain((e as { cause?: unknown }).cause ?? e)}`);
        }
      }
      have = next;
    }
  } catch (e) {
    for (const d of created.slice().reverse()) rmdirQuiet(d);
    throw e;
  }
  return { dir, created, controllers: have, problems };
}

function chooseV2(layout: CgroupLayout, opts: ChooseOptions): ParentChoice {
  const uni = layout.unified!;
  const rootCtrls = layout.hierarchies.find((h) => h.version === 2)?.controllers ?? [];
  const wanted = [...new Set([...opts.needed, ...V2_CONTROLLERS_OF_EVERY_PARENT])].filter((c) => rootCtrls.includes(c));
  const missingAtRoot = opts.needed.filter((c) => !rootCtrls.includes(c));
  type Cand = { rel: string; why: string };
  const cands: Cand[] = [];
  const delegatedMode = opts.cgroupParent === DELEGATED;
  let delegation: ParentChoice['delegation'];
  if (opts.cgroupParent !== undefined && !delegatedMode) {
    const rel = relParent(opts.cgroupParent, [uni.mount]);
    const bad = validRel(rel);
    if (bad) return fail(bad);
    const error = checkExplicitV2(uni.mount, uni.own, rel);
    if (error) return fail(error.message, error);
    cands.push({ rel, why: 'cgroupParent' });
  } else if (isRoot() && !delegatedMode) {
    cands.push({ rel: '/confine', why: 'root: a confine subtree under the hierarchy root' });
    if (uni.own !== '/') {
      const up = path.posix.dirname(uni.own);
      if (up !== '/') cands.push({ rel: path.posix.join(up, 'confine'), why: "a sibling of the supervisor's own cgroup" });
    }
    cands.push({ rel: path.posix.join(uni.own, 'confine'), why: "under the supervisor's own cgroup" });
  } else {
    // Not root, or told to use the delegated subtree: see delegation.ts.
    const d = findDelegation(uni.mount, uni.own);
    if (d.subtree === null) return fail(`no delegated cgroup v2 subtree: ${d.reason}; ${HOW_TO_DELEGATE}`);
    const dir = path.join(uni.mount, d.subtree);
    const rel = path.posix.join(d.subtree, 'confine');
    const where =
      d.via === 'parent'
        ? `delegated: ${dir}, the parent of the supervisor's cgroup`
        : d.via === 'root'
          ? `the hierarchy root ${dir}`
          : `delegated: ${dir}, the supervisor's own cgroup`;
    delegation = { ...d, leaf: null, moved: 0, pending: false };
    if (d.processes.length === 0) {
      cands.push({ rel, why: where });
    } else if (!delegatedMode) {
      cands.push({ rel, why: blockedNote(dir, d.processes.length) });
    } else if (opts.dryRun) {
      // What the move would give: the subtree's controllers, once it holds no process.
      const leaf = path.join(dir, SUPERVISOR_LEAF);
      const controllers = wanted.filter((c) => d.controllers.includes(c));
      const lacking = opts.needed.filter((n) => !controllers.includes(n));
      return {
        ok: true,
        version: 2,
        paths: { unified: path.join(uni.mount, rel) },
        created: [],
        note: [
          `${where}; its ${d.processes.length} process(es) are to move into ${leaf} when the first tree is made (cgroup v2's no-internal-processes rule; allowed by 'delegated')`,
          ...(lacking.length ? [`controllers not delegated: ${lacking.join(', ')}`] : []),
        ].join('; '),
        reason: null,
        controllers,
        features: { swap: controllers.includes('memory') && exists(path.join(dir, 'memory.swap.max')) },
        delegation: { ...delegation, leaf, pending: true },
      };
    } else {
      const m = moveToLeaf(dir);
      delegation = { ...delegation, leaf: m.leaf, moved: m.moved, processes: readPids(dir) };
      if (m.moved > 0) detectCgroups({ refresh: true }); // the supervisor's own cgroup is the leaf now
      cands.push({
        rel,
        why: m.error
          ? `${where}; the no-internal-processes rule could not be met: ${m.error}`
          : `${where}; its ${m.moved} process(es) moved into ${m.leaf} (cgroup v2's no-internal-processes rule; allowed by 'delegated')`,
      });
    }
  }

  const failures: string[] = [];
  let best: { a: V2Attempt; why: string } | null = null;
  const losers: V2Attempt[] = [];
  for (const c of cands) {
    let a: V2Attempt;
    try {
      a = prepareV2(uni.mount, c.rel, wanted);
    } catch (e) {
      failures.push(`${path.join(uni.mount, c.rel)}: ${explain((e as { cause?: unknown }).cause ?? e)}`);
      continue;
    }
    const score = (x: V2Attempt) => opts.needed.filter((n) => x.controllers.includes(n)).length;
    if (!best || score(a) > score(best.a)) {
      if (best) losers.push(best.a);
      best = { a, why: c.why };
    } else {
      losers.push(a);
    }
    if (score(best.a) === opts.needed.length) break;
    failures.push(...a.problems);
  }
  for (const l of losers) for (const d of l.created.slice().reverse()) rmdirQuiet(d);
  if (!best) return fail(`no writable cgroup v2 parent: ${failures.join('; ')}`);
  const { a } = best;
  const notes: string[] = [best.why];
  const lacking = opts.needed.filter((n) => !a.controllers.includes(n));
  if (delegation && delegation.processes.length > 0 && !delegatedMode && a.controllers.length === 0) {
    // Blocked by the no-internal-processes rule: best.why (blockedNote) says so once; the
    // problems of prepareV2 would only say it again. What the trees still get, and what to do.
    notes.push(
      'task cgroups still give tree membership, cgroup.kill/freeze and CPU usage',
      `to have limits, let confine move those processes into ${path.join(uni.mount, delegation.subtree!, SUPERVISOR_LEAF)}: cgroupParent '${DELEGATED}' or CONFINE_CGROUP_PARENT=${DELEGATED}; or start the supervisor in a leaf of the delegated cgroup (systemd: DelegateSubgroup=)`,
    );
  } else {
    if (lacking.length) {
      notes.push(`controllers not available to task cgroups: ${lacking.join(', ')}`);
      if (missingAtRoot.length) notes.push(`not in this kernel's cgroup2 root: ${missingAtRoot.join(', ')}`);
      notes.push(...a.problems);
    }
    if (a.controllers.length === 0)
      notes.push(
        'task cgroups give tree membership, cgroup.kill/freeze and CPU usage only; resource limits need a parent whose cgroup.subtree_control can be set (a delegated cgroup without processes)',
      );
  }
  const memOk = a.controllers.includes('memory');
  // The parent itself is never the root, so with memory enabled above it, its memory.swap.max
  // exists exactly when the kernel accounts swap.
  const swap = memOk && exists(path.join(a.dir, 'memory.swap.max'));
  return {
    ok: true,
    version: 2,
    paths: { unified: a.dir },
    created: a.created,
    note: notes.join('; '),
    reason: null,
    controllers: a.controllers,
    features: { swap },
    ...(delegation ? { delegation } : {}),
  };
}

/** How to get a delegated subtree: the short form for notes (confine doctor says it in full). */
const HOW_TO_DELEGATE =
  "to get one, run the supervisor in a systemd unit with Delegate=yes (and DelegateSubgroup=supervisor), or under `systemd-run --user --scope -p Delegate=yes` with cgroupParent 'delegated' (confine doctor says more)";

function blockedNote(dir: string, processes: number): string {
  return `delegated: ${dir}, but it holds ${processes} process(es) (the supervisor, and whatever else runs in its cgroup): by cgroup v2's no-internal-processes rule it cannot enable controllers for task cgroups, so they get no memory, CPU or process-count limits`;
}

function copyCpuset(dir: string): void {
  const parent = path.dirname(dir);
  for (const f of ['cpuset.cpus', 'cpuset.mems']) {
    const cur = (readOpt(path.join(dir, f)) ?? '').trim();
    if (cur) continue;
    const v = (readOpt(path.join(parent, f)) ?? '').trim();
    if (v) writeFile(path.join(dir, f), v);
  }
}

/** v1: mkdir -p mount+rel, copying cpuset.cpus/mems into every new level of a cpuset hierarchy. */
function prepareV1(mount: string, rel: string, cpuset: boolean): { dir: string; created: string[] } {
  const created: string[] = [];
  let dir = mount;
  try {
    for (const comp of rel.split('/').filter(Boolean)) {
      dir = path.join(dir, comp);
      const made = mkdirLevel(dir);
      if (made) created.push(dir);
      if (cpuset) copyCpuset(dir);
    }
  } catch (e) {
    for (const d of created.slice().reverse()) rmdirQuiet(d);
    throw e;
  }
  return { dir, created };
}

function chooseV1(layout: CgroupLayout, opts: ChooseOptions): ParentChoice {
  const v1 = layout.hierarchies.filter((h) => h.version === 1);
  const needed = opts.needed.map(v1Name);
  const wanted = [...new Set([...needed, ...V1_HIERARCHIES_OF_EVERY_PARENT])];
  const paths: Record<string, string> = {};
  const created: string[] = [];
  const problems: string[] = [];
  const failed: { dir: string; why: string }[] = []; // v1 directories that could not be made or used
  const got: string[] = [];
  // One relative path for every hierarchy: "/sys/fs/cgroup/<any mount>/x" and "/x" alike.
  // 'delegated' on v1: the supervisor's own cgroups (v1 has no internal-process rule), also as root.
  const delegatedMode = opts.cgroupParent === DELEGATED;
  const cp =
    opts.cgroupParent !== undefined && !delegatedMode
      ? relParent(opts.cgroupParent, [...v1.map((h) => h.mount), ...(layout.unified ? [layout.unified.mount] : [])])
      : null;
  if (cp !== null) {
    const bad = validRel(cp);
    if (bad) return fail(bad);
  }
  const ownRel = (own: string) => (isRoot() && !delegatedMode ? '/confine' : path.posix.join(own, 'confine'));
  let denied: { errno: string; dir: string; syscall: string } | null = null;
  for (const h of v1) {
    const use = h.controllers.filter((c) => wanted.includes(c));
    if (use.length === 0) continue;
    const rel = cp ?? ownRel(h.own);
    try {
      const r = prepareV1(h.mount, rel, h.controllers.includes('cpuset'));
      created.push(...r.created);
      // A directory that was already there (a root supervisor's /confine) may not be ours.
      const closed = isRoot() ? null : accessErrno(r.dir, fs.constants.W_OK | fs.constants.X_OK);
      if (closed) throw Object.assign(new Error(`${closed}: ${r.dir}`), { code: closed, path: r.dir, syscall: 'access' });
      for (const c of h.controllers) paths[c] = r.dir;
      got.push(...h.controllers);
    } catch (e) {
      const cause = (e as { cause?: unknown }).cause ?? e;
      const c = errCode(cause);
      if (!denied && (c === 'EACCES' || c === 'EPERM' || c === 'EROFS'))
        denied = {
          errno: c,
          dir: (cause as NodeJS.ErrnoException).path ?? path.join(h.mount, rel),
          syscall: (cause as NodeJS.ErrnoException).syscall ?? 'mkdir',
        };
      failed.push({ dir: path.join(h.mount, rel), why: explain(cause) });
    }
  }
  problems.push(...sayOnce(failed));
  if (got.length === 0) {
    for (const d of created.slice().reverse()) rmdirQuiet(d);
    const reason = `no writable cgroup v1 parent: ${problems.join('; ') || 'no v1 hierarchy carries a useful controller'}`;
    // An explicit cgroupParent nobody may write to is bad input, not a degraded host.
    if (cp !== null && denied)
      return fail(
        reason,
        new ConfineArgumentError(
          `cgroupParent ${cp} is not writable by uid ${uid()} in any cgroup v1 hierarchy: ${problems.join('; ')}`,
          { syscall: denied.syscall, errno: denied.errno, path: denied.dir },
        ),
      );
    return fail(reason);
  }
  // Hybrid host: the v2 tree (no controllers) tracks the tree. See "hybrid" in the header.
  let tracked = false;
  if (layout.mode === 'hybrid' && layout.unified && opts.v2Tree !== false) {
    const uni = layout.unified;
    const rel = cp ?? ownRel(uni.own);
    // v2 lets a process move a task (also into the cgroup it is born in) only with write access
    // to cgroup.procs of the common ancestor of both cgroups (root passes; a delegated subtree
    // passes when it holds both). Checked first: a tree that cannot be placed there must not try.
    const ancestorProcs = path.join(uni.mount, commonAncestor(uni.own, rel), 'cgroup.procs');
    if (!isRoot() && accessErrno(ancestorProcs, fs.constants.W_OK) !== null) {
      problems.push(`v2 tree not used: ${ancestorProcs} is not writable by us`);
    } else {
      try {
        const r = prepareV2(uni.mount, rel, []);
        if (exists(path.join(r.dir, 'cgroup.freeze'))) {
          created.push(...r.created);
          paths.unified = r.dir;
          tracked = true;
        } else {
          for (const d of r.created.slice().reverse()) rmdirQuiet(d);
          problems.push('v2 tree not used: it has no cgroup.freeze (kernel before 5.2)');
        }
      } catch (e) {
        problems.push(`v2 tree not used: ${path.join(uni.mount, rel)}: ${explain((e as { cause?: unknown }).cause ?? e)}`);
      }
    }
  }
  const notes: string[] = [
    cp !== null
      ? 'cgroupParent'
      : isRoot() && !delegatedMode
        ? 'root: a confine directory in each v1 hierarchy'
        : "a confine directory under the supervisor's own cgroup in each v1 hierarchy",
  ];
  const lacking = needed.filter((n) => !got.includes(n));
  if (lacking.length) notes.push(`controllers not available: ${lacking.join(', ')}`);
  if (tracked)
    notes.push(
      'hybrid host: each tree also joins a v2 cgroup before exec (membership, cgroup.kill, freeze, CPU usage); v1 hierarchies only for the limits asked for',
    );
  else if (!got.includes('freezer'))
    notes.push('no freezer hierarchy: the tree kill signals in a loop and a fast forker can race it (pids.max bounds it)');
  notes.push(...problems);
  const swap = paths.memory !== undefined && exists(path.join(paths.memory, 'memory.memsw.limit_in_bytes'));
  return {
    ok: true,
    version: 1,
    paths,
    created,
    note: notes.join('; '),
    reason: null,
    controllers: got,
    features: { swap },
  };
}

/**
 * Pick and prepare the parent for task cgroups. Synchronous; call it once per supervisor (or
 * per distinct cgroupParent) and reuse the result: it creates directories and enables
 * controllers, which is idempotent but not free.
 */
export function chooseParent(layout: CgroupLayout, opts: ChooseOptions): ParentChoice {
  if (layout.mode === 'none') return fail(layout.reason ?? 'no cgroup hierarchy');
  const v1Useful = layout.hierarchies.some(
    (h) =>
      h.version === 1 &&
      h.controllers.some((c) => opts.needed.map(v1Name).includes(c) || V1_HIERARCHIES_OF_EVERY_PARENT.includes(c)),
  );
  if (layout.mode === 'v1' || (layout.mode === 'hybrid' && v1Useful)) return chooseV1(layout, opts);
  if (!layout.unified) return fail('no cgroup v2 hierarchy and no useful v1 hierarchy');
  return chooseV2(layout, opts);
}

/** Remove the directories chooseParent created, when empty (tests, or a supervisor's own parent). */
export function releaseParent(choice: ParentChoice): string[] {
  const removed: string[] = [];
  for (const d of choice.created.slice().reverse()) {
    try {
      fs.rmdirSync(d);
      removed.push(d);
    } catch {
      /* still in use */
    }
  }
  return removed;
}

/**
 * What enforcementFor() looks at: of a parent choice, or of a running task cgroup (its version,
 * controllers and swap accounting).
 */
export type CgroupCapacity = Pick<ParentChoice, 'ok' | 'version' | 'controllers' | 'features'> & {
  /** Its directories (a parent's or a task cgroup's): the IO weight files are looked for there. */
  paths?: Readonly<Record<string, string>>;
};

/**
 * How the given resources would be enforced by task cgroups under `choice` (or by one task
 * cgroup): only the cgroup resources (memoryBytes, memorySwapBytes, cpu, cpuWeight, cpus,
 * maxProcesses) the hierarchy can enforce appear; the others are for the caller (rlimits) to
 * report. The IO resources appear whenever the tree has the io (v1 blkio) controller, enforced
 * or saying why not (a device without a disk, v1 buffered writes: lib/cgroup/io.ts).
 */
export function enforcementFor(choice: CgroupCapacity, resources: Resources): Partial<Record<keyof Resources, Enforcement>> {
  const out: Partial<Record<keyof Resources, Enforcement>> = {};
  if (!choice.ok || choice.version === null) return out;
  const v = choice.version;
  const mechanism = v === 2 ? 'cgroup2' : 'cgroup1';
  const has = (c: string) => choice.controllers.includes(c);
  const e = (note: string): Enforcement => ({ enforced: true, mechanism, scope: 'tree', note });
  if (resources.memoryBytes !== undefined && has('memory')) {
    out.memoryBytes = e(
      v === 2
        ? `memory.max, memory.oom.group=1 (an OOM kills the whole tree)${resources.memorySwapBytes === undefined && choice.features.swap ? ', memory.swap.max=0 (no swap unless memorySwapBytes)' : ''}`
        : `memory.limit_in_bytes${resources.memorySwapBytes === undefined && choice.features.swap ? ', memory.memsw.limit_in_bytes equal (no swap unless memorySwapBytes)' : ''}; v1 OOM kills one process, not the whole tree`,
    );
  }
  if (resources.memorySwapBytes !== undefined && has('memory') && choice.features.swap) {
    if (v === 2) out.memorySwapBytes = e('memory.swap.max');
    else if (resources.memoryBytes !== undefined)
      out.memorySwapBytes = e('memory.memsw.limit_in_bytes = memoryBytes + memorySwapBytes');
  }
  if (resources.cpu !== undefined && has('cpu'))
    out.cpu = e(v === 2 ? 'cpu.max, period 100 ms' : 'cpu.cfs_quota_us / cpu.cfs_period_us, period 100 ms');
  if (resources.cpuWeight !== undefined && has('cpu'))
    out.cpuWeight = e(v === 2 ? 'cpu.weight' : 'cpu.shares, converted from the weight as runc does');
  if (resources.cpus !== undefined && has('cpuset')) out.cpus = e('cpuset.cpus');
  if (resources.maxProcesses !== undefined && has('pids')) out.maxProcesses = e('pids.max (processes and threads)');
  const ioDir = v === 2 ? choice.paths?.unified : choice.paths?.blkio;
  if (has(v === 2 ? 'io' : 'blkio') && ioDir !== undefined && asksForIo(resources))
    Object.assign(out, ioLayer().ioEnforcement(v, ioDir, has('memory'), resources));
  return out;
}
