// Spare task cgroups, made ahead of time so that creating one is not on the spawn path.
//
// A task cgroup costs a mkdir per directory (about 0.1 ms each, measured on this project's
// machines, v1 memory more) plus its limit writes. A supervisor that starts many trees with the
// same limits (a judge, a CI runner) pays that again and again, while between a spawn and the
// child's exit it is mostly idle. So once a kind (parent and limits) is taken a second time
// within IDLE_MS, the pool makes a spare of it on the next turn of the event loop after each
// take(), and the next take() gets it ready-made. A kind seen once (limits that differ per
// spawn) gets no spare: it would cost a mkdir and an rmdir for nothing.
//
// A spare is an ordinary task cgroup (taskCgroupName(), limits written, no process ever in it):
// pristine counters, traceable to this supervisor, listed as an orphan if the supervisor dies.
// Spares are removed when their kind has not been taken for IDLE_MS (checked every IDLE_CHECK_MS),
// at process exit, and by dropSpareCgroups(), so an idle supervisor holds none. A supervisor
// killed by a signal leaves its spares as empty orphans (`confine doctor`, cleanupOrphans());
// while the killOnParentExit watchdog runs, it removes them. CONFINE_CGROUP_POOL=0 turns the
// pool off (depth 0).

import * as fs from 'node:fs';
import { TREE_RESOURCES } from '../resources.js';
import type { Resources } from '../types.js';
import type { ParentChoice } from './parent.js';
import { TaskCgroup } from './task-cgroup.js';
import { taskCgroupName } from './names.js';
import { monotonicMs } from '../clock.js';
import { ConfineError, SystemError } from '../errors.js';
/** Spares kept per kind (parent and limits). */
const DEPTH = 2;
/** A kind not taken for this long loses its spares (TaskCgroupPool.idleMs). */
const IDLE_MS = 500;
/** How often idle kinds are looked for. */
const IDLE_CHECK_MS = IDLE_MS / 2;
/** Reused cgroups kept per kind, per unit of depth (many trees of a kind may end at once). */
const RECYCLED_PER_DEPTH = 8;
/** Kinds remembered at once; the least recently taken is dropped first. */
const MAX_KINDS = 16;

interface Kind {
  choice: ParentChoice;
  resources: Resources;
  spares: TaskCgroup[];
  lastTake: number;
  filling: boolean;
  /** false once drained or forgotten: a refill in flight then does nothing. */
  live: boolean;
  /** Its cgroups come back reusable (giveBack): no spare is made, the returned ones serve. */
  recycles: boolean;
}

export class TaskCgroupPool {
  private readonly kinds = new Map<string, Kind>();
  /** Each cgroup take() gave out, with its kind (for giveBack()). */
  private readonly issued = new WeakMap<TaskCgroup, Kind>();
  /** The spares among them (replaceGone() serves only these), until given back or replaced. */
  private readonly handedSpares = new WeakSet<TaskCgroup>();
  private timer: NodeJS.Timeout | null = null;
  private exitHook = false;
  /** Called with each new spare (the linux backend registers them with a running watchdog)... */
  onSpare: ((tc: TaskCgroup) => void) | null = null;
  /** ...and with each spare removed unused (and unregisters it). */
  onDrop: ((tc: TaskCgroup) => void) | null = null;
  /**
   * A kind taken again within this many ms is hot (gets spares); one not taken for as long loses
   * them. Settable: tests make it long, so that what they check does not hang on their speed.
   */
  idleMs = IDLE_MS;

  constructor(private readonly depth: number = poolDepthFromEnv()) {}

  /**
   * A task cgroup under `choice` with `resources` written: a spare when one is ready, else made
   * now (errors are TaskCgroup.create()'s). The caller owns it, as if it had created it.
   */
  take(choice: ParentChoice, resources: Resources): TaskCgroup {
    if (this.depth <= 0) return TaskCgroup.create(choice, taskCgroupName(), resources);
    const limits = cgroupLimits(resources);
    let where = choiceKeys.get(choice);
    if (where === undefined) {
      where = JSON.stringify([choice.version, choice.paths, choice.controllers]);
      choiceKeys.set(choice, where);
    }
    const key = where + JSON.stringify(limits);
    let kind = this.kinds.get(key);
    if (kind)
      this.kinds.delete(key); // re-insert: Map order is the recency order
    else kind = { choice, resources: limits, spares: [], lastTake: -Infinity, filling: false, live: true, recycles: false };
    this.kinds.set(key, kind);
    const now = monotonicMs(); // monotonic: a wall-clock step must not make kinds hot or idle
    const hot = now - kind.lastTake < this.idleMs;
    kind.lastTake = now;
    // A spare is handed out unchecked (a path walk per directory cost more than the rest of
    // take()): one removed behind our back fails the spawn at its cgroup step, which then asks
    // replaceGone() for a fresh one.
    let tc = kind.spares.pop();
    if (tc) this.handedSpares.add(tc);
    else tc = TaskCgroup.create(choice, taskCgroupName(), limits);
    this.issued.set(tc, kind);
    this.forgetOldKinds();
    if (hot) this.refill(kind);
    return tc;
  }

  /**
   * A spare take() handed out whose cgroup turned out to be gone (removed behind the pool's back:
   * cleanupOrphans() judging from another pid namespace), for the spawn that found it so: the
   * spare is forgotten (its fds closed, onDrop) and a fresh cgroup of its kind made in its place
   * (TaskCgroup.create(): never another spare, which may be gone too). When that fails, create()'s
   * error is thrown as a SystemError whose `cause` is `why`, the spawn's failure that found the
   * spare gone. null when `gone` is not a spare this pool handed out: only those are replaced, once.
   */
  replaceGone(gone: TaskCgroup, why?: unknown): TaskCgroup | null {
    const kind = this.issued.get(gone);
    if (!kind || !this.handedSpares.delete(gone)) return null;
    this.issued.delete(gone);
    this.dropOne(gone);
    let fresh: TaskCgroup;
    try {
      fresh = TaskCgroup.create(kind.choice, taskCgroupName(), kind.resources);
    } catch (e) {
      const err = e instanceof ConfineError ? e : null;
      throw new SystemError(`a removed spare cgroup could not be replaced: ${err?.message ?? String(e)}`, {
        syscall: err?.syscall,
        errno: err?.errno,
        stage: err?.stage ?? 'cgroup',
        path: err?.path,
        cause: why ?? e,
      });
    }
    this.issued.set(fresh, kind);
    return fresh;
  }

  /**
   * A cgroup take() gave out, now empty: kept as a spare of its kind when it can serve again as
   * it is (TaskCgroup.reissue(): a v2 directory without controllers, such as a tree without
   * limits on a hybrid host), so the next tree skips both the mkdir and this rmdir. false when
   * the caller must remove it. Measured here: a spawn into a reused v2 cgroup cost 0.1 ms over
   * none, into a fresh one (mkdir before, rmdir after) 0.3 ms.
   */
  giveBack(tc: TaskCgroup): boolean {
    const kind = this.issued.get(tc);
    this.issued.delete(tc);
    this.handedSpares.delete(tc);
    if (!kind || !kind.live || kind.spares.length >= this.depth * RECYCLED_PER_DEPTH) return false;
    const next = tc.reissue();
    if (!next) return false;
    kind.recycles = true;
    kind.spares.push(next);
    this.watchIdle();
    return true;
  }

  /** Spares held now (for tests and `confine doctor`). */
  spares(): string[][] {
    return [...this.kinds.values()].flatMap((k) => k.spares.map((tc) => Object.values(tc.paths)));
  }

  /** Remove every spare now (synchronous: also used at process exit). */
  drain(): void {
    for (const kind of this.kinds.values()) {
      kind.live = false;
      this.dropSpares(kind);
    }
    this.kinds.clear();
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  private refill(kind: Kind): void {
    if (kind.filling || kind.recycles || kind.spares.length >= this.depth) return;
    kind.filling = true;
    // After the spawn that took one: by then the child is running and the supervisor waits.
    setImmediate(() => {
      kind.filling = false;
      if (!kind.live) return; // drained meanwhile
      while (kind.spares.length < this.depth) {
        let tc: TaskCgroup;
        try {
          tc = TaskCgroup.create(kind.choice, taskCgroupName(), kind.resources);
        } catch {
          break; // the next take() makes its own and reports what fails
        }
        // Its cgroup.procs opened now too, while the previous child runs: off the spawn path.
        tc.prepareJoin();
        kind.spares.push(tc);
        try {
          this.onSpare?.(tc);
        } catch {
          /* a registration is best effort */
        }
      }
      if (kind.spares.length) this.watchIdle();
    }).unref();
  }

  private watchIdle(): void {
    if (!this.exitHook) {
      this.exitHook = true;
      process.once('exit', () => this.drain());
    }
    if (this.timer) return;
    this.timer = setInterval(() => {
      const now = monotonicMs();
      let held = 0;
      for (const kind of this.kinds.values()) {
        if (now - kind.lastTake >= this.idleMs) this.dropSpares(kind);
        held += kind.spares.length;
      }
      if (held === 0 && this.timer) {
        clearInterval(this.timer);
        this.timer = null;
      }
    }, IDLE_CHECK_MS);
    this.timer.unref();
  }

  private dropSpares(kind: Kind): void {
    for (const tc of kind.spares.splice(0)) this.dropOne(tc);
  }

  /**
   * rmdir every directory of a spare. One never held a process, so this cannot fail with EBUSY;
   * nor can one replaceGone() drops, which a failed child may have joined in part (its write to a
   * directory still there succeeded before another's failed): that child is reaped by then.
   */
  private dropOne(tc: TaskCgroup): void {
    tc.closeFiles();
    for (const d of new Set(Object.values(tc.paths))) {
      try {
        fs.rmdirSync(d);
      } catch {
        /* gone already */
      }
    }
    try {
      this.onDrop?.(tc);
    } catch {
      /* best effort */
    }
  }

  private forgetOldKinds(): void {
    while (this.kinds.size > MAX_KINDS) {
      const [key, oldest] = this.kinds.entries().next().value as [string, Kind];
      oldest.live = false;
      this.dropSpares(oldest);
      this.kinds.delete(key);
    }
  }
}

/**
 * The part of a kind's key its parent choice makes, once per choice object (narrowChoice() gives
 * the same object for the same parent and hierarchies: the JSON is not made per spawn).
 */
const choiceKeys = new WeakMap<ParentChoice, string>();

function cgroupLimits(r: Resources): Resources {
  // No prototype: the cgroup files are written from what is read here (an inherited memoryBytes
  // on a polluted Object.prototype must not become memory.max).
  const out: Record<string, unknown> = Object.create(null);
  // The keys TaskCgroup.create() writes.
  for (const k of TREE_RESOURCES) if (r[k] !== undefined) out[k] = r[k];
  return out as Resources;
}

function poolDepthFromEnv(): number {
  const v = process.env.CONFINE_CGROUP_POOL;
  if (v === undefined || v === '') return DEPTH;
  const n = Number(v);
  return Number.isInteger(n) && n >= 0 ? Math.min(n, 16) : DEPTH;
}

/** The process's pool: every linux-backend tree takes its cgroup from here. */
export const taskCgroupPool = new TaskCgroupPool();

/**
 * Remove the spare task cgroups this process holds now (they are made again when spawns of a
 * kind come fast). For a supervisor about to remove its own `cgroupParent`, or before checking
 * that nothing of it is left under /sys/fs/cgroup.
 */
export function dropSpareCgroups(): void {
  taskCgroupPool.drain();
}
