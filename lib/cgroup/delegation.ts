// A supervisor's delegated cgroup v2 subtree: the part of the hierarchy that is its to manage
// (systemd's Delegate=, a container's own cgroup namespace, or a directory an administrator
// chowned to it), what it offers, and, only when the caller allows it, making room in it.
//
// Delegated: a cgroup counts as delegated to this user when the user owns it: the directory,
// its cgroup.procs and cgroup.subtree_control, and whichever of the files that
// /sys/kernel/cgroup/delegate lists exist in it. That is exactly what systemd's Delegate=yes
// and `chown` by an administrator hand over. For root every cgroup is "owned", so ownership says
// nothing there: root takes its own cgroup.
//
// Which cgroup task cgroups go under (`subtree`):
//   - the supervisor's own cgroup, when it is delegated;
//   - its parent instead, when the supervisor sits in a leaf of a delegated parent (systemd's
//     DelegateSubgroup=, or a leaf we moved into earlier). A parent named *.slice is never
//     used: systemd delegates only service and scope units, so a slice the user happens to own
//     (everything under user@UID.service is) is systemd's, not ours. As root, only the leaf of
//     our own making (SUPERVISOR_LEAF) points to the parent: ownership cannot tell otherwise.
//   - the hierarchy root, when the supervisor is in it (exempt from the rule below).
//
// The no-internal-processes rule of cgroup v2: a non-root cgroup that holds processes cannot
// enable controllers for its children. The supervisor's own delegated cgroup holds at least the
// supervisor, so before task cgroups can get memory, cpu or pids, every process in it must move
// to a leaf below it: runc and podman do this, systemd's DelegateSubgroup= does it at start.
// `moveToLeaf()` does it here, and only when the caller allows it (cgroupParent 'delegated' or
// CONFINE_CGROUP_PARENT=delegated): the leaf stays inside the same delegated cgroup, so the
// limits its owner set on it still hold for the supervisor, but it is a change to where the
// supervisor's processes live, and not ours to make unasked.
//
// Which processes move: every one listed in the cgroup, not only the supervisor. The rule needs
// it empty, and whatever else is there (the killOnParentExit watchdog, a wrapper shell, children
// started by child_process) came with the supervisor. Writing a pid to cgroup.procs moves the
// whole thread group at once (a thread being created meanwhile lands with its process). A child
// forked while its parent is being moved starts in the parent's old cgroup, so the listing is
// read again and moved again until it is empty: the kernel serializes fork against migration,
// so every such child shows up in the next listing, and once its parent has moved no new one can
// appear there.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { errCode, exists, readOpt, readPids, writeFile } from './files.js';

/** The cgroupParent keyword: task cgroups go under the supervisor's delegated subtree. */
export const DELEGATED = 'delegated';

/** The leaf the supervisor's processes move into (named so that what confine makes says so). */
export const SUPERVISOR_LEAF = 'confine-supervisor';

export interface Delegation {
  /** The supervisor's own cgroup, relative to the mount. */
  own: string;
  /** The delegated cgroup task cgroups go under (relative to the mount), or null: none. */
  subtree: string | null;
  /** How `subtree` was found: the supervisor's own cgroup, its parent, or the hierarchy root. */
  via: 'own' | 'parent' | 'root' | null;
  /** Controllers the subtree offers (its cgroup.controllers). */
  controllers: string[];
  /**
   * Processes in the subtree's cgroup itself. By the no-internal-processes rule they keep it from
   * enabling controllers for task cgroups (always empty for the hierarchy root, which is exempt).
   */
  processes: number[];
  /** Why there is no delegated subtree (subtree null), else null. */
  reason: string | null;
}

let delegateFilesCache: string[] | null = null;

/**
 * The interface files a delegation hands over (/sys/kernel/cgroup/delegate, kernel 4.15+;
 * before that the three every delegation has).
 */
export function delegateFiles(): string[] {
  if (delegateFilesCache) return delegateFilesCache;
  const listed = (readOpt('/sys/kernel/cgroup/delegate') ?? '').split('\n').filter(Boolean);
  delegateFilesCache = [...new Set(['cgroup.procs', 'cgroup.subtree_control', ...listed])];
  if (!listed.length) delegateFilesCache.push('cgroup.threads');
  return delegateFilesCache;
}

function ownerOf(file: string): number | null {
  try {
    return fs.statSync(file).uid;
  } catch (e) {
    if (errCode(e) === 'ENOENT') return null;
    throw e;
  }
}

/**
 * Whether `dir` is delegated to `uid`: the directory, cgroup.procs, cgroup.subtree_control and
 * every file of delegateFiles() present in it are owned by that user. Returns null when they
 * are, else what is not (for messages).
 */
export function notOwned(dir: string, uid: number): string | null {
  const d = ownerOf(dir);
  if (d === null) return `${dir} does not exist`;
  if (d !== uid) return `${dir} is owned by uid ${d}`;
  for (const f of delegateFiles()) {
    const file = path.join(dir, f);
    const o = ownerOf(file);
    if (o === null && (f === 'cgroup.procs' || f === 'cgroup.subtree_control')) return `${file} does not exist`;
    if (o !== null && o !== uid) return `${file} is owned by uid ${o}`;
  }
  return null;
}

/** The hierarchy's real root (not a cgroup namespace's root): it has no cgroup.type. */
export function isHierarchyRoot(dir: string): boolean {
  return !exists(path.join(dir, 'cgroup.type'));
}

function euid(): number {
  return typeof process.geteuid === 'function' ? process.geteuid() : -1;
}

/** The delegated subtree of a supervisor whose own cgroup is `own` in the v2 hierarchy at `mount`. */
export function findDelegation(mount: string, own: string, uid = euid()): Delegation {
  const at = (rel: string) => path.join(mount, rel);
  const controllersOf = (rel: string) => (readOpt(path.join(at(rel), 'cgroup.controllers')) ?? '').split(/\s+/).filter(Boolean);
  const found = (rel: string, via: Delegation['via']): Delegation => ({
    own,
    subtree: rel,
    via: isHierarchyRoot(at(rel)) ? 'root' : via,
    controllers: controllersOf(rel),
    processes: isHierarchyRoot(at(rel)) ? [] : readPids(at(rel)),
    reason: null,
  });
  const none = (reason: string): Delegation => ({ own, subtree: null, via: null, controllers: [], processes: [], reason });
  if (own === '/' && isHierarchyRoot(at(own))) {
    if (uid === 0) return found(own, 'root');
    return none(`the supervisor runs in the root cgroup (${mount}), which only root manages`);
  }
  if (own !== '/') {
    const up = path.posix.dirname(own);
    const parentIsOurs =
      uid === 0
        ? path.posix.basename(own) === SUPERVISOR_LEAF
        : !up.endsWith('.slice') && !(up === '/' && isHierarchyRoot(at(up))) && notOwned(at(up), uid) === null;
    if (parentIsOurs) return found(up, 'parent');
  }
  const why = uid === 0 ? null : notOwned(at(own), uid);
  if (why === null) return found(own, 'own');
  return none(`the supervisor's cgroup ${at(own)} is not delegated to uid ${uid}: ${why}`);
}

export interface LeafMove {
  /** The leaf (absolute) the processes went to. */
  leaf: string;
  /** Whether moveToLeaf() created it (else it was there: a leaf an earlier supervisor made). */
  created: boolean;
  /** How many processes were moved. */
  moved: number;
  /** Why the cgroup could not be emptied (some processes stay), else null. */
  error: string | null;
}

/** Rounds of "list, move" before giving up on emptying a cgroup (each round needs a new fork to lose). */
const MOVE_ROUNDS = 100;

/**
 * Move every process of the cgroup `dir` into its leaf SUPERVISOR_LEAF (made when missing),
 * until the cgroup holds none. See the header for why all of them and why in rounds.
 */
export function moveToLeaf(dir: string): LeafMove {
  const leaf = path.join(dir, SUPERVISOR_LEAF);
  let created = false;
  try {
    fs.mkdirSync(leaf);
    created = true;
  } catch (e) {
    if (errCode(e) !== 'EEXIST') return { leaf, created, moved: 0, error: `cannot create ${leaf}: ${errCode(e) ?? e}` };
  }
  const procs = path.join(leaf, 'cgroup.procs');
  let moved = 0;
  for (let round = 0; round < MOVE_ROUNDS; round++) {
    const pids = readPids(dir);
    if (pids.length === 0) return { leaf, created, moved, error: null };
    for (const pid of pids) {
      try {
        writeFile(procs, String(pid));
        moved++;
      } catch (e) {
        const c = errCode((e as { cause?: unknown }).cause);
        if (c === 'ESRCH') continue; // exited meanwhile
        return { leaf, created, moved, error: `cannot move pid ${pid} into ${leaf}: ${c ?? (e as Error).message}` };
      }
    }
  }
  const left = readPids(dir);
  if (left.length === 0) return { leaf, created, moved, error: null };
  return {
    leaf,
    created,
    moved,
    error: `${dir} still holds ${left.length} process(es) after ${MOVE_ROUNDS} rounds of moving (pids ${left.slice(0, 8).join(' ')})`,
  };
}

/** Whether this host runs systemd (its documented test, sd_booted()). */
export function systemdRuns(): boolean {
  return exists('/run/systemd/system');
}

/** What `confine doctor` says about delegation (capabilities().detail.cgroup.delegation). */
export interface DelegationReport {
  /** The host's cgroup mode (detectCgroups().mode). */
  mode: 'v2' | 'v1' | 'hybrid' | 'none';
  /** Whether tree limits of a non-root supervisor depend on a delegated v2 subtree here (pure v2). */
  applies: boolean;
  /** The supervisor's own cgroup (absolute), in the v2 tree. */
  cgroup: string | null;
  /** The delegated cgroup task cgroups go under (absolute), or null: none. */
  subtree: string | null;
  via: Delegation['via'];
  /** Controllers the subtree offers. */
  controllers: string[];
  /** Processes in the subtree's cgroup itself. */
  processes: number;
  /** The no-internal-processes rule keeps the subtree from giving controllers to task cgroups now. */
  blocked: boolean;
  /** The caller allows the move into a leaf (cgroupParent / CONFINE_CGROUP_PARENT 'delegated'). */
  allowed: boolean;
  /** The leaf the processes moved (or are to move) into, and how many moved. */
  leaf: string | null;
  moved: number;
  /** Why there is no delegated subtree, else null. */
  reason: string | null;
  /** systemd runs this host (/run/systemd/system). */
  systemd: boolean;
  /** How to get (or use) one: lines to print. */
  howTo: string[];
}

/**
 * The delegation picture for doctor: where the supervisor is, what is delegated to it, whether
 * the rule blocks it and how to get one. `made` is the parent choice's own account of a move.
 */
export function describeDelegation(
  mode: 'v2' | 'v1' | 'hybrid' | 'none',
  unified: { mount: string; own: string } | null,
  allowed: boolean,
  made: { leaf: string | null; moved: number; pending: boolean } | null,
  user: string | null,
): DelegationReport {
  const systemd = systemdRuns();
  const who = user ?? `uid ${euid()}`;
  const d = unified ? findDelegation(unified.mount, unified.own) : null;
  const subtree = d?.subtree != null && unified ? path.join(unified.mount, d.subtree) : null;
  const blocked = !!d?.subtree && d.processes.length > 0 && !(made && made.moved > 0);
  const howTo: string[] = [];
  if (mode === 'v1' || mode === 'hybrid') {
    howTo.push(
      'cgroup v1 controllers here: systemd does not delegate them to unprivileged users, so tree limits need root, a cgroupParent an administrator made writable for this user in every v1 hierarchy, or a host on pure cgroup v2 (systemd.unified_cgroup_hierarchy=1 on the kernel command line)',
    );
  } else if (mode === 'v2' && subtree && blocked && !allowed) {
    howTo.push(
      `let confine move the ${d!.processes.length} process(es) of ${subtree} into ${path.join(subtree, SUPERVISOR_LEAF)}: cgroupParent: '${DELEGATED}' or CONFINE_CGROUP_PARENT=${DELEGATED}`,
      'or start the supervisor in a leaf of it: systemd DelegateSubgroup=supervisor (systemd 254+)',
    );
  } else if (mode === 'v2' && !subtree) {
    if (systemd) {
      howTo.push(
        `a system service: in its [Service] section, User=${user ?? 'USER'}, Delegate=yes and DelegateSubgroup=supervisor (systemd 254+; with older systemd, Delegate=yes and cgroupParent '${DELEGATED}')`,
        `from a shell of ${who}: CONFINE_CGROUP_PARENT=${DELEGATED} systemd-run --user --scope -p Delegate=yes -- node main.js`,
      );
    } else {
      const mount = unified?.mount ?? '/sys/fs/cgroup';
      howTo.push(
        `no systemd on this host (/run/systemd/system is absent): as root, make a cgroup for ${who} with a leaf for the supervisor (mkdir -p ${mount}/NAME/supervisor; enable memory, pids and cpu in ${mount}/cgroup.subtree_control; chown ${user ?? 'USER'} ${mount}/NAME and its ${delegateFiles().join(', ')}), and start the supervisor with its pid written to NAME/supervisor/cgroup.procs: confine then puts its trees under NAME, nothing to pass`,
        'or run it in a container with a cgroup namespace of its own whose cgroup is delegated to it (podman, docker --cgroupns=private with a delegated cgroup)',
      );
    }
  }
  return {
    mode,
    applies: mode === 'v2',
    cgroup: unified ? path.join(unified.mount, unified.own) : null,
    subtree,
    via: d?.via ?? null,
    controllers: d?.controllers ?? [],
    processes: d?.processes.length ?? 0,
    blocked,
    allowed,
    leaf: made?.leaf ?? null,
    moved: made?.moved ?? 0,
    reason: d?.reason ?? (unified ? null : 'no cgroup v2 hierarchy'),
    systemd,
    howTo,
  };
}
