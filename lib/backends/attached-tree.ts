// A tree known only by its leader's pid: attached by openPid() (the universal backend's, and the
// native backends' when the handle names no cgroup), and the /proc-based usage and the "cannot
// change limits" answer that the pure-JS backend's own trees share with it. Not a backend: the
// backends import it.

import { readFileSync } from 'node:fs';
import type { Readable, Writable } from 'node:stream';
import { descendants, pidExists, procStatsOf, processStartTime } from '../proc.js';
import type { EnforcedMap, Enforcement, Resources, Stats } from '../types.js';
import { encodeHandle, type HandleData, type RawExit, type Tree } from './backend.js';
import { notEnforced, sigkillEach } from './shared.js';

const isLinux = process.platform === 'linux';

const NULL_STATS: Stats = {
  memoryBytes: null,
  memoryPeakBytes: null,
  cpuUserMicros: null,
  cpuSystemMicros: null,
  processes: null,
};

/** Usage of a tree without a cgroup: the leader and the descendants /proc still links to it. */
export function pidTreeStats(pid: number, gone: boolean): Stats {
  if (!isLinux || gone) return { ...NULL_STATS, processes: gone ? 0 : null };
  return procStatsOf([pid, ...descendants(pid)]);
}

/** The pure-JS backend has no mechanism that could change a running tree's limits. */
export function notUpdatable(resources: Resources): EnforcedMap {
  const out: EnforcedMap = {};
  for (const k of Object.keys(resources) as (keyof Resources)[])
    out[k] = notEnforced('the pure-JS backend cannot change limits of a running tree');
  return out;
}

/**
 * A process that is not our child: attached by openPid(). Its exit is seen by polling (the
 * pure-JS backend has no pidfd), its identity re-checked by start time before every signal.
 * The poll keeps the event loop alive while the process lives, as a ChildProcess does (unref()
 * lets go), and stops once it is gone. A bare pid confine did not start (`scope: 'process'`) is
 * that one process: signals and stops never reach processes found by a /proc walk.
 */
export class AttachedTree implements Tree {
  readonly pid: number;
  readonly started: Promise<void> = Promise.resolve();
  readonly stdio: (Readable | Writable | null)[] = [null, null, null];
  /** Re-encoded by a subclass when what it names grows (AttachedNativeTree after update()). */
  handle: string;
  readonly exited: Promise<RawExit>;
  readonly closed: Promise<void>;
  private gone = false;
  private timer: NodeJS.Timeout | null = null;
  private refed = true;
  /** Only this process: a bare pid confine did not start. */
  protected readonly processOnly: boolean;

  constructor(private readonly data: HandleData) {
    this.pid = data.pid;
    this.processOnly = data.scope === 'process';
    this.handle = encodeHandle(data);
    this.exited = new Promise((resolve) => {
      const check = () => {
        if (!this.alive()) {
          this.gone = true;
          this.timer = null;
          resolve({ exitCode: null, signal: null, cpuUserMicros: null, cpuSystemMicros: null, memoryPeakBytes: null });
          return;
        }
        this.timer = setTimeout(check, 100);
        if (!this.refed) this.timer.unref();
      };
      check();
    });
    this.closed = this.exited.then(() => undefined);
  }

  ref(): void {
    this.refed = true;
    this.timer?.ref();
  }

  unref(): void {
    this.refed = false;
    this.timer?.unref();
  }

  /** How an attached process is stopped; a bare pid's stop is that of one process. */
  enforcement(): EnforcedMap {
    if (!this.processOnly) return {};
    const stop: Enforcement = {
      enforced: false,
      mechanism: 'signal',
      scope: 'process',
      note: 'a pid confine did not start is stopped as that one process; its descendants are not looked for (open a tree confine started by its handle to stop the whole tree)',
    };
    return { treeStop: stop };
  }

  /** The pid still names the process we attached to. */
  private alive(): boolean {
    if (!pidExists(this.pid)) return false;
    const st = processStartTime(this.pid);
    if (this.data.startTime !== null && st !== this.data.startTime) return false;
    // A zombie that is not our child: it has exited; its parent will reap it.
    try {
      if (isLinux && readFileSync(`/proc/${this.pid}/stat`, 'utf8').split(') ')[1]?.startsWith('Z')) return false;
    } catch {
      return false;
    }
    return true;
  }

  signal(sig: number): boolean {
    if (this.gone || !this.alive()) return false;
    try {
      process.kill(this.pid, sig);
      return true;
    } catch {
      return false;
    }
  }

  private isGroupLeader(): boolean {
    if (!isLinux) return false;
    try {
      const stat = readFileSync(`/proc/${this.pid}/stat`, 'utf8');
      return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]) === this.pid;
    } catch {
      return false;
    }
  }

  signalTree(sig: number): void {
    if (this.gone || !this.alive()) return;
    if (!this.processOnly && this.isGroupLeader()) {
      try {
        process.kill(-this.pid, sig);
        return;
      } catch {
        /* fall through to the leader */
      }
    }
    this.signal(sig);
  }

  async killTree(): Promise<void> {
    if (this.gone || !this.alive()) return;
    const kids = this.processOnly ? [] : descendants(this.pid);
    this.signalTree(9);
    sigkillEach(kids);
  }

  async stats(): Promise<Stats> {
    if (this.processOnly && isLinux) return procStatsOf(this.gone ? [] : [this.pid]);
    return pidTreeStats(this.pid, this.gone);
  }

  async update(resources: Resources): Promise<EnforcedMap> {
    return notUpdatable(resources);
  }

  oomKilled(): boolean {
    return false;
  }

  async release(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
  }
}
