// What bench/run.mjs and bench/many.mjs both need: timing, statistics, number formats, and the
// children of this process.

import * as fs from 'node:fs';

export const hr = () => process.hrtime.bigint();
export const ms = (a, b) => Number(b - a) / 1e6;

/** Nearest-rank quantile; NaN for no samples. */
export function quantile(xs, q) {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const i = Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1));
  return s[i];
}

export const median = (xs) => {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

export const f2 = (x) => (Number.isFinite(x) ? x.toFixed(2) : 'n/a');
export const f3 = (x) => (Number.isFinite(x) ? x.toFixed(3) : 'n/a');
export const ratio = (x) => (Number.isFinite(x) ? (x >= 10 ? x.toFixed(1) : x.toFixed(2)) : 'n/a');

/** Pids of this process's children (every thread's), from /proc. */
export function childrenOfSelf() {
  const out = [];
  for (const t of fs.readdirSync('/proc/self/task')) {
    try {
      out.push(...fs.readFileSync(`/proc/self/task/${t}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number));
    } catch {
      /* thread gone */
    }
  }
  return out;
}
