// One cgroup per confined tree: created with its limits before the child exists, the child
// born into it (v2: clone3 CLONE_INTO_CGROUP with openDirFd(); v1: the child writes "0" to the
// fds from openProcsFds()), then stats, limit updates (joining more v1 hierarchies: extend.ts),
// OOM detection, tree kill and removal.
//
// `version` is the hierarchy of the limits. A v1 task cgroup on a hybrid host also has a v2
// directory (paths.unified, no controllers): the child joins it before exec like the v1 ones,
// and it serves membership, kill, freeze and CPU usage; see lib/cgroup/parent.ts.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { USER_HZ } from '../proc.js';
import type { Resources, Stats } from '../types.js';
import { ConfineArgumentError, SystemError } from '../errors.js';
import type { ParentChoice } from './parent.js';
import {
  errCode,
  exists,
  ioLayer,
  keyedValue,
  mkdirNew,
  mkdirV1,
  parseKeyed,
  parseNumber,
  readNumber,
  readOpt,
  readPids,
  sleep,
  sysError,
  writeFile,
} from './files.js';
import { validateCgroupResources, writeV1, writeV2 } from './limits.js';
import { HeldFiles, readFiles } from './held-files.js';

const NAME_OK = /^[A-Za-z0-9_.@:+-]+$/;

function uniqueDirs(paths: Record<string, string>): string[] {
  return [...new Set(Object.values(paths))];
}

export interface KillOptions {
  /** Give up (reject with ETIMEDOUT) when the tree is not gone by then. Default 10000. */
  timeoutMs?: number;
  /** v2: use cgroup.kill when the kernel has it (default true; false forces freeze-kill-thaw). */
  useCgroupKill?: boolean;
}

export class TaskCgroup {
  readonly version: 1 | 2;
  /**
   * controller -> directory. v2: one directory under the key 'unified'; v1 on a hybrid host:
   * 'unified' too. A frozen object; extend() replaces it with a larger one.
   */
  paths: Readonly<Record<string, string>>;
  /** Controllers this cgroup has (the files of their limits exist). */
  readonly controllers: string[];
  private swap: boolean;
  private peakSeen = 0;
  private removed = false;
  private updated = false;
  /**
   * cpu.stat of the v2 directory when this object took it over (a reused cgroup: reissue()), as
   * read then: parsed only when stats() asks (most trees are never asked).
   */
  private cpuBase: string | null = null;
  /** The extend() calls in progress (chained), or null: remove() waits for them. */
  private extending: Promise<unknown> | null = null;
  private removing = false;
  /**
   * Descriptors kept open while the pool reuses this directory (reissue()): its cgroup.procs for
   * the child's join, the files read at each release. null for a fresh directory. See held-files.ts.
   */
  private held: HeldFiles | null = null;
  /** What placement() needs, opened ahead by prepareJoin() (a spare of the pool); used once. */
  private joinReady: HeldFiles | null = null;
  /** The files reissue() reads (a reused directory's, passed on to the next object: made once). */
  private reuseFiles: string[] | null = null;
  /** joinEntries() with and without the v2 directory (passed on as reuseFiles; paths never change then). */
  private joinWithDir: [string, number][] | null = null;
  private joinProcs: [string, number][] | null = null;
  /** dirs, made on first use (extend() drops it with the paths it replaces). */
  private dirList: readonly string[] | null = null;

  private constructor(version: 1 | 2, paths: Record<string, string>, controllers: string[], swap: boolean) {
    this.version = version;
    this.paths = Object.freeze({ ...paths });
    this.controllers = controllers;
    this.swap = swap;
  }

  /** Every directory of this cgroup, once each (co-mounted v1 controllers share one). */
  get dirs(): readonly string[] {
    this.dirList ??= Object.freeze(uniqueDirs(this.paths));
    return this.dirList;
  }

  /** The v2 directory, or for v1 the directory of the first hierarchy (for messages). */
  get dir(): string {
    return this.paths.unified ?? uniqueDirs(this.paths)[0]!;
  }

  /** The v2 directory that tracks the tree (pure v2, or hybrid), if any. */
  private get unifiedDir(): string | undefined {
    return this.paths.unified;
  }

  /**
   * mkdir the task cgroup under `choice` and write its limits, before any process is in it.
   * Limits whose controller the choice lacks are skipped (enforcementFor() reports them as not
   * enforced). On any failure everything made is removed and a typed error thrown.
   */
  static create(choice: ParentChoice, name: string, resources: Resources): TaskCgroup {
    resources = ownResources(resources);
    if (!choice.ok || choice.version === null) {
      throw new SystemError(`no usable cgroup parent: ${choice.reason ?? 'unknown'}`, { stage: 'cgroup' });
    }
    if (typeof name !== 'string' || !NAME_OK.test(name) || !name.includes('confine')) {
      throw new ConfineArgumentError(
        `task cgroup name must match ${NAME_OK} and contain "confine" (see taskCgroupName()), got ${JSON.stringify(name)}`,
      );
    }
    validateCgroupResources(resources);
    const made: string[] = [];
    const paths: Record<string, string> = {};
    try {
      if (choice.version === 2) {
        const dir = path.join(choice.paths.unified!, name);
        mkdirNew(dir);
        made.push(dir);
        paths.unified = dir;
        writeV2(dir, resources, { controllers: choice.controllers, swap: choice.features.swap, creating: true });
      } else {
        const byParent = new Map<string, string>();
        for (const [ctrl, parent] of Object.entries(choice.paths)) {
          let dir = byParent.get(parent);
          if (!dir) {
            dir = path.join(parent, name);
            mkdirV1(parent, dir);
            made.push(dir);
            byParent.set(parent, dir);
          }
          paths[ctrl] = dir;
        }
        writeV1(paths, resources, { controllers: choice.controllers, swap: choice.features.swap, creating: true });
      }
    } catch (e) {
      for (const d of made.reverse()) {
        try {
          fs.rmdirSync(d);
        } catch {
          /* nothing was placed in it: only a racing writer could keep it */
        }
      }
      if (e instanceof ConfineArgumentError || e instanceof SystemError) throw e;
      throw sysError(`cannot create cgroup ${name}`, e);
    }
    return new TaskCgroup(choice.version, paths, choice.controllers.slice(), choice.features.swap);
  }

  /**
   * Re-open an existing task cgroup (reattach): paths as `paths` of the original, and its
   * `version` when known (a hybrid tree without limits has only its v2 directory; without the
   * version it is taken for a v2 cgroup without controllers, which behaves the same).
   */
  static adopt(paths: Record<string, string>, version?: 1 | 2): TaskCgroup {
    const dirs = uniqueDirs(paths);
    if (dirs.length === 0) throw new ConfineArgumentError('adopt: no cgroup paths');
    for (const d of dirs) {
      if (!exists(path.join(d, 'cgroup.procs'))) {
        throw new SystemError(`adopt: ${d} is not a cgroup (gone?)`, { errno: 'ENOENT', path: d, stage: 'cgroup' });
      }
    }
    if (paths.unified !== undefined && dirs.length === 1 && version !== 1) {
      const dir = paths.unified;
      const ctrls = (readOpt(path.join(dir, 'cgroup.controllers')) ?? '').split(/\s+/).filter(Boolean);
      return new TaskCgroup(2, { unified: dir }, ctrls, exists(path.join(dir, 'memory.swap.max')));
    }
    const swap = paths.memory !== undefined && exists(path.join(paths.memory, 'memory.memsw.limit_in_bytes'));
    return new TaskCgroup(
      1,
      paths,
      Object.keys(paths).filter((c) => c !== 'unified'),
      swap,
    );
  }

  /** The v2 directory (pure v2 or hybrid) as an fd for clone3 CLONE_INTO_CGROUP. The caller closes it. */
  openDirFd(): number {
    const d = this.unifiedDir;
    if (d === undefined)
      throw new SystemError('openDirFd() needs a v2 directory (use openProcsFds() on v1)', { stage: 'cgroup' });
    try {
      return fs.openSync(d, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
    } catch (e) {
      throw sysError(`cannot open ${d}`, e);
    }
  }

  /**
   * fds of each directory's cgroup.procs opened O_WRONLY, for the child to write "0" into before
   * it drops privileges (one per hierarchy, co-mounted controllers share one). `which: 'v1'`
   * leaves out the v2 directory, for a child born there by CLONE_INTO_CGROUP; 'all' (the
   * default) includes it, for kernels without clone3's cgroup placement. The caller closes them.
   */
  openProcsFds(which: 'all' | 'v1' = 'all'): number[] {
    const fds: number[] = [];
    const dirs = uniqueDirs(this.paths).filter((d) => which === 'all' || d !== this.unifiedDir);
    try {
      for (const d of dirs) fds.push(fs.openSync(path.join(d, 'cgroup.procs'), fs.constants.O_WRONLY));
    } catch (e) {
      for (const fd of fds) fs.closeSync(fd);
      throw sysError('cannot open cgroup.procs', e);
    }
    return fds;
  }

  /**
   * What a spawn needs to place its child here: `cgroupFd`, the v2 directory for clone3
   * CLONE_INTO_CGROUP (-1 unless `cloneInto` and there is one), and `cgroupProcsFds`, the
   * cgroup.procs the child writes "0" to itself (openProcsFds(): 'v1' with a cgroupFd, else
   * 'all'). A reused directory's fds are held (reissue()): they serve every tree that uses it.
   * done() closes the others; call it after the spawn, whether it succeeded or not.
   */
  placement(cloneInto: boolean): { cgroupFd: number; cgroupProcsFds: number[]; done(): void } {
    const d = this.unifiedDir;
    const kept = this.removed ? null : (this.held ?? this.joinReady);
    if (kept) {
      // Held by a reused directory (kept for the next tree) or opened with the spare (used once).
      if (kept === this.joinReady) this.joinReady = null;
      const done = kept === this.held ? nothing : () => kept.close();
      try {
        const useDir = cloneInto && d !== undefined;
        const fds = kept.fds(this.joinEntries(useDir));
        return { cgroupFd: useDir ? fds[0]! : -1, cgroupProcsFds: useDir ? fds.slice(1) : fds, done };
      } catch (e) {
        done();
        throw e;
      }
    }
    const cgroupFd = cloneInto && d !== undefined ? this.openDirFd() : -1;
    let procs: number[];
    try {
      procs = this.openProcsFds(cgroupFd >= 0 ? 'v1' : 'all');
    } catch (e) {
      if (cgroupFd >= 0) fs.closeSync(cgroupFd);
      throw e;
    }
    return {
      cgroupFd,
      cgroupProcsFds: procs,
      done: () => {
        for (const fd of procs) fs.closeSync(fd);
        if (cgroupFd >= 0) fs.closeSync(cgroupFd);
      },
    };
  }

  /**
   * The files placement() takes from a held set: the v2 directory first when the child is born
   * into it (`useDir`), then each cgroup.procs it writes itself. Made once per directory set (a
   * reused directory passes them on: reissue()).
   */
  private joinEntries(useDir: boolean): [file: string, flags: number][] {
    const cached = useDir ? this.joinWithDir : this.joinProcs;
    if (cached) return cached;
    const d = this.unifiedDir;
    const dirs = uniqueDirs(this.paths).filter((x) => !useDir || x !== d);
    const entries = [...(useDir && d !== undefined ? [dirEntry(d)] : []), ...dirs.map(procsEntry)];
    if (useDir) this.joinWithDir = entries;
    else this.joinProcs = entries;
    return entries;
  }

  /**
   * Open what placement() will need now: for the pool, which makes a spare while the previous
   * child runs, so that these opens are off the spawn path (measured: 0.04 ms for four
   * directories). Kept until the spawn that takes this cgroup (its placement().done() closes
   * them) or the spare is dropped (closeFiles()): only spares hold them, never a running tree.
   * Best effort: false (nothing held) when an open fails; placement() then opens them itself.
   */
  prepareJoin(): boolean {
    if (this.joinReady || this.held || this.removed) return this.joinReady !== null;
    const ready = new HeldFiles();
    const entries = uniqueDirs(this.paths).map(procsEntry);
    if (this.version === 2 && this.unifiedDir !== undefined) entries.unshift(dirEntry(this.unifiedDir));
    try {
      ready.fds(entries);
    } catch {
      ready.close();
      return false;
    }
    this.joinReady = ready;
    return true;
  }

  /** Every process in the cgroup (the v2 tree when there is one, else the union over the v1 hierarchies). */
  pids(): number[] {
    if (this.unifiedDir !== undefined) return readPids(this.unifiedDir);
    const dirs = uniqueDirs(this.paths);
    if (dirs.length === 1) return readPids(dirs[0]!);
    const s = new Set<number>();
    for (const d of dirs) for (const p of readPids(d)) s.add(p);
    return [...s].sort((a, b) => a - b);
  }

  /** true while any process is in the cgroup (v2: cgroup.events populated). */
  populated(): boolean {
    if (this.unifiedDir !== undefined) {
      const ev = parseKeyed(readOpt(path.join(this.unifiedDir, 'cgroup.events')));
      if (ev.has('populated')) return ev.get('populated') === 1;
    }
    return this.pids().length > 0;
  }

  /**
   * Usage of the whole tree. memoryPeakBytes: v2 memory.peak (kernel >= 5.19), else the
   * largest memory.current any stats() call has seen (a lower bound); v1
   * memory.max_usage_in_bytes (the kernel's own watermark); null without a memory directory
   * (the backend then reads /proc). CPU: v2 cpu.stat; v1 cpuacct.usage_user/usage_sys (ns),
   * else cpuacct.stat (USER_HZ), else (hybrid) the v2 directory's cpu.stat. processes:
   * pids.current (tasks, threads included), else the number of processes in cgroup.procs.
   * Disk IO: v2 io.stat, v1 blkio.throttle.io_service_bytes / io_serviced (null without an io
   * or blkio directory).
   */
  stats(): Stats {
    const st: Stats = {
      memoryBytes: null,
      memoryPeakBytes: null,
      cpuUserMicros: null,
      cpuSystemMicros: null,
      processes: null,
      throttledPeriods: null,
      throttledMicros: null,
      ioReadBytes: null,
      ioWriteBytes: null,
      ioReadOps: null,
      ioWriteOps: null,
    };
    if (this.version === 2) {
      const d = this.paths.unified!;
      const cur = readNumber(path.join(d, 'memory.current'));
      if (cur !== null) {
        st.memoryBytes = cur;
        this.peakSeen = Math.max(this.peakSeen, cur);
        st.memoryPeakBytes = readNumber(path.join(d, 'memory.peak')) ?? this.peakSeen;
      }
      const cpu = this.cpuStat();
      st.cpuUserMicros = cpu.get('user_usec') ?? null;
      st.cpuSystemMicros = cpu.get('system_usec') ?? null;
      if (cpu.has('nr_throttled')) st.throttledPeriods = cpu.get('nr_throttled')!;
      if (cpu.has('throttled_usec')) st.throttledMicros = cpu.get('throttled_usec')!;
      st.processes = readNumber(path.join(d, 'pids.current'));
    } else {
      const p = this.paths;
      if (p.memory) {
        st.memoryBytes = readNumber(path.join(p.memory, 'memory.usage_in_bytes'));
        st.memoryPeakBytes = readNumber(path.join(p.memory, 'memory.max_usage_in_bytes'));
      }
      const acct = p.cpuacct;
      if (!acct && this.unifiedDir !== undefined) {
        const cpu = this.cpuStat();
        st.cpuUserMicros = cpu.get('user_usec') ?? null;
        st.cpuSystemMicros = cpu.get('system_usec') ?? null;
      } else if (acct) {
        const u = readNumber(path.join(acct, 'cpuacct.usage_user'));
        const s = readNumber(path.join(acct, 'cpuacct.usage_sys'));
        if (u !== null && s !== null) {
          st.cpuUserMicros = Math.floor(u / 1000);
          st.cpuSystemMicros = Math.floor(s / 1000);
        } else {
          const t = parseKeyed(readOpt(path.join(acct, 'cpuacct.stat')));
          if (t.has('user')) st.cpuUserMicros = (t.get('user')! * 1e6) / USER_HZ;
          if (t.has('system')) st.cpuSystemMicros = (t.get('system')! * 1e6) / USER_HZ;
        }
      }
      if (p.cpu) {
        const c = parseKeyed(readOpt(path.join(p.cpu, 'cpu.stat')));
        if (c.has('nr_throttled')) st.throttledPeriods = c.get('nr_throttled')!;
        if (c.has('throttled_time')) st.throttledMicros = Math.floor(c.get('throttled_time')! / 1000);
      }
      if (p.pids) st.processes = readNumber(path.join(p.pids, 'pids.current'));
    }
    if (st.processes === null) st.processes = this.pids().length;
    const { readIoStats } = ioLayer();
    const io =
      this.version === 2
        ? readIoStats(2, this.controllers.includes('io') ? this.paths.unified : undefined)
        : readIoStats(1, this.paths.blkio);
    if (io) Object.assign(st, io);
    return st;
  }

  /**
   * The tree's memory high-water mark alone (for the exit status: one file instead of stats()).
   * null without a memory controller.
   */
  memoryPeakBytes(): number | null {
    return this.peakFrom(this.readExitFiles(this.peakFiles()));
  }

  /**
   * memoryPeakBytes() and oomKilled() together, in one read of their files (one addon call): for
   * the exit status, where both are asked at once.
   */
  exitCounters(): { memoryPeakBytes: number | null; oomKilled: boolean } {
    const peak = this.peakFiles();
    const oom = this.oomFiles();
    if (peak.length + oom.length === 0) return { memoryPeakBytes: null, oomKilled: false };
    const texts = this.readExitFiles([...peak, ...oom]);
    return {
      memoryPeakBytes: this.peakFrom(texts.slice(0, peak.length)),
      oomKilled: oomFrom(this.version, texts.slice(peak.length)),
    };
  }

  /** v2: memory.peak, then memory.current (kernels before 5.19); v1: memory.max_usage_in_bytes. */
  private peakFiles(): string[] {
    if (this.version === 2)
      return [path.join(this.paths.unified!, 'memory.peak'), path.join(this.paths.unified!, 'memory.current')];
    return this.paths.memory ? [path.join(this.paths.memory, 'memory.max_usage_in_bytes')] : [];
  }

  private peakFrom(texts: (string | null)[]): number | null {
    if (this.version !== 2) return parseNumber(texts[0] ?? null);
    const peak = parseNumber(texts[0] ?? null);
    if (peak !== null) return peak;
    const cur = parseNumber(texts[1] ?? null);
    if (cur === null) return null;
    this.peakSeen = Math.max(this.peakSeen, cur);
    return this.peakSeen;
  }

  /** v2: memory.events and memory.events.local; v1: memory.oom_control. */
  private oomFiles(): string[] {
    if (this.version === 2) return ['memory.events', 'memory.events.local'].map((f) => path.join(this.paths.unified!, f));
    return this.paths.memory ? [path.join(this.paths.memory, 'memory.oom_control')] : [];
  }

  /** Through the held fds of a reused directory, else by path; one addon call either way. */
  private readExitFiles(files: string[]): (string | null)[] {
    if (files.length === 0) return [];
    return this.held ? this.held.read(files) : readFiles(files);
  }

  /** Total CPU time of the tree in microseconds (v2 cpu.stat usage_usec, v1 cpuacct.usage). */
  cpuUsageMicros(): number | null {
    if (this.version === 2 || (!this.paths.cpuacct && this.unifiedDir !== undefined))
      return this.cpuStat().get('usage_usec') ?? null;
    if (!this.paths.cpuacct) return null;
    const ns = readNumber(path.join(this.paths.cpuacct, 'cpuacct.usage'));
    return ns === null ? null : Math.floor(ns / 1000);
  }

  /** The v2 directory's cpu.stat, counted from when this object took the cgroup over. */
  private cpuStat(): Map<string, number> {
    const now = parseKeyed(readOpt(path.join(this.unifiedDir!, 'cpu.stat')));
    if (this.cpuBase !== null)
      for (const [k, v] of parseKeyed(this.cpuBase)) if (now.has(k)) now.set(k, Math.max(0, now.get(k)! - v));
    return now;
  }

  /**
   * For the pool: this cgroup, emptied, as a new object for the next tree of its kind, or null
   * when it cannot serve again as it is. Only a cgroup whose one directory is the v2 one, without
   * controllers, never updated, not frozen and with nothing left in or under it qualifies: then
   * nothing of the previous tree is left but its CPU counters, which the new object counts from.
   * (A memory cgroup keeps the page cache the previous tree charged to it; limits may have been
   * updated; a sub-cgroup may have been made: those are removed and made anew.) This object is
   * retired: kill() and remove() on it do nothing from now on.
   */
  reissue(): TaskCgroup | null {
    const d = this.unifiedDir;
    if (this.removed || this.updated || this.controllers.length > 0 || d === undefined) return null;
    for (const dir of Object.values(this.paths)) if (dir !== d) return null; // the v2 directory alone
    // One read of the three (held open from now on: this directory serves again and again). The
    // directory itself reads as its link count: on cgroupfs 2 + its child cgroups, from an fstat
    // (held-files.ts), where cgroup.stat's nr_descendants cost an fstat and a pread.
    const held = this.held ?? HeldFiles.acquire();
    const files = (this.reuseFiles ??= [path.join(d, 'cgroup.events'), d, path.join(d, 'cpu.stat')]);
    let read: (string | null)[] | null = null;
    try {
      read = held ? held.read(files) : readFiles(files);
    } catch {
      // Not reusable: removed as a fresh cgroup is. (An older addon answers EISDIR for the directory.)
    }
    const [events, links, cpu] = read ?? [];
    const ev = events ?? null;
    if (
      !read ||
      keyedValue(ev, 'populated') !== 0 ||
      keyedValue(ev, 'frozen') === 1 ||
      (keyedValue(links ?? null, 'nlink') ?? 3) !== 2
    ) {
      if (held !== this.held) held?.close();
      return null;
    }
    const next = new TaskCgroup(this.version, this.paths, this.controllers.slice(), this.swap);
    next.cpuBase = cpu ?? '';
    next.held = held;
    next.reuseFiles = files;
    next.joinWithDir = this.joinWithDir;
    next.joinProcs = this.joinProcs;
    next.dirList = this.dirList;
    this.held = null;
    this.removed = true;
    return next;
  }

  /**
   * Close the descriptors held for reuse (reissue()): the directory is being removed, or this
   * object is dropped. Idempotent; the cgroup itself is untouched.
   */
  closeFiles(): void {
    this.held?.close();
    this.held = null;
    this.joinReady?.close();
    this.joinReady = null;
  }

  /** Whether memory.memsw (v1) or memory.swap.max (v2) is there to limit swap. */
  get swapAccounting(): boolean {
    return this.swap;
  }

  /**
   * Join a running tree to the v1 hierarchies of `choice` it lacks (on v1 and hybrid hosts a tree
   * starts in only the hierarchies its limits need), with those limits of `resources` written
   * before anyone joins; `beforeMove` sees the tree's paths to be before any process moves. The
   * tree is frozen while it moves, and rolled back on failure: see lib/cgroup/extend.ts. Returns
   * the controllers added (none on v2, where the one directory has every controller it can get).
   * Calls run one at a time; remove() waits for them.
   */
  extend(
    choice: ParentChoice,
    resources: Resources,
    beforeMove?: (paths: Readonly<Record<string, string>>) => void,
  ): Promise<string[]> {
    resources = ownResources(resources);
    const run = (this.extending ?? Promise.resolve()).then(() => this.extendNow(choice, resources, beforeMove));
    const settled = run.then(
      () => {},
      () => {},
    );
    this.extending = settled;
    void settled.then(() => {
      if (this.extending === settled) this.extending = null;
    });
    return run;
  }

  private async extendNow(
    choice: ParentChoice,
    resources: Resources,
    beforeMove?: (paths: Readonly<Record<string, string>>) => void,
  ): Promise<string[]> {
    validateCgroupResources(resources);
    if (this.version !== 1 || this.removed || this.removing || choice.version !== 1) return [];
    // extend.js only here: most trees never join another hierarchy, and a run need not load it.
    const { hierarchiesToJoin, joinHierarchies } = require('./extend.js') as typeof import('./extend.js');
    const add = hierarchiesToJoin(this.paths, choice, resources);
    if (add.length === 0) return [];
    this.updated = true;
    // A memory directory made now: the host's swap accounting (an adopted tree without one did not know it).
    const swap = add.some(([c]) => c === 'memory') ? choice.features.swap : this.swap;
    const added = await joinHierarchies(this, add, resources, {
      swap,
      beforeMove,
      going: () => this.removed || this.removing,
    });
    const ctrls = Object.keys(added);
    this.paths = Object.freeze({ ...this.paths, ...added });
    this.joinWithDir = this.joinProcs = this.dirList = null;
    this.controllers.push(...ctrls);
    if (added.memory !== undefined) this.swap = swap;
    return ctrls;
  }

  /** Change the limits of a running tree: only the keys given are written; Infinity lifts one. */
  update(resources: Resources): void {
    resources = ownResources(resources);
    validateCgroupResources(resources);
    this.updated = true;
    const ctx = { controllers: this.controllers, swap: this.swap, creating: false };
    if (this.version === 2) writeV2(this.paths.unified!, resources, ctx);
    else writeV1(this.paths, resources, ctx);
  }

  /** The kernel OOM-killed a process of this tree (the cgroup's own counters, not exit 137). */
  oomKilled(): boolean {
    return oomFrom(this.version, this.readExitFiles(this.oomFiles()));
  }

  /**
   * Send a signal to every process listed now; returns how many were signalled. A pid read from
   * cgroup.procs can exit and be reused before the kill (inherent to signalling by pid); use it
   * for the polite signal of a shutdown and kill() for the exact stop.
   */
  signalAll(sig: NodeJS.Signals | number): number {
    let n = 0;
    for (const pid of this.pids()) {
      try {
        process.kill(pid, sig);
        n++;
      } catch (e) {
        if (errCode(e) !== 'ESRCH') throw sysError(`kill(${pid}, ${String(sig)})`, e);
      }
    }
    return n;
  }

  /** Freeze the tree (v2 cgroup.freeze, v1 freezer.state) and wait until it is frozen. */
  async freeze(timeoutMs = 1000): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    if (this.unifiedDir !== undefined) {
      const d = this.unifiedDir;
      writeFile(path.join(d, 'cgroup.freeze'), '1');
      for (let i = 0; ; i++) {
        const ev = parseKeyed(readOpt(path.join(d, 'cgroup.events')));
        if (ev.get('frozen') === 1 || !exists(path.join(d, 'cgroup.events'))) return true;
        if (Date.now() > deadline) return false;
        await sleep(Math.min(1 + i, 10));
      }
    }
    const f = this.paths.freezer;
    if (!f) return false;
    writeFile(path.join(f, 'freezer.state'), 'FROZEN');
    for (let i = 0; ; i++) {
      const s = (readOpt(path.join(f, 'freezer.state')) ?? 'FROZEN').trim();
      if (s === 'FROZEN') return true;
      if (Date.now() > deadline) return false;
      await sleep(Math.min(1 + i, 10));
    }
  }

  /** Undo freeze(). */
  thaw(): void {
    try {
      if (this.unifiedDir !== undefined) writeFile(path.join(this.unifiedDir, 'cgroup.freeze'), '0');
      else if (this.paths.freezer) writeFile(path.join(this.paths.freezer, 'freezer.state'), 'THAWED');
    } catch (e) {
      const c = errCode((e as { cause?: unknown }).cause);
      if (c !== 'ENOENT' && c !== 'ENODEV') throw e;
    }
  }

  /**
   * Kill the whole tree, including processes that left the session or process group: v2
   * cgroup.kill where the kernel has it (5.14+); otherwise freeze, SIGKILL every pid, thaw,
   * repeat until empty (a frozen tree cannot fork, so no new pid escapes the listing). Resolves
   * once cgroup.procs is empty.
   */
  async kill(opts: KillOptions = {}): Promise<void> {
    const timeoutMs = opts.timeoutMs ?? 10000;
    const deadline = Date.now() + timeoutMs;
    if (this.removed) return;
    const unified = this.unifiedDir;
    const useKill = unified !== undefined && opts.useCgroupKill !== false && exists(path.join(unified, 'cgroup.kill'));
    if (useKill) {
      if (this.pids().length === 0) return;
      try {
        writeFile(path.join(unified, 'cgroup.kill'), '1');
      } catch (e) {
        const c = errCode((e as { cause?: unknown }).cause);
        if (c === 'ENOENT' || c === 'ENODEV') return; // removed meanwhile: nothing left
        throw e;
      }
      await this.waitEmpty(deadline);
      return;
    }
    const canFreeze = unified !== undefined || this.paths.freezer !== undefined;
    for (let round = 0; ; round++) {
      if (this.pids().length === 0) return;
      if (Date.now() > deadline) break;
      if (canFreeze) await this.freeze(Math.min(1000, Math.max(1, deadline - Date.now())));
      try {
        for (const pid of this.pids()) {
          try {
            process.kill(pid, 'SIGKILL');
          } catch (e) {
            if (errCode(e) !== 'ESRCH') throw sysError(`kill(${pid}, SIGKILL)`, e);
          }
        }
      } finally {
        if (canFreeze) this.thaw();
      }
      // Give the kernel a moment to tear the killed processes down before listing again.
      for (let i = 0; i < 20 && this.pids().length > 0; i++) await sleep(Math.min(1 + i + round, 10));
    }
    const left = this.pids();
    if (left.length) {
      throw new SystemError(
        `cgroup ${this.dir} still has ${left.length} process(es) after ${timeoutMs} ms: ${left.slice(0, 10).join(' ')}`,
        { errno: 'ETIMEDOUT', path: this.dir, stage: 'cgroup' },
      );
    }
  }

  private async waitEmpty(deadline: number): Promise<void> {
    for (let i = 0; ; i++) {
      if (this.pids().length === 0) return;
      if (Date.now() > deadline) {
        throw new SystemError(`cgroup ${this.dir} did not empty in time: ${this.pids().slice(0, 10).join(' ')}`, {
          errno: 'ETIMEDOUT',
          path: this.dir,
          stage: 'cgroup',
        });
      }
      await sleep(Math.min(1 + i, 10));
    }
  }

  /**
   * rmdir the cgroup (every hierarchy on v1). Retries briefly on EBUSY while the last processes
   * are torn down; fails with EBUSY when processes remain (kill() first). Idempotent.
   *
   * The first attempt is synchronous on purpose: measured here, an rmdir in the thread pool
   * overlapping the next spawn (whose child writes to cgroup.procs, which takes the same kernel
   * cgroup lock) made that spawn ~0.5 ms slower, more than the rmdir itself costs (~0.03 ms).
   */
  async remove(opts: { timeoutMs?: number } = {}): Promise<void> {
    if (this.removed) return;
    if (this.extending) {
      this.removing = true;
      await this.extending;
    }
    const deadline = Date.now() + (opts.timeoutMs ?? 2000);
    for (const d of uniqueDirs(this.paths)) await rmdirRetrying(d, deadline);
    this.removed = true;
    this.closeFiles();
  }

  /**
   * Synchronously, every directory of the tree when no process is left in it: true when they are
   * gone; false, and the rest kept, while the tree has members or a moment after the last one
   * left (then waiting up to `waitMs`, the thread blocked: for the exit hook; with
   * `whileMembers` also while members are listed, which may be dying). One rmdir per directory
   * answers both: EBUSY with members listed means keep it.
   */
  removeNowIfEmpty(opts: { waitMs?: number; whileMembers?: boolean } = {}): boolean {
    if (this.removed) return true;
    if (this.extending) return false; // its new directories: the asynchronous path handles them
    const deadline = Date.now() + (opts.waitMs ?? 0);
    for (const d of uniqueDirs(this.paths)) {
      for (let i = 0; ; i++) {
        try {
          fs.rmdirSync(d);
          break;
        } catch (e) {
          const c = errCode(e);
          if (c === 'ENOENT') break;
          // Members: the tree is not gone (unless `whileMembers`: they may be on their way out).
          // EBUSY without members: the kernel has not let go of the last exited task yet (a
          // moment after the reap), worth a short wait at exit.
          if (c !== 'EBUSY' || Date.now() >= deadline) return false;
          if (!opts.whileMembers && readPids(d).length > 0) return false;
          sleepSync(Math.min(1 + i, 10));
        }
      }
    }
    this.removed = true;
    this.closeFiles();
    return true;
  }

  /**
   * removeNowIfEmpty() where waiting is allowed: false, and nothing removed, while the tree has
   * members (a leader that exited can leave descendants running).
   */
  async removeIfEmpty(): Promise<boolean> {
    if (this.removed) return true;
    if (this.extending) await this.extending; // its new directories are removed with the rest
    try {
      fs.rmdirSync(this.dir);
    } catch (e) {
      const c = errCode(e);
      if (c === 'EBUSY' && this.pids().length > 0) return false;
      if (c !== 'EBUSY' && c !== 'ENOENT') throw sysError(`cannot remove cgroup ${this.dir}`, e, this.dir);
    }
    await this.remove();
    return true;
  }
}

/**
 * The own properties of `r`, without a prototype: what is written to cgroup files is read from
 * this, so an inherited memoryBytes (a polluted Object.prototype) can never become a limit.
 */
function ownResources(r: Resources): Resources {
  return Object.assign(Object.create(null), r);
}

/** Whether the OOM counters' texts (TaskCgroup.oomFiles()' order) count a kill. */
function oomFrom(version: 1 | 2, texts: (string | null)[]): boolean {
  for (const t of texts) {
    const ev = parseKeyed(t);
    if ((ev.get('oom_kill') ?? 0) > 0 || (version === 2 && (ev.get('oom_group_kill') ?? 0) > 0)) return true;
  }
  return false;
}

/** A placement's done() with nothing to close (the fds are held for the next tree). */
function nothing(): void {}

/** A v2 directory opened for clone3 CLONE_INTO_CGROUP. */
function dirEntry(dir: string): [string, number] {
  return [dir, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY];
}

/** A directory's cgroup.procs opened for the child's join. */
function procsEntry(dir: string): [string, number] {
  return [path.join(dir, 'cgroup.procs'), fs.constants.O_WRONLY];
}

/** Sleeps the thread (no event loop turn): for the exit hook, where nothing asynchronous runs any more. */
function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

async function rmdirRetrying(d: string, deadline: number): Promise<void> {
  for (let i = 0; ; i++) {
    try {
      fs.rmdirSync(d);
      return;
    } catch (e) {
      const c = errCode(e);
      if (c === 'ENOENT') return;
      if (c === 'EBUSY' && Date.now() < deadline) {
        await sleep(Math.min(1 + i, 20));
        continue;
      }
      throw sysError(
        `cannot remove cgroup ${d}${c === 'EBUSY' ? ` (processes: ${readPids(d).slice(0, 10).join(' ') || 'none listed'}; children?)` : ''}`,
        e,
        d,
      );
    }
  }
}
