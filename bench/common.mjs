// What bench/run.mjs and bench/many.mjs both need: timing, statistics, number formats, and the
// children of this process.

import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * Uncounted spawns at the start of every round, for every variant alike (the C floor's serve mode
 * takes the same count): a round follows another variant's, whose deferred work (the kernel
 * freeing removed cgroups, exits still being torn down) would otherwise land on the first spawns
 * of whichever variant came next. Without it the floor had two such spawns per round and the
 * Node variants none.
 */
export const ROUND_WARMUP_SPAWNS = 2;

/**
 * Uncounted spawns of every Node variant before its first counted series, taken in turns (one
 * spawn of each variant, then the next), so that V8 has compiled the code each one runs with its
 * optimizing tier, as in a supervisor that has been running for a while: measured here (process
 * CPU, one variant alone), the linux backend's JavaScript took about twice the user CPU per spawn
 * (0.6 against 0.3 ms) for its first ~1,500 spawns (interpreter and baseline code) as afterwards.
 * The C floor has no JIT to warm. `jitWarmUp` reports the wall time of each variant's first and
 * last 10% of these spawns (which includes the machine's drift over the warm-up).
 */
export const JIT_WARMUP_SPAWNS = Math.max(0, Math.round(Number(process.env.BENCH_JIT_WARMUP ?? 1000)));

/**
 * `count` (scaled) spawns of each variant with a run(), in turns; returns per variant id the
 * wall ms/spawn of the first and the last tenth of them (a tenth is at least one spawn), or {}.
 */
export async function jitWarmUp(variants, count) {
  const runs = variants.filter((v) => v.run);
  const tenth = Math.max(1, Math.floor(count / 10));
  const t = Object.fromEntries(runs.map((v) => [v.id, { firstMs: 0, lastMs: 0 }]));
  for (let i = 0; i < count; i++) {
    for (const v of runs) {
      const a = hr();
      await v.run(true);
      const d = ms(a, hr());
      if (i < tenth) t[v.id].firstMs += d / tenth;
      if (i >= count - tenth) t[v.id].lastMs += d / tenth;
    }
  }
  return count > 0 ? t : {};
}

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

/**
 * The variants in a new order each round (a fixed seed, so runs are alike): with one cyclic order
 * every variant would always follow the same one, and inherit the same neighbour's leftovers.
 * mulberry32, whose first outputs already differ for neighbouring seeds (a plain xorshift seeded
 * with round + 1 gave nearly the same order every round: 'spawn' always ran right after 'cp', the
 * last two of every round).
 */
export function shuffled(list, round) {
  let x = Math.imul(round + 1, 0x9e3779b9) >>> 0;
  const rnd = () => {
    x = (x + 0x6d2b79f5) >>> 0;
    let t = x;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
  const a = list.slice();
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}

// ---- rounds of spawns -------------------------------------------------------------------------

/** rounds of n spawns one after another: per-round ms/spawn and every spawn's latency. */
export async function measureSeq(run, n, rounds, warmup) {
  for (let i = 0; i < warmup; i++) await run(true); // true: a warm-up (profilers do not record it)
  const perRound = [];
  const lat = [];
  for (let r = 0; r < rounds; r++) {
    const t0 = hr();
    for (let i = 0; i < n; i++) {
      const a = hr();
      await run();
      lat.push(ms(a, hr()));
    }
    perRound.push(ms(t0, hr()) / n);
  }
  return { perRound, lat };
}

/** rounds of n spawns with `conc` in flight: per-round wall ms / n. */
export async function measureConc(run, n, conc, rounds, warmup) {
  for (let i = 0; i < warmup; i++) await run(true);
  const perRound = [];
  for (let r = 0; r < rounds; r++) {
    let next = 0;
    const t0 = hr();
    const worker = async () => {
      while (next < n) {
        next++;
        await run();
      }
    };
    await Promise.all(Array.from({ length: Math.min(conc, n) }, worker));
    perRound.push(ms(t0, hr()) / n);
  }
  return { perRound, lat: [] };
}

// ---- the C floor's serve mode ------------------------------------------------------------------

/** The lines of the floor's rounds: per-round ms/spawn, every latency, posix_spawn's own time, RSS. */
function parseFloor(lines) {
  const perRound = [];
  const lat = [];
  const spawned = [];
  let rss = null;
  for (const line of lines) {
    const f = line.split(' ');
    if (f[0] === 'spawned') for (const x of f.slice(1)) spawned.push(Number(x) / 1e6);
    else if (f[0] === 'round') {
      perRound.push(Number(f[1]) / 1e6 / Number(f[2]));
      for (const x of f.slice(3)) lat.push(Number(x) / 1e6);
    } else if (f[0] === 'rss') rss = Number(f[1]);
  }
  return { perRound, lat, rss, spawned };
}

/**
 * A C floor program in its serve mode (bench/posix_spawn_floor.c, bench/cgroup_floor.c): one
 * process that runs a round per request line ("seq|conc N WARMUP [more fields]") and ends each
 * with "done", so that it takes its turns among the Node variants. round(mode, n, warmup,
 * ...fields) resolves with parse(that round's lines), and rejects, with the program's stderr,
 * once it has ended; close() ends it and resolves with parse(the lines after the last round);
 * kill(signal) resolves once it has ended.
 */
export function startServer(bin, argv, parse, options = {}) {
  const name = path.basename(bin);
  const c = spawn(bin, argv, { ...options, stdio: ['pipe', 'pipe', 'pipe'] });
  let buf = '';
  let stderr = '';
  let lines = [];
  let waiting = null;
  let gone = null; // the Error once it has ended or could not start
  c.stdout.setEncoding('utf8');
  c.stderr.setEncoding('utf8');
  c.stderr.on('data', (d) => (stderr += d));
  c.stdout.on('data', (d) => {
    buf += d;
    for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      if (line !== 'done') lines.push(line);
      else if (waiting) {
        const w = waiting;
        waiting = null;
        w.resolve(parse(lines));
        lines = [];
      }
    }
  });
  // A write after it ended fails with EPIPE: that is reported by the rejection below.
  c.stdin.on('error', () => {});
  const ended = new Promise((resolve) => {
    c.once('error', (e) => {
      gone ??= new Error(`${name} did not start: ${e.message}`);
      resolve({ code: null, signal: null, error: e });
    });
    c.once('close', (code, signal) => {
      gone ??= new Error(`${name} ended (${code ?? signal}): ${stderr.trim()}`);
      resolve({ code, signal });
    });
  });
  ended.then(() => {
    const w = waiting;
    waiting = null;
    w?.reject(gone);
  });
  return {
    round: (mode, n, warmup, ...fields) =>
      new Promise((resolve, reject) => {
        if (gone) return reject(gone);
        waiting = { resolve, reject };
        c.stdin.write(`${[mode, n, warmup, ...fields].join(' ')}\n`);
      }),
    close: async () => {
      c.stdin.end();
      const { code, signal, error } = await ended;
      if (error || code !== 0) throw new Error(`${name} failed: ${error?.message ?? code ?? signal} ${stderr.trim()}`);
      return parse(lines);
    },
    kill: async (signal = 'SIGKILL') => {
      if (c.exitCode === null && c.signalCode === null) c.kill(signal);
      await ended;
    },
  };
}

/**
 * The C floor (bench/posix_spawn_floor.c, built at floorBin) serving `program args...` with its
 * ballast mapped once (startServer); ready() resolves once that ballast is in (await it before the
 * turns start); close() resolves with its RSS.
 */
export function startFloor(floorBin, program, args, conc, rssMb) {
  const server = startServer(floorBin, [program, 'serve', '1', String(conc), '1', '0', String(rssMb), ...args], parseFloor);
  return {
    ...server,
    // With a ballast the floor first faults in every page (~1 s of the kernel zeroing 2 GB on
    // the other core, and memory bandwidth), which must not overlap the Node variants' first
    // rounds.
    ready: () => server.round('seq', 1, 0),
    close: async () => (await server.close()).rss,
  };
}

/**
 * The path of a tool the benchmark needs from a Debian package (bubblewrap, strace), installing
 * the package with apt-get when none of `paths` exists (as root on Linux; `apt-get update` once
 * if the first install fails). `{ path, reason }`: path null with the reason where it cannot.
 */
export function ensureDebianTool(pkg, paths, log = console.log) {
  const find = () => paths.find((p) => fs.existsSync(p)) ?? null;
  let found = find();
  if (found) return { path: found, reason: null };
  if (process.platform !== 'linux' || process.getuid?.() !== 0) return { path: null, reason: `${pkg} is not installed (apt-get install ${pkg}, as root)` };
  log(`  installing ${pkg} (apt-get install ${pkg})`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const install = () => spawnSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', pkg], { env, stdio: 'ignore' });
  let r = install();
  if (r.status !== 0) {
    spawnSync('apt-get', ['update', '-qq'], { env, stdio: 'ignore' });
    r = install();
  }
  found = find();
  return found ? { path: found, reason: null } : { path: null, reason: `apt-get install ${pkg} failed (exit ${r.status})` };
}
