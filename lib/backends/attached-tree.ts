// A tree known only by its leader's pid: attached by openPid() (the universal backend's, and the
// native backends' when the handle names no cgroup), and the /proc-based usage and the "cannot
// change limits" answer that the pure-JS backend's own trees share with it. Not a backend: the
// backends import it.

import { readFileSync } from 'node:fs';
import type { Readable, Writable } from 'node:stream';
import { descendants, pidExists, procStatsOf, processStartTime } from '../proc.js';
import type { EnforcedMap, Resources, Stats } from '../types.js';
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
 */
export class AttachedTree implements Tree {
  readonly pid: number;
  readonly stdio: (Readable | Writable | null)[] = [null, null, null];
  /** Re-encoded by a subclass when what it names grows (AttachedNativeTree after update()). */
  handle: string;
  readonly exited: Promise<RawExit>;
  readonly closed: Promise<void>;
  private gone = false;
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly data: HandleData) {
    this.pid = data.pid;
    this.handle = encodeHandle(data);
    this.exited = new Promise((resolve) => {
      const check = () => {
        if (!this.alive()) {
          this.gone = true;
          resolve({ exitCode: null, signal: null, cpuUserMicros: null, cpuSystemMicros: null, memoryPeakBytes: null });
          return;
        }
        this.timer = setTimeout(check, 100);
      };
      check();
    });
    this.closed = this.exited.then(() => undefined);
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
    if (this.isGroupLeader()) {
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
    const kids = descendants(this.pid);
    this.signalTree(9);
    sigkillEach(kids);
  }

  async stats(): Promise<Stats> {
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
