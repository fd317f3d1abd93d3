// Shared test helpers: real users, leak checks, small waits. No mocks: everything here creates or
// inspects real kernel objects and removes what it created.

import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, rmdirSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';

export const require = createRequire(import.meta.url);
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

/** Polls until fn() is truthy or the deadline passes; returns the last value. */
export async function until(fn, ms = 5000, step = 20) {
  const end = Date.now() + ms;
  let v;
  while (!(v = await fn()) && Date.now() < end) await sleep(step);
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
// when this test process exits.
export const testCgroupParent = `/confine-test-${process.pid}`;
if (!process.env.CONFINE_CGROUP_PARENT) {
  process.env.CONFINE_CGROUP_PARENT = testCgroupParent;
  process.on('exit', removeTestCgroupParent);
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

export function removeTestCgroupParent() {
  // The pool's spares live under the parent too (its own exit hook may run after this one).
  if (isLinux) require('../dist/cgroup/index.js').taskCgroupPool.drain();
  for (const m of cgroupMounts()) {
    try {
      rmdirSync(`${m}${testCgroupParent}`);
    } catch {}
  }
}
