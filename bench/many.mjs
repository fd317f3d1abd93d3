// The 1,000-children figures of the spawn benchmark (bench/run.mjs calls measureMany() once per
// supervisor size): N sleeping children alive at once, for every confine backend,
// child_process.spawn and the C posix_spawn floor. Per variant and round: the time to start all
// N (64 starts in flight), the supervisor's CPU time during it, when each tenth of the starts had
// returned, the time to stop all N (64 stops in flight: forceStop() for confine, kill('SIGKILL')
// + 'exit' for child_process), then a check that every child was reaped and every cgroup this
// process made for them is gone. The native variants and the C floor run ROUNDS rounds in
// shuffled turns (medians and spread reported); child_process and universal are context: one
// round, of `contextN` children (bench/run.mjs: fewer at 2 GB, where each takes ~45 ms).
//
// Cleanup, also on failure: every child is tracked by pid (the C floor's by its process group)
// and killed by that pid on error, on timeout, on SIGINT/SIGTERM/SIGHUP and at process exit;
// task cgroups of this process that confine did not remove are removed here (and reported).
//
//   BENCH_MANY=1000      children alive at once (default 1000 × BENCH_SCALE; 0 skips)
//   BENCH_MANY_ONLY=cp,floor   only these variants (a quick look; ids as in MANY_VARIANTS)
//   BENCH_MANY_ROUNDS=5  rounds of the native variants and the C floor (the isolated one: at most 3)
//
// Standalone, at the current (small) supervisor size:  node bench/many.mjs

import { spawn as cpSpawn, execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import * as v8 from 'node:v8';
import * as vm from 'node:vm';
import { childrenOfSelf, f2, f3, hr, median, ms, ratio, shuffled } from './common.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const DIST = path.join(HERE, '..', 'dist');
const CONC = 64;
const SLEEP_ARGS = ['600'];
const CG_LIMITS = { memoryBytes: 256 * 1024 * 1024, maxProcesses: 64, cpu: 1 };
/** No phase of one variant should take longer than this; past it the variant fails and is cleaned up. */
const PHASE_TIMEOUT_MS = 10 * 60_000;
/** How long after the stop the children and cgroups may take to go. */
const CLEANUP_WAIT_MS = 20_000;

/** Rounds of the native variants and the C floor; the isolated one takes at most ISO_ROUNDS (~7 s each). */
const ROUNDS = 5;
const ISO_ROUNDS = 3;

/** `context`: one round only (not a target; child_process and universal fork the whole supervisor). */
export const MANY_VARIANTS = [
  { id: 'linux', label: 'confine linux (own cgroup, no cgroup limits)', executor: 'linux', pidfd: true },
  { id: 'linux+cg', label: 'confine linux + memory/pids/cpu limits', executor: 'linux', limits: CG_LIMITS, pidfd: true },
  { id: 'posix', label: 'confine posix (no cgroup)', executor: 'posix', pidfd: true },
  { id: 'linux+iso', label: 'confine linux + isolate() preset', executor: 'linux', isolate: true, pidfd: true, maxRounds: ISO_ROUNDS },
  { id: 'universal', label: 'confine universal (child_process + sh ulimit)', executor: 'universal', context: true },
  { id: 'cp', label: 'child_process.spawn', context: true },
  { id: 'floor', label: 'C posix_spawn, one after another (floor)' },
];

/** BENCH_MANY_ROUNDS, else ROUNDS. */
export function manyRounds() {
  const r = Math.floor(Number(process.env.BENCH_MANY_ROUNDS));
  return Number.isFinite(r) && r > 0 ? r : ROUNDS;
}

/** How many rounds variant `v` runs when the native ones run `rounds`. */
const roundsOf = (v, rounds) => (v.context ? 1 : Math.min(rounds, v.maxRounds ?? rounds));

/**
 * A full garbage collection between variants (untimed), so that each starts from a settled heap
 * and the RSS reported is the supervisor's, not the previous variant's garbage. `--expose-gc` set
 * at run time; a no-op where that does not work.
 */
const gc = (() => {
  try {
    v8.setFlagsFromString('--expose-gc');
    const f = vm.runInNewContext('gc');
    if (typeof f === 'function') return f;
  } catch {
    /* no gc then */
  }
  return () => {};
})();

const sleep = (t) => new Promise((r) => setTimeout(r, t));

/** N from BENCH_MANY, else 1000 × BENCH_SCALE. */
export function manyCount(scale = 1) {
  const env = process.env.BENCH_MANY;
  if (env !== undefined && env !== '') {
    const n = Math.floor(Number(env));
    return Number.isFinite(n) && n > 0 ? n : 0;
  }
  return Math.max(CONC, Math.round(1000 * scale));
}

/** The program the children run: sleep, resolved once so that every variant execs the same file. */
export function sleepPath() {
  for (const dir of (process.env.PATH ?? '/usr/bin:/bin').split(':')) {
    const p = path.join(dir || '.', 'sleep');
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return p;
    } catch {
      /* next */
    }
  }
  return '/bin/sleep';
}

// ---- limits of this host --------------------------------------------------------------------

function nofileSoft() {
  const m = /^Max open files\s+(\d+|unlimited)/m.exec(fs.readFileSync('/proc/self/limits', 'utf8'));
  return !m || m[1] === 'unlimited' ? Infinity : Number(m[1]);
}

/** Processes this process may still create: its pids cgroup (v1 or v2) and the kernel's pid_max. */
function pidsHeadroom() {
  let room = Infinity;
  try {
    const pidMax = Number(fs.readFileSync('/proc/sys/kernel/pid_max', 'utf8'));
    if (pidMax > 0) room = pidMax - 1000;
  } catch {
    /* unknown */
  }
  try {
    for (const line of fs.readFileSync('/proc/self/cgroup', 'utf8').split('\n')) {
      const [, ctrls, rel] = line.split(':');
      if (rel === undefined) continue;
      const dir = ctrls.split(',').includes('pids') ? `/sys/fs/cgroup/pids${rel}` : ctrls === '' ? `/sys/fs/cgroup${rel}` : null;
      if (!dir) continue;
      try {
        const max = fs.readFileSync(path.join(dir, 'pids.max'), 'utf8').trim();
        const cur = Number(fs.readFileSync(path.join(dir, 'pids.current'), 'utf8'));
        if (max !== 'max') room = Math.min(room, Number(max) - cur);
      } catch {
        /* no pids controller there */
      }
    }
  } catch {
    /* not Linux */
  }
  return room;
}

/** Why a variant cannot run N children here, or null. */
function skipReason(v, n) {
  // Each live native child holds a pidfd; while starting, up to CONC starts hold stdio, the
  // error pipe and a cgroup.procs fd per v1 hierarchy (~12 fds each).
  const needFds = (v.pidfd ? n : 0) + CONC * 12 + 256;
  const soft = nofileSoft();
  if (soft < needFds) return `RLIMIT_NOFILE soft limit ${soft} < ${needFds} needed (raise it with \`ulimit -n\` before the run)`;
  const room = pidsHeadroom();
  if (room < n + 64) return `only ${room} more processes allowed here (pids cgroup / pid_max) < ${n + 64}`;
  return null;
}

// ---- processes and cgroups of this process ----------------------------------------------------

function zombies(pids) {
  return pids.filter((p) => {
    try {
      const stat = fs.readFileSync(`/proc/${p}/stat`, 'utf8');
      return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
    } catch {
      return false;
    }
  });
}

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return e.code === 'EPERM';
  }
}

/** Task cgroups named by this process (taskCgroupName(): confine-<pid>-...), every hierarchy. */
function ourCgroups() {
  const args = ['/sys/fs/cgroup', '-mindepth', '1', '-type', 'd', '-name', `confine-${process.pid}-*`, '-prune', '-print'];
  try {
    return execFileSync('find', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], maxBuffer: 64 << 20 })
      .split('\n')
      .filter(Boolean);
  } catch (e) {
    return (e.stdout ?? '').split('\n').filter(Boolean);
  }
}

/**
 * The directories of the linux backend's spare task cgroups (lib/cgroup/pool.ts): made ahead of
 * time, never held a process, removed by the pool itself after a short idle time. Not a child's
 * cgroup, so neither counted as one nor as left behind. Empty with a dist/ that has no pool.
 */
function spareDirs() {
  try {
    const { taskCgroupPool } = createRequire(import.meta.url)(path.join(DIST, 'cgroup', 'index.js'));
    return new Set(taskCgroupPool?.spares?.().flat() ?? []);
  } catch {
    return new Set();
  }
}

/** Our task cgroups that belong to a tree: ourCgroups() without the pool's spares. */
function ourTreeCgroups() {
  const spares = spareDirs();
  return ourCgroups().filter((d) => !spares.has(d));
}

/** Remove task cgroups of ours that are left (deepest first); the ones that would not go. */
function removeCgroups(dirs) {
  const stuck = [];
  for (const d of [...dirs].sort((a, b) => b.length - a.length)) {
    try {
      fs.rmdirSync(d);
    } catch (e) {
      if (e.code !== 'ENOENT') stuck.push(d);
    }
  }
  return stuck;
}

// ---- the safety net: everything started is killed by pid on every way out ------------------

const tracked = new Set(); // pids of live children
const trackedGroups = new Set(); // process groups (the C floor's children)

function killTracked() {
  for (const g of trackedGroups) {
    try {
      process.kill(-g, 'SIGKILL');
    } catch {
      /* group gone */
    }
  }
  for (const p of tracked) {
    try {
      process.kill(p, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
}

let onAbort = null; // the caller's cleanup, run before a signal ends the process

function onSignal(sig) {
  killTracked();
  const dirs = ourCgroups();
  if (dirs.length) {
    // The children are dead (zombies leave their cgroup); give the kernel a moment.
    const until = Date.now() + 500;
    while (Date.now() < until && removeCgroups(dirs).length) {
      /* spin briefly: this process is about to exit */
    }
  }
  try {
    onAbort?.();
  } catch {
    /* best effort */
  }
  process.exit(128 + (os.constants.signals[sig] ?? 1));
}

function armSafetyNet(abortHook) {
  onAbort = abortHook ?? null;
  process.on('exit', killTracked);
  for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(s, onSignal);
}

function disarmSafetyNet() {
  onAbort = null;
  process.off('exit', killTracked);
  for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.off(s, onSignal);
}

// ---- a pool that stops taking work on the first failure ---------------------------------------

/**
 * fn(i) for i < n with `conc` in flight. On the first error, or on `timeoutMs`, no new item is
 * taken; the promise rejects once every in-flight call has settled (so nothing starts after the
 * caller's cleanup), or at the latest `graceMs` after that.
 */
async function pool(n, conc, fn, timeoutMs, what) {
  let next = 0;
  let failure = null;
  const worker = async () => {
    while (next < n && !failure) {
      const i = next++;
      try {
        await fn(i);
      } catch (e) {
        failure ??= e;
      }
    }
  };
  let timer;
  const timeout = new Promise((resolve) => {
    timer = setTimeout(() => {
      failure ??= new Error(`${what}: not done after ${timeoutMs / 1000} s (${next} of ${n} taken)`);
      resolve();
    }, timeoutMs);
  });
  const done = Promise.allSettled(Array.from({ length: Math.min(conc, n) }, worker));
  await Promise.race([done, timeout]);
  clearTimeout(timer);
  if (failure) {
    await Promise.race([done, sleep(30_000)]);
    throw failure;
  }
}

// ---- the variants -----------------------------------------------------------------------------

/** This process's CPU time (user + system, every thread) since `before` (process.cpuUsage()), ms. */
const cpuMsSince = (before) => {
  const d = process.cpuUsage(before);
  return (d.user + d.system) / 1000;
};

/**
 * When each tenth of the starts had returned, ms after t0 (as the C floor's many_marks): a start
 * that gets dearer with the children alive shows as later tenths taking longer than the first.
 */
function tenths(launched, t0) {
  const n = launched.length;
  return Array.from({ length: 10 }, (_, k) => ms(t0, launched[Math.ceil(((k + 1) * n) / 10) - 1]));
}

/** Starts N children, stops them; returns { startMs, stopMs, rssLive, cgroupsLive }; cleans up. */
async function confineVariant(command, v, n, file) {
  const execs = [];
  const launched = new Array(n); // when each start's synchronous launch had returned
  const isoDir = v.isolate ? fs.mkdtempSync(path.join(os.tmpdir(), 'confine-bench-iso-')) : null;
  // The preset's syscalls and capabilities are not enforced until issue 17: a warning per start.
  const warnings = v.isolate ? process.listeners('warning') : [];
  if (v.isolate) process.removeAllListeners('warning');
  try {
    const cpu0 = process.cpuUsage();
    const t0 = hr();
    await pool(
      n,
      CONC,
      async (i) => {
        // Isolated: the preset makes the cwd writable, so each tree gets the variant's own directory.
        const ex = command(file, SLEEP_ARGS, { executor: v.executor, stdio: 'ignore', cwd: v.isolate ? isoDir : '/' });
        if (v.limits) ex.limit(v.limits);
        if (v.isolate) ex.isolate();
        execs[i] = ex;
        const started = ex.start(); // the launch is synchronous: the child has exec'd when this returns (linux+iso: its init has; the program's exec is what `started` waits for)
        launched[i] = hr();
        await started;
        tracked.add(ex.pid);
      },
      PHASE_TIMEOUT_MS,
      `${v.id} start`,
    );
    const startMs = ms(t0, hr());
    const cpuMs = cpuMsSince(cpu0);
    const live = {
      rssLive: process.memoryUsage().rss,
      cgroupsLive: v.executor === 'linux' ? ourTreeCgroups().length : 0,
      cpuMs,
      tenthsMs: tenths(launched, t0),
    };
    const pids = execs.map((e) => e.pid);
    if (new Set(pids).size !== n || !pids.every(alive)) throw new Error(`${v.id}: not all ${n} children alive at once`);

    const t1 = hr();
    const statuses = [];
    await pool(
      n,
      CONC,
      async (i) => {
        statuses[i] = await execs[i].forceStop();
        tracked.delete(execs[i].pid);
      },
      PHASE_TIMEOUT_MS,
      `${v.id} stop`,
    );
    const stopMs = ms(t1, hr());
    const notKilled = statuses.filter((s) => s.signal !== 'SIGKILL').length;
    if (notKilled) throw new Error(`${v.id}: ${notKilled} children not ended by SIGKILL`);
    return { startMs, stopMs, ...live };
  } finally {
    const left = execs.filter((e) => e?.pid && alive(e.pid));
    if (left.length) {
      await Promise.race([Promise.allSettled(left.map((e) => e.forceStop())), sleep(30_000)]);
      for (const e of left) {
        try {
          process.kill(e.pid, 'SIGKILL');
        } catch {
          /* gone */
        }
      }
    }
    for (const e of execs) if (e?.pid) tracked.delete(e.pid);
    if (isoDir) fs.rmSync(isoDir, { recursive: true, force: true });
    for (const w of warnings) process.on('warning', w);
  }
}

async function cpVariant(n, file) {
  const kids = [];
  const launched = new Array(n);
  try {
    const cpu0 = process.cpuUsage();
    const t0 = hr();
    await pool(
      n,
      CONC,
      (i) =>
        new Promise((resolve, reject) => {
          const c = cpSpawn(file, SLEEP_ARGS, { stdio: 'ignore', cwd: '/' });
          launched[i] = hr();
          c.exited = new Promise((r) => c.once('exit', (code, signal) => r({ code, signal })));
          kids[i] = c;
          c.once('error', reject);
          c.once('spawn', () => {
            tracked.add(c.pid);
            resolve();
          });
        }),
      PHASE_TIMEOUT_MS,
      'child_process start',
    );
    const startMs = ms(t0, hr());
    const live = { rssLive: process.memoryUsage().rss, cgroupsLive: 0, cpuMs: cpuMsSince(cpu0), tenthsMs: tenths(launched, t0) };
    if (!kids.every((c) => alive(c.pid))) throw new Error(`child_process: not all ${n} children alive at once`);

    const t1 = hr();
    const statuses = [];
    await pool(
      n,
      CONC,
      async (i) => {
        kids[i].kill('SIGKILL');
        statuses[i] = await kids[i].exited;
        tracked.delete(kids[i].pid);
      },
      PHASE_TIMEOUT_MS,
      'child_process stop',
    );
    const stopMs = ms(t1, hr());
    const notKilled = statuses.filter((s) => s.signal !== 'SIGKILL').length;
    if (notKilled) throw new Error(`child_process: ${notKilled} children not ended by SIGKILL`);
    return { startMs, stopMs, ...live };
  } finally {
    for (const c of kids) {
      if (c?.pid && c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
      if (c?.pid) tracked.delete(c.pid);
    }
  }
}

/** The C floor: one process posix_spawns N children one after another, SIGKILLs and reaps them. */
async function floorVariant(floorBin, n, file, rssMb) {
  const args = [file, 'many', String(n), '1', '1', '0', String(rssMb), ...SLEEP_ARGS];
  let pgid = 0;
  const out = await new Promise((resolve, reject) => {
    const c = cpSpawn(floorBin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    tracked.add(c.pid);
    const timer = setTimeout(() => {
      c.kill('SIGTERM'); // it kills its children; the group kill below covers a harder failure
      setTimeout(() => c.kill('SIGKILL'), 2000).unref();
    }, PHASE_TIMEOUT_MS);
    c.stdout.setEncoding('utf8').on('data', (d) => {
      stdout += d;
      const m = !pgid && /^pgid (\d+)$/m.exec(stdout);
      if (m) {
        pgid = Number(m[1]);
        trackedGroups.add(pgid);
      }
    });
    c.stderr.setEncoding('utf8').on('data', (d) => (stderr += d));
    c.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    c.once('close', (code, signal) => {
      clearTimeout(timer);
      tracked.delete(c.pid);
      if (code === 0) resolve(stdout);
      else reject(new Error(`C floor failed: ${code ?? signal} ${stderr.trim()}`));
    });
  }).finally(() => {
    if (pgid) {
      try {
        process.kill(-pgid, 'SIGKILL'); // nothing should be left: this is the safety net
      } catch {
        /* group gone, as expected */
      }
      trackedGroups.delete(pgid);
    }
  });
  const m = /^many (\d+) (\d+) (\d+)$/m.exec(out);
  if (!m || Number(m[1]) !== n) throw new Error(`C floor: unexpected output ${JSON.stringify(out.slice(0, 200))}`);
  const rss = /^rss (\d+)$/m.exec(out);
  const cpu = /^many_cpu (\d+) (\d+)$/m.exec(out);
  const marks = /^many_marks((?: \d+){10})$/m.exec(out);
  return {
    startMs: Number(m[2]) / 1e6,
    stopMs: Number(m[3]) / 1e6,
    rssLive: null,
    cgroupsLive: 0,
    floorRss: rss ? Number(rss[1]) : null,
    cpuMs: cpu ? (Number(cpu[1]) + Number(cpu[2])) / 1000 : null,
    tenthsMs: marks ? marks[1].trim().split(' ').map((x) => Number(x) / 1e6) : null,
  };
}

/** After a variant: wait until no child of ours is left (reaped) and no task cgroup of ours. */
async function settle(cgBefore) {
  const t0 = hr();
  const deadline = Date.now() + CLEANUP_WAIT_MS;
  let kids;
  let cgs;
  for (;;) {
    kids = childrenOfSelf();
    cgs = ourTreeCgroups().filter((d) => !cgBefore.has(d));
    if ((kids.length === 0 && cgs.length === 0) || Date.now() > deadline) break;
    await sleep(kids.length ? 20 : 50);
  }
  const settleMs = ms(t0, hr());
  const z = zombies(kids);
  const stuck = cgs.length ? removeCgroups(cgs) : [];
  return { settleMs, childrenLeft: kids.length, zombiesLeft: z.length, cgroupsLeft: cgs.length, cgroupsStuck: stuck.length };
}

// ---- one supervisor size ------------------------------------------------------------------------

/** One run of one variant: its figures and the cleanup check after it, or { error } with the check. */
async function runOnce(v, command, n, file, floorBin, rssMb) {
  gc();
  const cgBefore = new Set(ourCgroups());
  let r;
  try {
    if (v.id === 'floor') r = await floorVariant(floorBin, n, file, rssMb);
    else if (v.id === 'cp') r = await cpVariant(n, file);
    else r = await confineVariant(command, v, n, file);
  } catch (e) {
    r = { error: String(e?.message ?? e).split('\n')[0] };
  }
  return Object.assign(r, await settle(cgBefore));
}

/**
 * A variant's row from its runs: medians of the figures, the spread of the start (its slowest
 * and fastest round over the median), and the worst cleanup check of any run.
 */
function rowOf(runs, n) {
  const ok = runs.filter((r) => !r.error);
  const worst = (k) => Math.max(...runs.map((r) => r[k] ?? 0));
  const row = {
    n,
    rounds: runs.length,
    settleMs: worst('settleMs'),
    childrenLeft: worst('childrenLeft'),
    zombiesLeft: worst('zombiesLeft'),
    cgroupsLeft: worst('cgroupsLeft'),
    cgroupsStuck: worst('cgroupsStuck'),
    cgroupsLive: worst('cgroupsLive'),
  };
  const failed = runs.find((r) => r.error);
  if (failed) return { ...row, error: failed.error };
  const med = (k) => median(ok.map((r) => r[k]).filter((x) => Number.isFinite(x)));
  const starts = ok.map((r) => r.startMs);
  const startMs = med('startMs');
  const tenthsOk = ok.filter((r) => r.tenthsMs);
  // Per tenth of the starts, the median over the rounds of how long that tenth took.
  const tenthMs = tenthsOk.length
    ? Array.from({ length: 10 }, (_, k) => median(tenthsOk.map((r) => r.tenthsMs[k] - (k ? r.tenthsMs[k - 1] : 0))))
    : null;
  return {
    ...row,
    startMs,
    stopMs: med('stopMs'),
    startSpread: [Math.min(...starts) / startMs, Math.max(...starts) / startMs],
    startRounds: starts,
    cpuMs: med('cpuMs'),
    tenthMs,
    rssLive: Math.max(...ok.map((r) => r.rssLive ?? 0)) || null,
  };
}

/**
 * For one supervisor size: every variant's start and stop of N children alive at once, the
 * native ones and the C floor in `rounds` rounds of shuffled turns, child_process and universal
 * once with `contextN` children (default N).
 * opts: { size: label, n, contextN, rounds, floorBin (C floor; skipped when absent), rssMb (the
 * floor's ballast), log, onAbort (synchronous; run when SIGINT/SIGTERM/SIGHUP ends the process
 * meanwhile, after every child has been killed and the task cgroups removed) }. Returns { n,
 * conc, rounds, rssBefore, rssLive, durationS, rows: { [id]: row } }, where a row is { n, rounds,
 * startMs, stopMs (medians), startSpread, startRounds, cpuMs, tenthMs, settleMs, childrenLeft,
 * zombiesLeft, cgroupsLeft, cgroupsLive } (the cleanup figures: the worst run), or { skipped }, or
 * { error } with the cleanup figures.
 */
export async function measureMany({
  size,
  n,
  contextN = n,
  rounds = manyRounds(),
  floorBin = null,
  rssMb = 0,
  log = console.log,
  onAbort: abortHook = null,
}) {
  const { command } = await import(pathToFileURL(path.join(DIST, 'index.mjs')).href);
  const file = sleepPath();
  const t0 = hr();
  const rows = {};
  const runs = {};
  gc();
  const rssBefore = process.memoryUsage().rss;
  let rssLive = rssBefore;
  armSafetyNet(abortHook);
  try {
    const only = process.env.BENCH_MANY_ONLY ? process.env.BENCH_MANY_ONLY.split(',') : null;
    const active = [];
    for (const v of MANY_VARIANTS) {
      if (only && !only.includes(v.id)) continue;
      const count = v.context ? Math.min(n, contextN) : n;
      const skipped = v.id === 'floor' && !floorBin ? 'the C floor was not built' : skipReason(v, count);
      if (skipped) {
        rows[v.id] = { skipped };
        log(`  ${size} many ${v.id.padEnd(10)} skipped: ${skipped}`);
        continue;
      }
      active.push({ v, count });
      runs[v.id] = [];
    }
    const s = (x) => (x / 1000).toFixed(2);
    for (let round = 0; round < rounds; round++) {
      const turn = active.filter(({ v }) => round < roundsOf(v, rounds) && !runs[v.id].some((r) => r.error));
      for (const { v, count } of shuffled(turn, round)) {
        const tv = hr();
        const r = await runOnce(v, command, count, file, floorBin, rssMb);
        runs[v.id].push(r);
        if (r.rssLive) rssLive = Math.max(rssLive, r.rssLive);
        log(
          `  ${size} many ${v.id.padEnd(10)} round ${round + 1} ` +
            (r.error
              ? `FAILED: ${r.error}`
              : `start ${s(r.startMs)} s (${(r.startMs / count).toFixed(2)} ms/child, CPU ${(r.cpuMs / count).toFixed(2)})  stop ${s(r.stopMs)} s (${(r.stopMs / count).toFixed(2)} ms/child)`) +
            `  settled +${s(r.settleMs)} s, children left ${r.childrenLeft} (zombies ${r.zombiesLeft}), cgroups left ${r.cgroupsLeft}` +
            `${r.cgroupsLive ? `, ${r.cgroupsLive} cgroup dirs while alive` : ''}${count !== n ? ` (${count} children)` : ''}  [${s(ms(tv, hr()))} s]`,
        );
      }
    }
    for (const { v, count } of active) rows[v.id] = rowOf(runs[v.id], count);
  } finally {
    killTracked();
    tracked.clear();
    trackedGroups.clear();
    disarmSafetyNet();
  }
  return { n, conc: CONC, rounds, rssBefore, rssLive, durationS: ms(t0, hr()) / 1000, rows };
}

// ---- report ---------------------------------------------------------------------------------------


/** The markdown table of one size: medians over the rounds; ×cp and ×C floor per child. */
export function manyTable(res, sizeLabel) {
  const lines = [
    `| ${sizeLabel}, ${res.n} children | rounds | start median s | start ms/child | start spread (fastest–slowest ÷ median) | start ×cp | start ×C floor | stop median s | stop ms/child | stop ×cp | stop ×C floor | reaped, cgroups gone (s after the stop) |`,
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|',
  ];
  const ok = (r) => r && !r.error && !r.skipped;
  const cp = ok(res.rows.cp) ? res.rows.cp : null;
  const fl = ok(res.rows.floor) ? res.rows.floor : null;
  const per = (r, k) => (r ? r[k] / r.n : NaN);
  for (const v of MANY_VARIANTS) {
    const r = res.rows[v.id];
    if (!r) continue;
    if (r.skipped) {
      lines.push(`| ${v.label} | skipped: ${r.skipped} |`);
      continue;
    }
    const clean =
      r.childrenLeft === 0 && r.cgroupsLeft === 0
        ? `yes (+${f2(r.settleMs / 1000)})${r.cgroupsLive ? `; ${r.cgroupsLive} cgroup dirs while alive` : ''}`
        : `**no**: ${r.childrenLeft} children (${r.zombiesLeft} zombies), ${r.cgroupsLeft} cgroups left after ${f2(r.settleMs / 1000)} s` +
          (r.cgroupsLeft ? ` (${r.cgroupsLeft - r.cgroupsStuck} removed by the bench)` : '');
    const rounds = r.n === res.n ? `${r.rounds}` : `${r.rounds} × ${r.n} children`;
    if (r.error) {
      lines.push(`| ${v.label} | ${rounds} | failed: ${r.error.replace(/\|/g, '\\|')} | | | | | | | | | ${clean} |`);
      continue;
    }
    const spread = r.rounds > 1 ? `${ratio(r.startSpread[0])}–${ratio(r.startSpread[1])}` : '(one round)';
    lines.push(
      `| ${v.label} | ${rounds} | ${f2(r.startMs / 1000)} | ${f3(per(r, 'startMs'))} | ${spread} | ${ratio(per(r, 'startMs') / per(cp, 'startMs'))} | ${ratio(per(r, 'startMs') / per(fl, 'startMs'))} | ` +
        `${f2(r.stopMs / 1000)} | ${f3(per(r, 'stopMs'))} | ${ratio(per(r, 'stopMs') / per(cp, 'stopMs'))} | ${ratio(per(r, 'stopMs') / per(fl, 'stopMs'))} | ${clean} |`,
    );
  }
  return lines.join('\n');
}

/**
 * Where a start's time goes, per variant (medians over the rounds): the wall time and the
 * supervisor's CPU time per start against the C floor's, and the first and last tenth of the
 * starts (does a start get dearer with more children alive?).
 */
export function manyStartTable(res, sizeLabel) {
  const lines = [
    `| ${sizeLabel}, per start | wall ms | − C floor's | supervisor CPU ms | − C floor's | first tenth ms/start | last tenth ms/start | last ÷ first |`,
    '|---|---:|---:|---:|---:|---:|---:|---:|',
  ];
  const fl = res.rows.floor?.startMs ? res.rows.floor : null;
  for (const v of MANY_VARIANTS) {
    const r = res.rows[v.id];
    if (!r?.startMs) continue;
    const wall = r.startMs / r.n;
    const cpu = r.cpuMs / r.n;
    const first = r.tenthMs ? r.tenthMs[0] / (r.n / 10) : NaN;
    const last = r.tenthMs ? r.tenthMs[9] / (r.n / 10) : NaN;
    const dw = fl && v.id !== 'floor' ? f3(wall - fl.startMs / fl.n) : '';
    const dc = fl && v.id !== 'floor' ? f3(cpu - fl.cpuMs / fl.n) : '';
    lines.push(`| ${v.label} | ${f3(wall)} | ${dw} | ${f3(cpu)} | ${dc} | ${f3(first)} | ${f3(last)} | ${ratio(last / first)} |`);
  }
  return lines.join('\n');
}

/** The "What is measured" bullet for docs/benchmarks.md. */
export function manyDescription(n, { rounds = manyRounds(), contextBig = n } = {}) {
  return (
    `- **${n.toLocaleString('en-US')} children alive at once** ([bench/many.mjs](../bench/many.mjs)): \`${sleepPath()} 600\` started ${n} times with ${CONC} starts in flight ` +
    "(`command(sleep, ['600'], { executor, stdio: 'ignore', cwd: '/' })`, plus the linux + limits variant's `limit()`, then `start()`: no runAs, no rlimits here; " +
    "child_process: `spawn(sleep, ['600'], { stdio: 'ignore', cwd: '/' })` until `'spawn'`), the start timed from the first call until all " +
    `${n} run; then all stopped with ${CONC} stops in flight (\`forceStop()\` until it resolves with the SIGKILL status; child_process: \`kill('SIGKILL')\` until \`'exit'\`), ` +
    'the stop timed until the last one. The C floor posix_spawns the same program one after another in one process (concurrency means nothing there; at 2 GB with its ballast, as above), ' +
    'then SIGKILLs each child and waitpids each, and times both itself. After each variant the bench waits until no child of its own is left (none unreaped) ' +
    'and none of its task cgroups (`confine-<pid>-…`) is left under /sys/fs/cgroup: the last column is how long that took after the stop (the linux backend removes ' +
    "a tree's cgroup after `wait()` has resolved), and for linux how many cgroup directories (all hierarchies) the live children had. ×cp and ×C floor: the total divided by " +
    "child_process's / the C floor's at the same supervisor size, per child. " +
    `The native variants and the C floor run ${rounds} rounds (the isolated one ${Math.min(rounds, ISO_ROUNDS)}), in a shuffled order each round, ` +
    'each with the cleanup check after it; the figures are the medians over the rounds, the spread the fastest and slowest round over the median. ' +
    `child_process and universal are context, not targets: one round${contextBig < n ? `, of ${contextBig} children at 2 GB (each start forks the 2 GB supervisor: ~45 ms)` : ''}. ` +
    "Where a start's time goes: the supervisor's CPU time during the starts (`process.cpuUsage()`, every thread; the C floor: `getrusage(RUSAGE_SELF)`; " +
    "a child's own work until its exec is the child's in both), and when each tenth of the starts had returned " +
    "(confine's launch is synchronous: `start()` returns once the child has exec'd), the first tenth against the last."
  );
}

// ---- standalone ---------------------------------------------------------------------------------

/** The shared parents (`confine` per hierarchy) that exist now. */
function confineParents() {
  const args = ['/sys/fs/cgroup', '-mindepth', '1', '-maxdepth', '2', '-type', 'd', '-name', 'confine'];
  try {
    return execFileSync('find', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
      .split('\n')
      .filter(Boolean);
  } catch (e) {
    return (e.stdout ?? '').split('\n').filter(Boolean);
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'confine-bench-many-'));
  const parentsBefore = new Set(confineParents());
  const cleanup = () => {
    fs.rmSync(dir, { recursive: true, force: true });
    // As bench/run.mjs: the shared parents this run made go again when empty.
    for (const p of confineParents().filter((d) => !parentsBefore.has(d))) {
      try {
        fs.rmdirSync(p);
      } catch {
        /* in use by another supervisor meanwhile: leave it */
      }
    }
  };
  try {
    const floorBin = path.join(dir, 'posix_spawn_floor');
    execFileSync('cc', ['-O2', '-o', floorBin, path.join(HERE, 'posix_spawn_floor.c')], { stdio: 'inherit' });
    const n = manyCount(Number(process.env.BENCH_SCALE ?? 1) > 0 ? Number(process.env.BENCH_SCALE ?? 1) : 1);
    if (!n) {
      console.log('BENCH_MANY=0: nothing to do');
    } else {
      const res = await measureMany({ size: 'now', n, floorBin, onAbort: cleanup });
      console.log(
        `\nsupervisor RSS ${(res.rssBefore / 2 ** 20).toFixed(0)} MB, ${(res.rssLive / 2 ** 20).toFixed(0)} MB with the children alive; ${res.durationS.toFixed(0)} s\n`,
      );
      const label = `~${(res.rssBefore / 2 ** 20).toFixed(0)} MB`;
      console.log(`${manyTable(res, label)}\n\n${manyStartTable(res, label)}`);
    }
  } finally {
    cleanup();
  }
}
