// Non-root supervisors (issue 18): real supervisor processes of a test user
// (test/fixtures/delegation/supervisor.mjs), placed by this root test into cgroups it made and
// delegated to that user the way systemd's Delegate=yes does (the directory and the files
// /sys/kernel/cgroup/delegate lists are chowned; the cgroup's own limit files stay root's).
//
//   pure cgroup v2 (npm run test:cgroup2 -- test/delegation.test.mjs):
//     - in a leaf of a delegated cgroup: memoryBytes with OOM, maxProcesses (a fork bomb), cpu,
//       cpuWeight, stats, the tree kill, update(), reattach by handle from a new supervisor,
//       killOnParentExit of a SIGKILLed one, no leak (fds, zombies, task cgroups after trees that
//       exit, fail in the child and are killed), and nothing left behind;
//     - in the delegated cgroup itself, without leave to move (limits reported unenforced with
//       why and what to do) and with it (CONFINE_CGROUP_PARENT or the option: every process of
//       the cgroup moves to a confine leaf, the watchdog and a forking shell included);
//     - in a cgroup not delegated to it, or half (the directory chowned, not cgroup.procs and
//       cgroup.subtree_control): everything reported unenforced, nothing made;
//     - bad cgroupParent (outside the delegated subtree, not writable): typed errors, nothing made;
//     - confine doctor's account of each.
//   hybrid (this machine's kind: v1 controllers, a v2 tree without any): the v2 tree is used only
//   where the supervisor may move tasks into it (write access to the common ancestor's
//   cgroup.procs); an explicit cgroupParent nobody lets it write is a typed error.
//
// Everything lives under /confine-test-<pid>/ of each hierarchy and is removed at the end; the
// user is removed too; processes are killed by pid.

import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { capabilities } from '../dist/index.mjs';
import { createUser, isLinux, isRoot, alive, until, killPids, testCgroupParent, zombieChildren, require } from './helpers.mjs';

const fixture = fileURLToPath(new URL('./fixtures/delegation/supervisor.mjs', import.meta.url));
const layout = isLinux ? require('../dist/cgroup/index.js').detectCgroups() : null;
const caps = isLinux ? capabilities() : null;
const base = !isLinux
  ? 'Linux only'
  : !isRoot
    ? 'needs root: it makes the test user and the cgroups it delegates'
    : !caps.backends.includes('linux')
      ? `no linux backend: ${caps.reason}`
      : false;
const skipV2 =
  base ||
  (layout.mode !== 'v2' && `pure cgroup v2 only (here: ${layout.mode}); npm run test:cgroup2 -- test/delegation.test.mjs`);
const skipHybrid = base || (layout.mode !== 'hybrid' && `a hybrid host only (here: ${layout.mode})`);
const MiB = 2 ** 20;
const uni = layout?.unified?.mount ?? null;

let user = null;
const seen = new Set(); // every pid a supervisor reported: killed at the end whatever happened
const made = []; // cgroup directories this file made (removed deepest first)

before(() => {
  if (!base && (!skipV2 || !skipHybrid)) user = createUser();
});

after(async () => {
  killPids([...seen].filter(alive));
  await removeMade();
  user?.remove();
  assert.deepEqual(zombieChildren(), [], 'no zombie children');
});

/**
 * mkdir (recording it) a cgroup directory under this run's test parent of hierarchy `mount`; a
 * v1 cpuset level gets its parent's cpus and mems (empty, nothing could join it).
 */
function mkcg(mount, rel) {
  const dir = path.join(mount, testCgroupParent, rel);
  let d = mount;
  for (const c of path.relative(mount, dir).split('/')) {
    const up = d;
    d = path.join(d, c);
    if (!fs.existsSync(d)) {
      fs.mkdirSync(d);
      made.push(d);
    }
    for (const f of ['cpuset.cpus', 'cpuset.mems'])
      if (mount !== uni && fs.existsSync(path.join(d, f)) && !fs.readFileSync(path.join(d, f), 'utf8').trim())
        fs.writeFileSync(path.join(d, f), fs.readFileSync(path.join(up, f), 'utf8').trim());
  }
  return dir;
}

/** Delegate `dir` to the test user as systemd does: the directory and the delegate files. */
function delegate(dir) {
  const listed = fs.readFileSync('/sys/kernel/cgroup/delegate', 'utf8').split('\n').filter(Boolean);
  fs.chownSync(dir, user.uid, user.gid);
  for (const f of new Set(['cgroup.procs', 'cgroup.subtree_control', ...listed]))
    if (fs.existsSync(path.join(dir, f))) fs.chownSync(path.join(dir, f), user.uid, user.gid);
}

/** chown -R */
function chownTree(dir) {
  fs.chownSync(dir, user.uid, user.gid);
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) chownTree(p);
    else fs.chownSync(p, user.uid, user.gid);
  }
}

function enable(dir, controllers) {
  for (const c of controllers) fs.writeFileSync(path.join(dir, 'cgroup.subtree_control'), `+${c}`);
}

const subdirs = (dir) =>
  fs.existsSync(dir)
    ? fs
        .readdirSync(dir, { withFileTypes: true })
        .filter((e) => e.isDirectory())
        .map((e) => e.name)
        .sort()
    : [];

/** Every directory under `dir`, relative, depth first (what a leak check compares). */
function tree(dir, rel = '') {
  const out = [];
  for (const n of subdirs(dir)) {
    out.push(path.join(rel, n));
    out.push(...tree(path.join(dir, n), path.join(rel, n)));
  }
  return out;
}

async function removeMade() {
  const rm = async (dir) => {
    for (const n of subdirs(dir)) await rm(path.join(dir, n));
    const procs = path.join(dir, 'cgroup.procs');
    if (fs.existsSync(procs)) killPids(fs.readFileSync(procs, 'utf8').split('\n').filter(Boolean).map(Number));
    for (let i = 0; i < 200; i++) {
      try {
        fs.rmdirSync(dir);
        return;
      } catch (e) {
        if (e.code === 'ENOENT') return;
        await new Promise((r) => setTimeout(r, 20));
      }
    }
  };
  for (const d of made.slice().reverse()) await rm(d);
  made.length = 0;
}

/** The cgroup path of `dir` inside its hierarchy (what /proc/<pid>/cgroup shows). */
const relOf = (dir) => `/${path.relative(layout.hierarchies.find((h) => dir.startsWith(`${h.mount}/`)).mount, dir)}`;

/**
 * Start the supervisor fixture as the test user; once it runs, put it in `cgroup` (a v2
 * directory; omitted: it stays where it was born) and let it go. Resolves with its results.
 */
async function supervise(cfg, { cgroup = null, env = {}, keep = false } = {}) {
  const child = spawn(process.execPath, [fixture, JSON.stringify(cfg)], {
    uid: user.uid,
    gid: user.gid,
    cwd: '/tmp',
    env: { PATH: process.env.PATH, HOME: '/tmp', LANG: 'C', ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  seen.add(child.pid);
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (d) => (out += d));
  child.stderr.setEncoding('utf8').on('data', (d) => (err += d));
  if (cgroup) fs.writeFileSync(path.join(cgroup, 'cgroup.procs'), String(child.pid));
  child.stdin.write('go\n');
  const done = await until(() => out.includes('\n') || child.exitCode !== null, 600_000);
  assert.ok(done && out.includes('\n'), `the supervisor reported (exit ${child.exitCode}; stderr: ${err})`);
  const res = JSON.parse(out.split('\n')[0]);
  for (const [name, r] of Object.entries(res.cases)) {
    assert.equal(r?.error, undefined, `case ${name} failed: ${r?.error?.stack ?? r?.error?.message}\n${err}`);
    for (const k of ['pid', 'daemon', 'watchdog']) if (typeof r?.[k] === 'number') seen.add(r[k]);
  }
  if (!keep) {
    if (child.exitCode === null) await new Promise((r) => child.once('exit', r));
    child.stdin.destroy();
  }
  return { ...res, child, stderr: () => err };
}

const cgroupLine = (text) =>
  text
    .split('\n')
    .find((l) => l.startsWith('0::'))
    ?.slice(3);

describe('pure cgroup v2: a non-root supervisor and its delegated subtree', { skip: skipV2 }, () => {
  const CONTROLLERS = ['memory', 'pids', 'cpu'];
  let root; // /sys/fs/cgroup/confine-test-<pid>

  before(() => {
    root = mkcg(uni, '');
    enable(root, CONTROLLERS);
  });

  test('in a leaf of a delegated cgroup: limits, OOM, fork bomb, stats, kill, update, reattach, killOnParentExit, no leak', async () => {
    // As root: a delegated cgroup with memory, pids and cpu enabled, and a leaf for the user.
    const d = mkcg(uni, 'leafcase');
    const leaf = mkcg(uni, 'leafcase/shell');
    enable(d, CONTROLLERS);
    delegate(d);
    chownTree(leaf);

    const a = await supervise(
      { cases: ['where', 'limits', 'oom', 'forkbomb', 'stats', 'kill', 'update', 'leak', 'outlive', 'after'] },
      { cgroup: leaf },
    );
    const c = a.cases;
    // where: the parent is the delegated subtree; nothing blocks it
    const dl = c.where.detail.delegation;
    assert.equal(c.where.uid, user.uid);
    assert.equal(c.where.cgroup, relOf(leaf));
    assert.equal(dl.subtree, d);
    assert.equal(dl.via, 'parent');
    assert.equal(dl.blocked, false);
    assert.deepEqual(dl.controllers.filter((x) => CONTROLLERS.includes(x)).sort(), [...CONTROLLERS].sort());
    assert.equal(c.where.detail.parent.unified, path.join(d, 'confine'));
    // limits: enforced by cgroup2 and written; cpu.max throttles a spinning tree
    for (const k of ['memoryBytes', 'maxProcesses', 'cpu', 'cpuWeight', 'treeStop'])
      assert.deepEqual(
        [k, c.limits.enforced[k].enforced, c.limits.enforced[k].mechanism],
        [k, true, 'cgroup2'],
        c.limits.enforced[k].note,
      );
    assert.equal(c.limits.own, relOf(leaf), 'the supervisor was not moved');
    assert.equal(path.dirname(c.limits.dir), path.join(d, 'confine'));
    assert.equal(c.limits.leaderCgroup, relOf(c.limits.dir), 'the child was born in its cgroup');
    assert.deepEqual(c.limits.files, {
      'memory.max': String(64 * MiB),
      'memory.oom.group': '1',
      'pids.max': '20',
      'cpu.max': '10000 100000',
      'cpu.weight': '50',
    });
    assert.ok(c.limits.throttled > 0, 'cpu.max throttled the tree');
    assert.equal(c.limits.status.signal, 'SIGKILL');
    assert.equal(c.limits.removed, true, 'its cgroup was removed');
    // OOM from memory.events
    assert.equal(c.oom.enforced.enforced, true);
    assert.equal(c.oom.status.oomKilled, true, JSON.stringify(c.oom.status));
    assert.equal(c.oom.status.signal, 'SIGKILL');
    assert.equal(c.oom.removed, true);
    // the fork bomb: refused by the kernel past 20, never above, emptied by forceStop
    assert.equal(c.forkbomb.enforced.mechanism, 'cgroup2');
    assert.equal(c.forkbomb.refused, true, 'pids.events counts refused forks');
    assert.ok(c.forkbomb.during <= 20, `${c.forkbomb.during} processes`);
    if (c.forkbomb.peak !== null) assert.ok(Number(c.forkbomb.peak) <= 20, `pids.peak ${c.forkbomb.peak}`);
    assert.equal(c.forkbomb.after, 0);
    // stats
    assert.ok(
      c.stats.stats.memoryBytes > 2 ** 19 && c.stats.stats.cpuUserMicros > 50_000 && c.stats.stats.processes >= 1,
      JSON.stringify(c.stats),
    );
    // the tree kill reaches a double-forked daemon in its own session
    assert.equal(c.kill.before, true);
    assert.equal(c.kill.gone, true, `daemon ${c.kill.daemon} survived`);
    // update()
    assert.deepEqual(c.update.enforced, { memoryBytes: true, maxProcesses: true, cpu: true, cpuWeight: true });
    assert.deepEqual(c.update.files, {
      'memory.max': String(128 * MiB),
      'pids.max': '10',
      'cpu.max': '25000 100000',
      'cpu.weight': '200',
    });
    // nothing leaks: fds, zombies, task cgroups (trees that exited, failed to start, were killed)
    for (const r of c.leak.rounds) assert.deepEqual(r, { ok: 0, failed: 'ERR_CONFINE_SPAWN', killed: 'SIGKILL' });
    assert.equal(c.leak.parent, path.join(d, 'confine'));
    assert.ok(c.leak.fds.after <= c.leak.fds.before, `the supervisor's fds: ${c.leak.fds.before} -> ${c.leak.fds.after}`);
    assert.deepEqual(c.leak.zombies, [], 'no zombie child');
    assert.deepEqual(c.leak.left, [], 'no task cgroup left');
    assert.equal(c.after.self, relOf(leaf));

    // reattach by handle, from a new supervisor process
    assert.ok(alive(c.outlive.pid), 'the tree outlived its supervisor');
    const b = await supervise({ cases: ['reattach'], handle: c.outlive.handle }, { cgroup: leaf });
    const r = b.cases.reattach;
    assert.ok(r.processes >= 2 && r.memoryBytes > 0, JSON.stringify(r));
    assert.equal(r.update, true);
    assert.equal(r.memoryMax, String(96 * MiB));
    assert.equal(r.status.reattached, true);
    assert.equal(r.status.stopped, true);
    assert.equal(r.removed, true);
    assert.equal(alive(c.outlive.pid), false);

    // killOnParentExit: the supervisor is SIGKILLed; its watchdog kills the tree and removes its cgroup
    const k = await supervise({ cases: ['doomed'] }, { cgroup: leaf, keep: true });
    const t = k.cases.doomed;
    assert.equal(t.enforced.enforced, true, t.enforced.note);
    assert.equal(
      cgroupLine(fs.readFileSync(`/proc/${t.watchdog}/cgroup`, 'utf8')),
      relOf(leaf),
      'the watchdog is in the leaf too',
    );
    k.child.kill('SIGKILL');
    assert.ok(
      await until(() => !alive(t.pid) && !alive(t.daemon) && !fs.existsSync(t.dir), 60_000),
      'the tree and its cgroup went with the supervisor',
    );
    assert.ok(await until(() => !alive(t.watchdog), 60_000), 'the watchdog exits after its work');

    // nothing left: the parent and the leaf, no task cgroup
    assert.deepEqual(tree(d), ['confine', 'shell']);
  });

  test('in the delegated cgroup itself, without leave to move: limits unenforced, saying why and what to do', async () => {
    const d = mkcg(uni, 'nomove');
    delegate(d);
    const s = await supervise({ cases: ['where', 'limits', 'kill', 'doctor', 'after'] }, { cgroup: d });
    const c = s.cases;
    const dl = c.where.detail.delegation;
    assert.equal(dl.subtree, d);
    assert.equal(dl.via, 'own');
    assert.equal(dl.blocked, true);
    assert.equal(dl.allowed, false);
    assert.match(dl.howTo.join('\n'), /CONFINE_CGROUP_PARENT=delegated/);
    for (const k of ['memoryBytes', 'cpu', 'cpuWeight']) {
      assert.equal(c.limits.enforced[k].enforced, false, k);
      assert.match(c.limits.enforced[k].note, /no-internal-processes/);
      assert.match(c.limits.enforced[k].note, /'delegated'/);
    }
    // the tree still gets a cgroup of its own (membership, cgroup.kill), without controllers
    assert.equal(c.limits.enforced.treeStop.mechanism, 'cgroup2');
    assert.equal(path.dirname(c.limits.dir), path.join(d, 'confine'));
    assert.equal(c.limits.files['memory.max'], null, 'no memory controller for the task cgroup');
    assert.equal(c.kill.gone, true);
    assert.equal(c.after.self, relOf(d), 'not moved');
    assert.match(c.doctor.out, /BLOCKED: it holds \d+ process/);
    assert.match(c.doctor.out, /cgroupParent: 'delegated' or CONFINE_CGROUP_PARENT=delegated/);
    // each reason once: the note states the rule once, and doctor's limit rows point at its
    // delegation lines instead of repeating the note
    const note = c.limits.enforced.memoryBytes.note;
    assert.equal(note.split('no-internal-processes').length - 1, 1, note);
    assert.equal(c.doctor.out.includes(note), false, c.doctor.out);
    assert.match(c.doctor.out, /memoryBytes +NOT enforced .*: no controllers for task cgroups: .*\(delegated: above says why/);
    assert.deepEqual(tree(d), ['confine'], 'no leaf was made, no task cgroup is left');
  });

  for (const how of ['CONFINE_CGROUP_PARENT', 'option'])
    test(`in the delegated cgroup itself, with leave to move (${how}): all its processes move to a confine leaf, limits hold`, async () => {
      const d = mkcg(uni, `move-${how}`);
      delegate(d);
      const cfg = {
        cases: how === 'option' ? ['limits', 'after'] : ['where', 'limits', 'oom', 'doctor', 'after'],
        before: { sleepers: 2, forker: true, watchdog: true },
        emptied: [d],
        ...(how === 'option' ? { cgroupParent: 'delegated' } : {}),
      };
      const s = await supervise(cfg, { cgroup: d, env: how === 'option' ? {} : { CONFINE_CGROUP_PARENT: 'delegated' } });
      const c = s.cases;
      const leafRel = path.join(relOf(d), 'confine-supervisor');
      if (c.where) {
        // capabilities() describes the move without making it
        assert.equal(c.where.cgroup, relOf(d));
        assert.equal(c.where.detail.delegation.blocked, true);
        assert.equal(c.where.detail.delegation.allowed, true);
        assert.equal(c.where.resources.memoryBytes.enforced, true, 'what a supervisor will get');
      }
      for (const k of ['memoryBytes', 'maxProcesses', 'cpu', 'cpuWeight'])
        assert.equal(c.limits.enforced[k].mechanism, 'cgroup2', `${k}: ${c.limits.enforced[k].note}`);
      assert.equal(c.limits.own, leafRel, 'the supervisor moved into the leaf');
      assert.equal(c.limits.files['memory.max'], String(64 * MiB));
      assert.equal(c.limits.files['pids.max'], '20');
      assert.ok(c.limits.throttled > 0);
      if (c.oom) assert.equal(c.oom.status.oomKilled, true);
      // every process that was in the delegated cgroup went: the watchdog, children, the forker's
      assert.equal(c.after.self, leafRel);
      assert.equal(c.after.watchdog.cgroup, leafRel);
      for (const p of c.after.started) if (p.cgroup !== null) assert.equal(p.cgroup, leafRel, `pid ${p.pid}`);
      assert.equal(c.after.emptied[0].procs, '', 'the delegated cgroup holds no process');
      if (c.doctor) assert.match(c.doctor.out, /delegated: .*\(the parent of this process's cgroup\); controllers: .*memory/);
      assert.deepEqual(tree(d), ['confine', 'confine-supervisor'], 'no task cgroup is left');
    });

  test('in a cgroup not delegated to it: everything reported unenforced with the reason, nothing made', async () => {
    const p = mkcg(uni, 'plain');
    const leaf = mkcg(uni, 'plain/leaf');
    const before = tree(p);
    const s = await supervise({ cases: ['where', 'limits', 'doctor'] }, { cgroup: leaf });
    const c = s.cases;
    assert.equal(c.where.detail.delegation.subtree, null);
    assert.match(c.where.detail.delegation.reason, /not delegated to uid \d+: .* is owned by uid 0/);
    for (const k of ['memoryBytes', 'cpu', 'cpuWeight']) {
      assert.equal(c.limits.enforced[k].enforced, false, k);
      assert.match(c.limits.enforced[k].note, /no delegated cgroup v2 subtree: .*not delegated/);
    }
    assert.equal(c.limits.enforced.treeStop.enforced, false);
    assert.equal(c.limits.dir, null, 'no cgroup for the tree');
    assert.match(c.doctor.out, /delegated: none: /);
    assert.match(
      c.doctor.out,
      fs.existsSync('/run/systemd/system')
        ? /systemd-run --user --scope -p Delegate=yes/
        : /no systemd on this host .*NAME\/supervisor\/cgroup\.procs/,
    );
    // each reason once: why there is no delegated subtree is said on the delegated line only
    const why = c.where.detail.delegation.reason;
    assert.equal(c.doctor.out.split(why).length - 1, 1, c.doctor.out);
    // with leave to move, too: there is nothing to move into
    const t = await supervise({ cases: ['limits'], cgroupParent: 'delegated' }, { cgroup: leaf });
    assert.equal(t.cases.limits.enforced.memoryBytes.enforced, false);
    assert.equal(t.cases.limits.own, relOf(leaf));
    assert.deepEqual(tree(p), before, 'nothing was made');
  });

  test('half delegated (the directory chowned, its cgroup.procs and cgroup.subtree_control not): not delegated', async () => {
    const h = mkcg(uni, 'half');
    fs.chownSync(h, user.uid, user.gid);
    const s = await supervise({ cases: ['where', 'limits'], cgroupParent: 'delegated' }, { cgroup: h });
    const c = s.cases;
    assert.equal(c.where.detail.delegation.subtree, null);
    assert.match(c.where.detail.delegation.reason, /cgroup\.(procs|subtree_control) is owned by uid 0/);
    assert.equal(c.limits.enforced.memoryBytes.enforced, false);
    assert.equal(c.limits.own, relOf(h), 'not moved');
    assert.deepEqual(tree(h), [], 'nothing was made');
  });

  test('bad cgroupParent: outside the delegated subtree, or not writable: typed errors before anything starts', async () => {
    const d = mkcg(uni, 'bad');
    const leaf = mkcg(uni, 'bad/shell');
    const closed = mkcg(uni, 'bad/closed'); // root's, inside the delegated cgroup
    const outside = mkcg(uni, 'bad-outside');
    delegate(d);
    chownTree(leaf);
    const before = { d: tree(d), outside: tree(outside) };
    const s = await supervise(
      { cases: ['bad'], badParents: [path.join(relOf(outside), 'tasks'), path.join(relOf(closed), 'tasks')] },
      { cgroup: leaf },
    );
    const [out, notWritable] = s.cases.bad;
    for (const r of [out, notWritable]) {
      assert.equal(r.threw, true, r.cgroupParent);
      assert.equal(r.name, 'ConfineArgumentError');
      assert.equal(r.code, 'ERR_CONFINE_INVALID_ARGUMENT');
      assert.equal(r.errno, 'EACCES');
      assert.equal(r.syscall, 'access');
    }
    assert.match(out.message, /outside the cgroup subtree delegated to uid/);
    assert.equal(out.path, path.join(root, 'cgroup.procs'), 'the common ancestor');
    assert.match(notWritable.message, /is not writable by uid/);
    assert.equal(notWritable.path, closed);
    assert.deepEqual({ d: tree(d), outside: tree(outside) }, before, 'nothing was made');
  });
});

describe('hybrid host: a non-root supervisor and the v2 tree', { skip: skipHybrid }, () => {
  const v1 = layout?.hierarchies.filter((h) => h.version === 1) ?? [];

  /** The same directory, the user's, in every hierarchy; in the v2 tree delegated, with a leaf. */
  function prepare(name) {
    const dirs = {};
    for (const h of v1) {
      dirs[h.mount] = mkcg(h.mount, name);
      fs.chownSync(dirs[h.mount], user.uid, user.gid);
    }
    const d = mkcg(uni, name);
    delegate(d);
    const leaf = mkcg(uni, `${name}/sup`);
    chownTree(leaf);
    return { dirs, d, leaf };
  }

  test('the v2 tree is used when the supervisor may move tasks there (common ancestor writable), not otherwise', async () => {
    const { dirs, d, leaf } = prepare('hy');
    const cgroupParent = path.join(testCgroupParent, 'hy', 'jobs');
    // (a) the supervisor's v2 cgroup is inside the delegated one: the common ancestor is ours
    const a = (await supervise({ cases: ['hybrid'], cgroupParent }, { cgroup: leaf })).cases.hybrid;
    assert.equal(a.paths.unified, path.join(d, 'jobs', path.basename(a.paths.memory)), JSON.stringify(a.paths));
    assert.equal(a.enforced.treeStop.mechanism, 'cgroup2', a.enforced.treeStop.note);
    assert.equal(a.limit, String(64 * MiB));
    assert.ok(a.leader.includes(`0::${relOf(a.paths.unified)}`), a.leader);
    assert.equal(a.status.signal, 'SIGKILL');
    assert.equal(a.removed, true);
    // (b) the supervisor stays in the v2 root: the common ancestor is the root, not writable
    const b = (await supervise({ cases: ['where', 'hybrid'], cgroupParent }, { env: { CONFINE_CGROUP_PARENT: cgroupParent } }))
      .cases;
    assert.equal(b.hybrid.paths.unified, undefined, JSON.stringify(b.hybrid.paths));
    assert.match(b.where.detail.note, /v2 tree not used: .*cgroup\.procs is not writable by us/);
    assert.equal(b.hybrid.enforced.treeStop.mechanism, 'cgroup1');
    assert.equal(b.hybrid.enforced.memoryBytes.enforced, true);
    assert.equal(b.hybrid.limit, String(64 * MiB));
    assert.equal(b.hybrid.status.signal, 'SIGKILL');
    assert.equal(b.hybrid.removed, true);
    assert.deepEqual(tree(path.join(uni, testCgroupParent, 'hy')), ['jobs', 'sup'], 'no task cgroup left in the v2 tree');
    for (const dir of Object.values(dirs))
      assert.deepEqual(
        tree(dir).filter((x) => x !== 'jobs'),
        [],
        `no task cgroup left in ${dir}`,
      );
  });

  test('an explicit cgroupParent this user may not write is a typed error; auto reports unenforced, and doctor says why', async () => {
    const s = await supervise({ cases: ['bad', 'limits', 'doctor'], badParents: [path.join(testCgroupParent, 'nope')] }, {});
    const [r] = s.cases.bad;
    assert.equal(r.threw, true);
    assert.equal(r.name, 'ConfineArgumentError');
    assert.equal(r.errno, 'EACCES');
    assert.equal(r.syscall, 'mkdir');
    assert.match(r.message, /not writable by uid \d+ in any cgroup v1 hierarchy/);
    for (const h of layout.hierarchies) assert.equal(fs.existsSync(path.join(h.mount, testCgroupParent, 'nope')), false);
    // without cgroupParent, in cgroups root owns: the limits are reported, not attempted
    for (const k of ['memoryBytes', 'cpu'])
      assert.equal(s.cases.limits.enforced[k].enforced, false, `${k}: ${s.cases.limits.enforced[k].note}`);
    assert.equal(s.cases.limits.status.signal, 'SIGKILL');
    // confine doctor, as this user: no v1 directory of its own, and why delegation does not help
    assert.match(s.cases.doctor.out, /cgroups: {3}hybrid, unusable: no writable cgroup v1 parent/);
    assert.match(s.cases.doctor.out, /systemd does not delegate them to unprivileged users/);
    // each reason once: the directories tried in the v1 hierarchies are named once, and their
    // shared refusal is said once (not once per hierarchy, nor again in every limit row)
    const tried = s.cases.doctor.out.match(/\/sys\/fs\/cgroup\/[^\s,:]*\/confine(?=[\s,:])/g) ?? [];
    assert.ok(tried.length >= 2, s.cases.doctor.out);
    assert.deepEqual(tried, [...new Set(tried)], 'each directory named once');
    assert.equal(s.cases.doctor.out.split('not delegated to us').length - 1, 1, s.cases.doctor.out);
    assert.match(s.cases.doctor.out, /memoryBytes +NOT enforced .*: no writable cgroup v1 parent \(cgroups: above says why\)\n/);
    assert.match(
      s.cases.doctor.out,
      /\n {2}memoryBytes, memorySwapBytes, cpu, .*: no writable cgroup v1 parent \(cgroups: above says why\)\n/,
    );
  });
});
