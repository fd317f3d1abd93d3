// Shared test helpers: real users, leak checks, small waits. No mocks: everything here creates or
// inspects real kernel objects and removes what it created.

import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, readlinkSync, rmdirSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';

export const require = createRequire(import.meta.url);

/**
 * CONFINE_TEST_ISOLATE=1 (set by test/isolation.test.mjs when it re-runs the executor and
 * lifecycle suites): every tree those suites start on a backend that isolates is isolated:
 * the host's filesystem read-only but the temp directory, loopback only, its own pids, IPC and
 * hostname. What differs by design there (the leader is pid 1's init of the tree) is skipped by
 * name with `isolatedRun && 'why'`.
 */
export const isolatedRun = process.env.CONFINE_TEST_ISOLATE === '1';
export const TEST_ISOLATION = {
  filesystem: { read: ['/'], write: [tmpdir()] },
  network: 'loopback',
  processes: 'private',
  ipc: 'private',
  hostname: 'confine-test',
};
const api = await import('../dist/index.mjs');
/** command() of the package, isolated with TEST_ISOLATION under CONFINE_TEST_ISOLATE=1. */
export function command(file, args, options) {
  const ex = api.command(file, args, options);
  if (isolatedRun && (ex.kind === 'linux' || ex.kind === 'posix')) ex.isolate(TEST_ISOLATION);
  return ex;
}
export const isLinux = process.platform === 'linux';
export const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;

/** Whether a C compiler (cc) is here, for the fixtures the tests compile. */
export function haveCc() {
  try {
    execFileSync('cc', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** The kinds of backend this machine can run, from the package's own capability test. */
export async function availableKinds() {
  const { capabilities } = await import('../dist/index.mjs');
  return capabilities().backends;
}

/** Creates a real user (and optionally supplementary groups) named confine-t…; returns it with a remove(). */
export function createUser({ groups = 0 } = {}) {
  const tag = randomBytes(3).toString('hex');
  const name = `confine-t${tag}`;
  const groupNames = [];
  for (let i = 0; i < groups; i++) {
    const g = `confine-tg${tag}${i}`;
    execFileSync('groupadd', [g]);
    groupNames.push(g);
  }
  const args = ['--no-create-home', '--shell', '/usr/sbin/nologin', '--user-group'];
  if (groupNames.length) args.push('--groups', groupNames.join(','));
  execFileSync('useradd', [...args, name]);
  const uid = Number(execFileSync('id', ['-u', name], { encoding: 'utf8' }).trim());
  const gid = Number(execFileSync('id', ['-g', name], { encoding: 'utf8' }).trim());
  const allGroups = execFileSync('id', ['-G', name], { encoding: 'utf8' }).trim().split(/\s+/).map(Number);
  return {
    name,
    uid,
    gid,
    groups: allGroups,
    remove() {
      try {
        execFileSync('userdel', [name], { stdio: 'ignore' });
      } catch {}
      for (const g of [...groupNames, name]) {
        try {
          execFileSync('groupdel', [g], { stdio: 'ignore' });
        } catch {}
      }
    },
  };
}

/** Our own zombie children (a zombie we made and did not reap is a leak). */
export function zombieChildren() {
  if (!isLinux) return [];
  const out = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (f[0] === 'Z' && Number(f[1]) === process.pid) out.push(Number(name));
    } catch {}
  }
  return out;
}

/** Our open fds (Linux). */
export function openFds() {
  return isLinux ? readdirSync('/proc/self/fd').length : 0;
}

/**
 * Our open fds as "number -> target" (Linux). A finished watch closes its own copy of the pidfd in
 * the close callback right after the exit callback: let that run first. Node and the test runner
 * open and close fds of their own at any time, so leaks are judged by what is new, not by count.
 */
export async function fdSnapshot() {
  await new Promise((resolve) => setImmediate(resolve));
  const out = new Set();
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      const target = readlinkSync(`/proc/self/fd/${fd}`);
      if (!target.startsWith('/proc/')) out.add(`${fd} -> ${target}`);
    } catch {}
  }
  return out;
}

/** The fds open now that were not in `before` (a fdSnapshot()). */
export async function newFds(before) {
  return [...(await fdSnapshot())].filter((e) => !before.has(e));
}

/**
 * The exit of a child started with the addon's spawn() directly: its exit watch's status, its
 * pidfd closed once the watch reported.
 */
export function addonExitOf(addon, child) {
  return new Promise((resolve) => {
    addon.watch(child.pid, child.pidfd, (st) => {
      if (child.pidfd >= 0) addon.close(child.pidfd);
      resolve(st);
    });
  });
}

export function procStatus(pid) {
  const text = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Object.fromEntries(
    text
      .split('\n')
      .filter(Boolean)
      .map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 1).trim()]),
  );
}

export function alive(pid) {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  // A zombie is dead for our purposes.
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Polls until fn() is truthy or the deadline passes (a monotonic clock); returns the last value.
 * The deadline bounds a failure, never the machine's speed: give a generous one.
 */
export async function until(fn, ms = 30_000, step = 20) {
  const end = performance.now() + ms;
  let v;
  while (!(v = await fn()) && performance.now() < end) await sleep(step);
  return v;
}

/**
 * The promise's value, or a rejection naming `what` once `ms` have passed without it settling:
 * a hang fails with a message instead of leaving the event loop empty (which cancels the suite).
 */
export async function within(promise, ms, what) {
  let timer;
  const late = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`not within ${ms} ms: ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * True once a process is dead or certain to die: gone, a zombie, exiting, or with a SIGKILL
 * pending. A signal, once sent, is pending until the process takes it, so right after a kill
 * was sent (a forceStop() resolved, a supervisor's exit was seen) this answers at once, without
 * waiting for the death itself; and false right after such an event proves nothing killed it.
 */
export function doomed(pid) {
  let stat;
  let status;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    status = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return true;
  }
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  if (f[0] === 'Z' || f[0] === 'X' || f[0] === 'x') return true;
  const PF_EXITING = 0x4;
  if (Number(f[6]) & PF_EXITING) return true;
  const SIGKILL_BIT = 1n << 8n;
  for (const field of ['SigPnd', 'ShdPnd']) {
    const hex = new RegExp(`^${field}:\\s+([0-9a-f]+)`, 'm').exec(status)?.[1];
    if (hex && (BigInt(`0x${hex}`) & SIGKILL_BIT) !== 0n) return true;
  }
  return false;
}

/**
 * A fork bomb that keeps attacking, as `command(...FORK_BOMB)`: every process forks forever,
 * retries 10 ms after a refused fork and reports each refusal with one byte on stdout; no
 * process ever exits by itself, so the limit stays under pressure until the tree is killed, on
 * a fast machine as on a slow one. (A shell bomb such as `b() { b & b & wait; }` collapses as
 * soon as forks fail: on a fast machine it rises to the limit and is gone within milliseconds.)
 */
export const FORK_BOMB = [
  'perl',
  ['-e', 'while (1) { next if defined fork; syswrite STDOUT, "x"; select undef, undef, undef, 0.01 }'],
];

/** The cgroup directories of an executor's tree, by controller (from its handle); null without. */
export function cgroupOf(ex) {
  const data = JSON.parse(Buffer.from(ex.handle.split('.')[1], 'base64url').toString());
  return data.extra?.cgroup ?? null;
}

/**
 * The pids controller's own counters in a cgroup directory: tasks now, the most it ever held
 * (pids.peak; null on kernels without it) and how many forks it refused (pids.events max).
 */
export function pidsCounters(dir) {
  const num = (f) => {
    try {
      return Number(readFileSync(`${dir}/${f}`, 'utf8').trim());
    } catch {
      return null;
    }
  };
  const events = readFileSync(`${dir}/pids.events`, 'utf8');
  return { current: num('pids.current'), peak: num('pids.peak'), refused: Number(/^max (\d+)/m.exec(events)?.[1] ?? 0) };
}

/**
 * A CPU hog for `sh -c`: four spinners. Unlimited they take every core of a small machine.
 */
export const CPU_HOG = Array(4).fill('while :; do :; done').join(' & ');

/**
 * Gives this run's own test parent (the parent of `cpuDir`) the highest CPU weight until the
 * returned restore() is called: at the root it competes with every other process group of the
 * machine, and on a machine other runs load (four emulated VMs, here) a hog under a quota of
 * half a core got less than that; favoured, it gets its quota, so the quota is what binds it.
 * Only a directory of this run (confine-test-<pid>) is touched.
 */
export function favourCpu(cpuDir) {
  const parent = cpuDir.slice(0, cpuDir.lastIndexOf('/'));
  const saved = [];
  if (parent.endsWith(`/confine-test-${process.pid}`)) {
    for (const [file, most] of [
      ['cpu.shares', '262144'], // v1
      ['cpu.weight', '10000'], // v2
    ]) {
      try {
        const old = readFileSync(`${parent}/${file}`, 'utf8').trim();
        writeFileSync(`${parent}/${file}`, most);
        saved.push([`${parent}/${file}`, old]);
      } catch {}
    }
  }
  return () => {
    for (const [file, old] of saved) {
      try {
        writeFileSync(file, old);
      } catch {}
    }
  };
}

/** A flat keyed file of the kernel's (cpu.stat, pids.events, memory.events) as a Map of numbers. */
export function keyed(file) {
  const out = new Map();
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const [k, v] = line.trim().split(/\s+/);
    if (k && v !== undefined) out.set(k, Number(v));
  }
  return out;
}

/**
 * Lets a CPU hog run under a quota of `cores` until the kernel has throttled it `throttles`
 * times, and judges the quota from the kernel's own counters, not from a wall-clock window:
 * CPU used (`usage()`, microseconds) against the CFS periods that elapsed meanwhile (cpu.stat
 * nr_periods; `cpuDir` is the cgroup's cpu directory, v1 or v2). In a period the tree may use
 * the quota plus, on each CPU, a bandwidth slice carried over and a tick of overrun (10 ms, HZ
 * 100 at the coarsest), plus the two periods in progress at the ends. In each period it was
 * throttled it had used its quota, less the slices left on the CPUs it ran on: at least half a
 * quota. Unlimited, CPU_HOG uses two cores (four quotas of 0.5 a period) on two CPUs, one (two)
 * on one. The test parent is favoured (favourCpu) meanwhile, so that the hog reaches its quota
 * on a loaded machine too. Returns { held, failures, figures }: held false when it was not
 * throttled `throttles` times within `deadlineMs` (a bound for a failure); failures lists what
 * broke the quota.
 */
export async function judgeCpuQuota({ cpuDir, usage, cores, throttles = 10, deadlineMs = 600_000 }) {
  const v2 = existsSync(`${cpuDir}/cpu.max`);
  const periodMicros = v2
    ? Number(readFileSync(`${cpuDir}/cpu.max`, 'utf8').trim().split(' ')[1])
    : Number(readFileSync(`${cpuDir}/cpu.cfs_period_us`, 'utf8').trim());
  const quota = cores * periodMicros;
  const stat = () => keyed(`${cpuDir}/cpu.stat`);
  const restore = favourCpu(cpuDir);
  let a;
  let b;
  let u0;
  let u1;
  let held;
  try {
    // Periods read before the first usage and after the last: the usage lies within them.
    a = stat();
    u0 = await usage();
    held = await until(() => stat().get('nr_throttled') - a.get('nr_throttled') >= throttles, deadlineMs);
    u1 = await usage();
    b = stat();
  } finally {
    restore();
  }
  const used = u1 - u0;
  const periods = b.get('nr_periods') - a.get('nr_periods');
  const throttled = b.get('nr_throttled') - a.get('nr_throttled');
  let sliceMicros = 5000;
  try {
    sliceMicros = Number(readFileSync('/proc/sys/kernel/sched_cfs_bandwidth_slice_us', 'utf8'));
  } catch {}
  const perPeriod = quota + availableParallelism() * (sliceMicros + 10_000);
  const most = (periods + 2) * perPeriod;
  const least = (Math.max(0, throttled - 2) * quota) / 2;
  const figures = `used ${(used / 1000).toFixed(1)} ms of CPU in ${periods} periods of ${periodMicros / 1000} ms (${(used / Math.max(1, periods) / quota).toFixed(2)} quotas a period), throttled in ${throttled}`;
  const failures = [];
  if (used > most) failures.push(`more than the quota allows: ${(used / 1000).toFixed(1)} ms > ${(most / 1000).toFixed(1)} ms`);
  if (used < least)
    failures.push(`less than the throttled periods prove: ${(used / 1000).toFixed(1)} ms < ${(least / 1000).toFixed(1)} ms`);
  return { held, failures, figures };
}

/** Reads a whole stream to a string. */
export async function text(stream) {
  if (!stream) return '';
  let s = '';
  stream.setEncoding('utf8');
  for await (const chunk of stream) s += chunk;
  return s;
}

/** Kill by pid only: leftovers a failing test made. */
export function killPids(pids) {
  for (const p of pids) {
    try {
      process.kill(p, 'SIGKILL');
    } catch {}
  }
}

// Every cgroup a test run makes goes under one parent of its own, named confine-test-<pid>,
// set through CONFINE_CGROUP_PARENT (child processes such as the CLI inherit it) and removed
// when this test process exits. Only for root: a process a test runs as a test user (a
// supervisor that is not root, importing these helpers) could not use it, and an explicit
// parent it cannot use is an error (#18); it gets what a real non-root supervisor gets.
export const testCgroupParent = `/confine-test-${process.pid}`;
if (!process.env.CONFINE_CGROUP_PARENT && isRoot) {
  process.env.CONFINE_CGROUP_PARENT = testCgroupParent;
  process.on('exit', removeTestCgroupParent);
  removeDeadTestCgroupParents();
}

/** The mount points of every cgroup hierarchy (v1 controllers and v2). */
export function cgroupMounts() {
  if (!isLinux) return [];
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter((l) => / - cgroup2? /.test(l))
    .map((l) => l.split(' ')[4]);
}

/**
 * Task cgroups still present under this run's parent (should be none between tests). The spare
 * cgroups this process's pool holds ready for the next spawn are not leftovers: they are
 * removed first, unless `{ drain: false }` (the pool's own tests check that spares go away by
 * themselves when idle and at exit).
 */
export function leftoverTestCgroups({ drain = true } = {}) {
  if (drain && isLinux) require('../dist/cgroup/index.js').taskCgroupPool.drain();
  const out = [];
  for (const m of cgroupMounts()) {
    try {
      for (const d of readdirSync(`${m}${testCgroupParent}`, { withFileTypes: true }))
        if (d.isDirectory()) out.push(`${m}${testCgroupParent}/${d.name}`);
    } catch {}
  }
  return out;
}

/**
 * The exit hook above can come too early: the library moves its own exit hook (the release of a
 * tree that ended as the process exits, the kill of a killOnParentExit tree) after every 'exit'
 * listener, so a tree released there leaves this parent behind, empty (about one test process
 * in 40 did). Each test process therefore also removes the empty parents of test processes that
 * are gone: only `confine-test-<pid>` directories whose pid no longer runs, and rmdir removes
 * only an empty one (a task cgroup left inside stays, for the leak checks to see).
 */
function removeDeadTestCgroupParents() {
  for (const m of cgroupMounts()) {
    let names = [];
    try {
      names = readdirSync(m);
    } catch {}
    for (const name of names) {
      const pid = /^confine-test-(\d+)$/.exec(name)?.[1];
      if (!pid || existsSync(`/proc/${pid}`)) continue;
      try {
        rmdirSync(`${m}/${name}`);
      } catch {}
    }
  }
}

export function removeTestCgroupParent() {
  // The pool's spares live under the parent too (its own exit hook may run after this one).
  if (isLinux) require('../dist/cgroup/index.js').taskCgroupPool.drain();
  for (const m of cgroupMounts()) {
    try {
      rmdirSync(`${m}${testCgroupParent}`);
    } catch {}
  }
}
