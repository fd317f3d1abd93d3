// A monotonic clock in milliseconds, for durations and ages. Not performance.now(): the global
// `performance` (like node:perf_hooks) loads Node's whole performance-timeline layer on first
// use, a few ms of every `confine run` for one subtraction; process.hrtime is already there.

/** Milliseconds on a monotonic clock (its origin is arbitrary: compare two readings only). */
export function monotonicMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}
