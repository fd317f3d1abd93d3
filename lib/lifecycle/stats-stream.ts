// executor.statsStream({ intervalMs }): samples of the whole tree's usage until it exits, as an
// async iterator. The first sample comes at once (its cpuPercent is null: no interval yet), then
// one every intervalMs; the iteration ends when the leader has exited, or when the consumer
// breaks out of its loop (the timer is cleared either way).

import { ConfineArgumentError } from '../errors.js';
import type { ExitStatus, Stats } from '../types.js';
import { monotonicMs } from '../clock.js';

export interface StatsSample extends Stats {
  /**
   * CPU used by the tree over the last interval, in percent of one core (200 = two cores busy);
   * null on the first sample, or when the backend has no CPU counter.
   */
  cpuPercent: number | null;
  /** When the sample was taken (ms since the epoch, Date.now()). */
  atMs: number;
}

export interface StatsStreamOptions {
  /** Time between samples; default 1000, at least 10. */
  intervalMs?: number;
}

/** What statsStream needs of an executor. */
export interface Sampled {
  stats(): Promise<Stats>;
  wait(): Promise<ExitStatus>;
}

export function validateInterval(opts: StatsStreamOptions | undefined): number {
  const ms = opts?.intervalMs ?? 1000;
  if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 10) {
    throw new ConfineArgumentError(`statsStream: intervalMs must be a number >= 10, got ${String(ms)}`);
  }
  return ms;
}

function cpuTotal(s: Stats): number | null {
  return s.cpuUserMicros === null || s.cpuSystemMicros === null ? null : s.cpuUserMicros + s.cpuSystemMicros;
}

/** Validates the options at once (a bad intervalMs throws here, not at the first next()). */
export function statsStream(ex: Sampled, opts?: StatsStreamOptions): AsyncGenerator<StatsSample, void, undefined> {
  return samples(ex, validateInterval(opts));
}

async function* samples(ex: Sampled, intervalMs: number): AsyncGenerator<StatsSample, void, undefined> {
  let exited = false;
  const exit = ex.wait().then(
    () => (exited = true),
    () => (exited = true),
  );
  let prev: { cpu: number | null; at: number } | null = null;
  let timer: NodeJS.Timeout | undefined;
  try {
    while (!exited) {
      let s: Stats;
      try {
        s = await ex.stats();
      } catch (e) {
        if (exited) return;
        throw e;
      }
      // stats() of a tree that exited meanwhile describes a dead tree: end instead.
      if (exited) return;
      const atMs = Date.now();
      // The interval for cpuPercent from a monotonic clock: a wall-clock step must not skew it.
      const at = monotonicMs();
      const cpu = cpuTotal(s);
      let cpuPercent: number | null = null;
      if (prev && prev.cpu !== null && cpu !== null && at > prev.at) {
        cpuPercent = Math.max(0, ((cpu - prev.cpu) / ((at - prev.at) * 1000)) * 100);
      }
      prev = { cpu, at };
      yield { ...s, cpuPercent, atMs };
      if (exited) return;
      await Promise.race([exit, new Promise<void>((r) => (timer = setTimeout(r, intervalMs)))]);
      clearTimeout(timer);
    }
  } finally {
    clearTimeout(timer);
  }
}
