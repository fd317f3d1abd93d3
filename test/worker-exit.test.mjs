// A worker_thread that uses confine and is ended with worker.terminate() while one of the
// addon's loop callbacks (an exit watch, a start watch) is due must end alone: node tears the
// worker's environment down and still turns its loop to close handles, with JavaScript no longer
// allowed there; a callback that entered JS then aborted the whole process ("FATAL ERROR:
// Error::Error napi_define_properties"). Each case runs a supervisor as a child process
// (test/fixtures/worker-exit/), so an abort is that process's exit status, not the runner's.
// The worker makes the callback due before it asks to be terminated (a child of its own killed
// and seen a zombie, a pipe at EOF) and never lets its own loop run after that: the callback is
// due at the teardown every time, no timing involved. Where the child runs in a cgroup directory
// given to its watch (as root), the addon must remove it once it has reaped the child: the
// worker's JS, which would release it, never runs again.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { isLinux, isRoot } from './helpers.mjs';

const SUPERVISOR = path.join(path.dirname(new URL(import.meta.url).pathname), 'fixtures', 'worker-exit', 'supervisor.mjs');
const skip = isLinux ? false : 'the fixture reads /proc (the addon code under test is POSIX)';

function runSupervisor(which) {
  const r = spawnSync(process.execPath, [SUPERVISOR, which], { encoding: 'utf8', timeout: 120_000 });
  const what = `supervisor ${which}: status ${r.status} signal ${r.signal}\n${r.stderr}`;
  assert.equal(r.signal, null, what);
  assert.equal(r.status, 0, what);
  return JSON.parse(r.stdout.trim().split('\n').pop());
}

const CASES = {
  exit: 'an exit watch due (a tree of the API, its leader exited)',
  'exit-thread': "a waiter thread's exit report queued, not yet run (no pidfd)",
  start: 'a start watch and an exit watch due',
  'during-exit': 'the exit callback running',
  'during-thread': "the exit callback of a waiter thread's thread-safe function running (no pidfd)",
  'during-start': 'the start callback running',
  sync: 'a synchronous addon call (readFiles) under way',
  running: 'a tree still running',
  'running-thread': 'a tree still running, watched by a waiter thread (no pidfd)',
};

// The cases whose child runs in a cgroup directory of its own, given to its watch (as root, with
// a v2 hierarchy: test/fixtures/worker-exit/proc-state.mjs's workerCgroupDir()).
const IN_DIR = new Set(['exit-thread', 'during-exit', 'during-thread', 'running', 'running-thread']);
const withDir = isRoot && isLinux && / - cgroup2 /.test(fs.readFileSync('/proc/self/mountinfo', 'utf8'));

for (const [which, what] of Object.entries(CASES)) {
  test(`worker.terminate() with ${what}: the worker ends, the supervisor goes on`, { skip }, () => {
    const out = runSupervisor(which);
    assert.equal(out.workerExit, 1, 'terminated');
    assert.equal(out.mainExitCode, 7, 'the main thread still starts and waits for children');
    // A due exit was reaped at the teardown (without a call into JS): no zombie is left.
    for (const [pid, state] of Object.entries(out.states)) assert.equal(state, null, `pid ${pid}`);
    // A tree still running goes on (reattach is the default), and is reaped once it exits.
    for (const [pid, st] of Object.entries(out.running)) {
      assert.ok(st.atEnd !== null && st.atEnd !== 'Z', `pid ${pid} runs on after its worker ended (${st.atEnd})`);
      assert.equal(st.afterKill, null, `pid ${pid} reaped once it exited`);
    }
    // Its task cgroup (given to the watch) removed after the reap: the worker's JS never runs again.
    if (withDir && IN_DIR.has(which)) assert.equal(out.report.dirs?.length, 1, 'the child ran in a cgroup of its own');
    assert.deepEqual(out.dirsLeft, [], 'task cgroup directories left');
  });
}

const TREES = path.join(path.dirname(SUPERVISOR), 'trees-supervisor.mjs');
const COUNT = 50;

function runTrees(kind) {
  const r = spawnSync(process.execPath, [TREES, kind, String(COUNT)], { encoding: 'utf8', timeout: 180_000 });
  const what = `trees supervisor ${kind}: status ${r.status} signal ${r.signal}\n${r.stdout}\n${r.stderr}`;
  assert.equal(r.signal, null, what);
  assert.equal(r.status, 0, what);
  return JSON.parse(r.stdout.trim().split('\n').pop());
}

// A worker ended with many trees running: one reaper for them all (not a thread per tree), and
// every tree reaped once it exits.
test(`worker.terminate() with ${COUNT} trees running: one reaper thread, each tree reaped when it exits`, { skip }, () => {
  const out = runTrees('posix');
  assert.equal(out.runningThen, COUNT, 'the trees ran on after their worker ended (the one killed before, not)');
  // The worker's thread is gone; at most the reaper is new (a waiter thread per tree was COUNT).
  assert.ok(out.whileRunning <= out.before + 1, `threads: ${out.before} before the worker, ${out.whileRunning} after it`);
  assert.ok(out.after <= out.before + 1, `threads: ${out.before} before the worker, ${out.after} at the end`);
  assert.deepEqual(out.left.pids, [], 'every tree reaped once it exited (none left a zombie)');
});

// The linux backend: each tree's task cgroup is removed once its leader is reaped (the worker's
// JS, which would release it, never runs again): those running at the end and the one whose
// exit was due then; the first tree's reuses a pooled one (on a hybrid host: a v2 directory
// without controllers serves again), and joins the memory hierarchy by update() (v1: a
// directory more, which the watch must learn).
test(`worker.terminate() with ${COUNT} linux trees running: their task cgroups are removed after they exit`, {
  skip: skip || (!isRoot && 'needs root (cgroups)'),
}, () => {
  const out = runTrees('linux');
  assert.equal(out.runningThen, COUNT, 'the trees ran on after their worker ended (the one killed before, not)');
  assert.ok(out.dirs >= COUNT + 1, `a task cgroup per tree (${out.dirs} directories)`);
  assert.equal(out.reused, out.reusable, 'the first tree reused the cgroup of the one before, where it can serve again');
  assert.ok(out.whileRunning <= out.before + 1, `threads: ${out.before} before the worker, ${out.whileRunning} after it`);
  assert.deepEqual(out.left.pids, [], 'every tree reaped once it exited');
  assert.deepEqual(out.left.dirs, [], 'every task cgroup directory removed');
  // A leader that left a grandchild in its cgroup: the directory stays while it runs, and goes
  // once it is gone (tried again each second).
  assert.ok(out.busy.dirs > 0 && out.busy.members === 1, `the busy tree: ${JSON.stringify(out.busy)}`);
  assert.equal(out.busy.kept, out.busy.dirs, 'a cgroup with a member left in it is kept');
  assert.deepEqual(out.busy.left, [], 'and removed once the member is gone');
});
