// Layer: the linux backend (lib/backends/native.ts with lib/cgroup/wiring.ts), through the
// public API (command(), executor.update(), the pool as the backend uses it). The cgroup module
// underneath, called directly, is test/cgroup.test.mjs.
//
// The linux backend's cgroups, through the public API, on whatever hierarchy the host has: v1
// controllers on the development machine, pure v2 in the VM of `npm run test:cgroup2`. Real
// hogs and bombs, measured from the cgroup's own counters.

import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  readFileSync,
  existsSync,
  mkdirSync,
  rmdirSync,
  readdirSync,
  readlinkSync,
  mkdtempSync,
  writeFileSync,
  openSync,
  closeSync,
  rmSync,
} from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { command, capabilities, dropSpareCgroups } from '../dist/index.mjs';
import {
  alive,
  until,
  killPids,
  isLinux,
  isRoot,
  leftoverTestCgroups,
  zombieChildren,
  text,
  require,
  FORK_BOMB,
  cgroupOf,
  pidsCounters,
  judgeCpuQuota,
  CPU_HOG,
  doomed,
} from './helpers.mjs';

const caps = capabilities();
const skip = !isLinux
  ? 'Linux only'
  : !isRoot
    ? 'needs root to create cgroups'
    : !caps.backends.includes('linux')
      ? `no linux backend: ${caps.reason}`
      : false;
const opts = (o = {}) => ({ executor: 'linux', stdio: 'ignore', ...o });
/** The fds this process holds open under `dir`, with their targets (from /proc/self/fd). */
const fdsInto = (dir) =>
  readdirSync('/proc/self/fd')
    .map((fd) => {
      try {
        return { fd: Number(fd), target: readlinkSync(`/proc/self/fd/${fd}`) };
      } catch {
        return { fd: Number(fd), target: '' }; // the fd readdir itself used, closed by now
      }
    })
    .filter(({ target }) => target === dir || target.startsWith(`${dir}/`));
const openInto = (dir) => fdsInto(dir).map(({ target }) => target);
/**
 * `body(pool)` with the pool drained first and its idle span long meanwhile: no check may hang
 * on this machine's speed (a kind that idles loses its spares).
 */
async function withPatientPool(body) {
  const { taskCgroupPool } = require('../dist/cgroup/index.js');
  taskCgroupPool.drain();
  const idleMs = taskCgroupPool.idleMs;
  taskCgroupPool.idleMs = 10 * 60_000;
  try {
    await body(taskCgroupPool);
  } finally {
    taskCgroupPool.idleMs = idleMs;
  }
}

describe('linux backend cgroups', { skip }, () => {
  after(() => {
    assert.deepEqual(leftoverTestCgroups(), [], 'no task cgroup left behind');
    assert.deepEqual(zombieChildren(), []);
  });

  test('memoryBytes: a memory hog is OOM-killed and reported from the cgroup counter', async () => {
    // Doubling a shell string: memory grows fast without any runtime.
    const ex = command('sh', ['-c', 'a=xxxxxxxxxxxxxxxx; while :; do a="$a$a"; done'], opts()).limit({
      memoryBytes: 64 * 2 ** 20,
    });
    assert.match(ex.enforced.memoryBytes.mechanism, /^cgroup[12]$/);
    assert.equal(ex.enforced.memoryBytes.scope, 'tree');
    await ex.start();
    const st = await ex.wait();
    assert.equal(st.oomKilled, true, `status: ${JSON.stringify(st)}`);
    assert.equal(st.signal, 'SIGKILL');
  });

  test('a clean exit is not an OOM kill', async () => {
    const ex = command('sh', ['-c', 'exit 137'], opts()).limit({ memoryBytes: 64 * 2 ** 20 });
    await ex.start();
    const st = await ex.wait();
    assert.equal(st.exitCode, 137);
    assert.equal(st.oomKilled, false, 'never guessed from exit code 137');
  });

  test('maxProcesses: a fork bomb is contained, never above the limit', async () => {
    const LIMIT = 20;
    const ex = command(...FORK_BOMB, opts({ stdio: ['ignore', 'pipe', 'ignore'] })).limit({ maxProcesses: LIMIT });
    assert.equal(ex.enforced.maxProcesses.scope, 'tree');
    await ex.start();
    let refused = 0; // the bomb's own count of refused forks
    ex.stdout.on('data', (d) => (refused += d.length));
    const cg = cgroupOf(ex);
    const pidsDir = cg.pids ?? cg.unified;
    // Under pressure until the kernel refused 500 forks and three samples saw the tree at the
    // limit (a count, not a span of time: a slow machine takes longer and holds the same).
    let max = 0;
    let atLimit = 0;
    const held = await until(
      async () => {
        const n = (await ex.stats()).processes;
        max = Math.max(max, n);
        if (n === LIMIT) atLimit++;
        return n > LIMIT || (pidsCounters(pidsDir).refused >= 500 && atLimit >= 3);
      },
      120_000,
      5,
    );
    const k = pidsCounters(pidsDir);
    assert.ok(max <= LIMIT, `never more than ${LIMIT} processes (saw ${max})`);
    if (k.peak !== null) assert.equal(k.peak, LIMIT, 'pids.peak: the tree reached the limit and never went above it');
    assert.ok(held, `the bomb held the limit (at it in ${atLimit} samples; ${k.refused} forks refused)`);
    assert.ok(max >= 10, `the bomb did fork (saw ${max})`);
    assert.equal(max, LIMIT, 'a sample saw the tree at the limit');
    assert.ok(k.refused >= 500 && refused > 0, `forks refused: ${k.refused} by the kernel, ${refused} seen by the bomb`);
    // The leader itself may already have given up (its forks fail): forceStop ends the rest.
    await ex.forceStop();
    assert.equal((await ex.stats()).processes, 0);
  });

  test("cpu: 0.5 of a core, from the kernel's own counters (usage per CFS period, throttling)", async () => {
    const ex = command('sh', ['-c', CPU_HOG], opts()).limit({ cpu: 0.5 });
    await ex.start();
    const cg = cgroupOf(ex);
    try {
      const usage = async () => {
        const s = await ex.stats();
        return s.cpuUserMicros + s.cpuSystemMicros;
      };
      const q = await judgeCpuQuota({ cpuDir: cg.cpu ?? cg.unified, usage, cores: 0.5 });
      console.log(`cpu 0.5 [linux backend]: ${q.figures}`);
      assert.ok(q.held, `throttled by the quota: ${q.figures}`);
      assert.deepEqual(q.failures, [], q.figures);
      const s = await ex.stats();
      if (s.throttledPeriods !== null && s.throttledPeriods !== undefined)
        assert.ok(s.throttledPeriods > 0, 'stats() says throttled');
    } finally {
      await ex.forceStop();
    }
  });

  test('forceStop kills a double-forked daemon in its own session, after its parent died', async () => {
    const ex = command(
      'sh',
      ['-c', 'setsid sh -c "sleep 300 & echo \\$!" ; sleep 300'],
      opts({ stdio: ['ignore', 'pipe', 'ignore'] }),
    );
    await ex.start();
    const [line] = await once(ex.stdout, 'data');
    const daemon = Number(String(line).trim());
    assert.ok(alive(daemon), 'the daemon runs, re-parented away from our tree');
    const st = await ex.forceStop();
    assert.equal(st.signal, 'SIGKILL');
    const killed = doomed(daemon); // every kill was sent once forceStop() resolved
    const gone = await until(() => !alive(daemon), 30_000);
    if (!gone) killPids([daemon]);
    assert.ok(killed, `daemon ${daemon} was killed by forceStop`);
    assert.ok(gone, `daemon ${daemon} did not survive forceStop`);
  });

  test('the leader exits while a grandchild lives: wait() follows the leader, forceStop still kills the grandchild', async () => {
    const ex = command('sh', ['-c', 'sleep 300 & echo $!; exit 3'], opts({ stdio: ['ignore', 'pipe', 'ignore'] }));
    await ex.start();
    // Not read to the end: the grandchild holds the pipe open.
    const [line] = await once(ex.stdout, 'data');
    const grandchild = Number(String(line).trim());
    const st = await ex.wait();
    assert.equal(st.exitCode, 3);
    assert.ok(alive(grandchild), 'the grandchild outlives the leader');
    assert.equal((await ex.stats()).processes, 1);
    await ex.forceStop();
    const killed = doomed(grandchild);
    const gone = await until(() => !alive(grandchild), 30_000);
    if (!gone) killPids([grandchild]);
    assert.ok(killed, 'killed by forceStop');
    assert.ok(gone);
  });

  test('descendants that outlive the leader: the cgroup is removed once they exit on their own', async () => {
    // The sleeper runs until told to go: it outlives the leader however slow or fast this is.
    const ex = command('sh', ['-c', 'sleep 300 >/dev/null & echo $!; exit 0'], opts({ stdio: ['ignore', 'pipe', 'ignore'] }));
    const closed = once(ex, 'close');
    await ex.start();
    const dirs = Object.values(cgroupOf(ex));
    const [out, st] = await Promise.all([text(ex.stdout), ex.wait()]);
    const sleeper = Number(out.trim());
    assert.equal(st.exitCode, 0);
    // At 'close' the executor has tried to remove the tree's cgroup (and found it in use).
    await closed;
    assert.ok(!doomed(sleeper), 'the sleeper runs on');
    assert.ok(
      dirs.every((d) => existsSync(d)),
      'kept while the sleeper runs',
    );
    process.kill(sleeper, 'SIGTERM');
    assert.ok(await until(() => dirs.every((d) => !existsSync(d)), 30_000), `removed after the sleeper's exit: ${dirs}`);
  });

  test('a non-root child cannot move itself out of its cgroup', async () => {
    const procs = readFileSync('/proc/self/mountinfo', 'utf8')
      .split('\n')
      .filter((l) => / - cgroup2? /.test(l))
      .map((l) => `${l.split(' ')[4]}/cgroup.procs`);
    const script = procs.map((p) => `echo $$ > ${p} 2>/dev/null && echo escaped ${p}`).join('; ') + '; exit 0';
    const ex = command('sh', ['-c', script], opts({ stdio: ['ignore', 'pipe', 'ignore'] })).runAs('nobody');
    await ex.start();
    const out = await text(ex.stdout);
    await ex.wait();
    assert.equal(out, '', 'no cgroup.procs accepted the move');
  });

  test('stats() moves; update() changes a live limit', async () => {
    const ex = command(
      'sh',
      ['-c', 'a=x; i=0; while [ $i -lt 18 ]; do a="$a$a"; i=$((i+1)); done; sleep 300; exit 0'],
      opts(),
    ).limit({ memoryBytes: 256 * 2 ** 20 });
    await ex.start();
    try {
      // Wait for the shell to have built its string and started sleep.
      const s = await until(async () => {
        const x = await ex.stats();
        return x.memoryBytes > 2 ** 19 && x.processes === 2 ? x : null;
      }, 30_000);
      assert.ok(s, 'memory use and both processes show');
      assert.ok(s.cpuUserMicros + s.cpuSystemMicros > 0);
      const e = await ex.update({ memoryBytes: 128 * 2 ** 20 });
      assert.equal(e.memoryBytes.enforced, true);
      const cg = cgroupOf(ex);
      const limitFile = cg.memory ? `${cg.memory}/memory.limit_in_bytes` : `${cg.unified}/memory.max`;
      assert.equal(readFileSync(limitFile, 'utf8').trim(), String(128 * 2 ** 20));
    } finally {
      await ex.forceStop();
    }
  });

  test('update() adds a limit of a kind the tree started without, and it holds', async () => {
    // Once told to, the shell starts 40 sleepers; the forks past maxProcesses fail.
    const ex = command(
      'sh',
      ['-c', 'read go; i=0; while [ $i -lt 40 ]; do sleep 300 & i=$((i+1)); done; wait'],
      opts({ stdio: ['pipe', 'ignore', 'ignore'] }),
    );
    await ex.start();
    try {
      const e = await ex.update({ maxProcesses: 8, memoryBytes: 128 * 2 ** 20 });
      for (const k of ['maxProcesses', 'memoryBytes']) {
        assert.equal(e[k].enforced, true, `${k}: ${JSON.stringify(e[k])}`);
        assert.match(e[k].mechanism, /^cgroup[12]$/);
      }
      const cg = cgroupOf(ex);
      const pidsDir = cg.pids ?? cg.unified;
      assert.equal(readFileSync(`${pidsDir}/pids.max`, 'utf8').trim(), '8');
      assert.ok(readFileSync(`${pidsDir}/cgroup.procs`, 'utf8').split('\n').includes(String(ex.pid)), 'the leader is in it');
      ex.stdin.end('go\n');
      assert.ok(
        await until(() => /max [1-9]/.test(readFileSync(`${pidsDir}/pids.events`, 'utf8')), 30_000),
        'forks were refused',
      );
      const s = await ex.stats();
      assert.ok(s.processes <= 8, `processes ${s.processes} ≤ 8`);
    } finally {
      await ex.forceStop();
    }
  });

  test('a start that fails in the child leaves no cgroup', async () => {
    const ex = command('true', [], opts({ cwd: '/root' })).runAs('nobody');
    await assert.rejects(ex.start(), (e) => {
      assert.equal(e.code, 'ERR_CONFINE_SPAWN');
      assert.equal(e.stage, 'chdir');
      assert.equal(e.errno, 'EACCES');
      return true;
    });
    assert.deepEqual(leftoverTestCgroups(), []);
  });

  test('a cgroup the kernel will not let go of at the exit is removed once it can be, not left for ever', async () => {
    // A child directory in the task cgroup makes its rmdir fail with EBUSY while no process is
    // listed: what the kernel answers for a moment after the last task's exit (seen lasting past
    // remove()'s 2 s under heavy load). release() must try again later instead of giving up.
    const ex = command('sleep', ['300'], opts({ killOnParentExit: true })).limit({ maxProcesses: 10 });
    await ex.start();
    const dirs = [...new Set(Object.values(cgroupOf(ex)))];
    const subs = dirs.map((d) => `${d}/confine-t-busy`);
    try {
      for (const s of subs) mkdirSync(s);
      await ex.forceStop();
      assert.ok(
        dirs.every((d) => existsSync(d)),
        'kept while it cannot be removed',
      );
    } finally {
      for (const s of subs) if (existsSync(s)) rmdirSync(s);
    }
    assert.ok(await until(() => dirs.every((d) => !existsSync(d)), 30_000), `removed once it could be: ${dirs}`);
  });

  test('the cgroup pool: a spare is ready after a spawn, the next spawn takes it, idle and exit remove them', async () => {
    const { taskCgroupPool } = require('../dist/cgroup/index.js');
    taskCgroupPool.drain();
    // Hot and idle are spans of time (idleMs, 500 ms by default): long while spares are made and
    // taken, so that no check depends on how fast this machine spawns; the default for idling.
    const idleMs = taskCgroupPool.idleMs;
    taskCgroupPool.idleMs = 10 * 60_000;
    try {
      const limits = { memoryBytes: 64 * 2 ** 20, maxProcesses: 16 };
      const once = command('true', [], opts()).limit(limits);
      await once.start();
      await once.wait();
      // A spare is made on the turn of the event loop after a take: that turn is over now.
      await new Promise((r) => setImmediate(r));
      assert.deepEqual(taskCgroupPool.spares(), [], 'a kind seen once gets no spare');
      const first = command('true', [], opts()).limit(limits);
      await first.start();
      await first.wait();
      assert.ok(
        await until(() => taskCgroupPool.spares().length > 0, 30_000),
        'a spare was made after the second spawn of that kind',
      );
      const spares = taskCgroupPool.spares().map((dirs) => dirs.slice().sort());
      for (const d of spares.flat()) assert.ok(existsSync(d) && d.includes(`/confine-${process.pid}-`), d);
      const second = command('true', [], opts()).limit(limits);
      await second.start();
      const taken = Object.values(cgroupOf(second)).sort();
      assert.ok(
        spares.some((dirs) => JSON.stringify(dirs) === JSON.stringify(taken)),
        `the next spawn of that kind took one: ${taken}`,
      );
      const st = await second.wait();
      assert.equal(st.exitCode, 0);
      // Idle: no take for idleMs removes the spares without anyone asking.
      taskCgroupPool.idleMs = idleMs;
      assert.ok(await until(() => taskCgroupPool.spares().length === 0, 30_000), 'spares dropped when idle');
      assert.ok(
        await until(() => leftoverTestCgroups({ drain: false }).length === 0, 30_000),
        `nothing left: ${leftoverTestCgroups({ drain: false })}`,
      );
      // The public way to drop them at once (before removing one's own cgroupParent).
      taskCgroupPool.idleMs = 10 * 60_000;
      for (let i = 0; i < 2; i++) {
        const ex = command('true', [], opts()).limit(limits);
        await ex.start();
        await ex.wait();
      }
      assert.ok(await until(() => taskCgroupPool.spares().length > 0, 30_000), 'spares again');
      const dirs = taskCgroupPool.spares().flat();
      dropSpareCgroups();
      assert.deepEqual(taskCgroupPool.spares(), []);
      assert.deepEqual(
        dirs.filter((d) => existsSync(d)),
        [],
        'dropSpareCgroups() removed them',
      );
    } finally {
      taskCgroupPool.idleMs = idleMs;
    }
  });

  // Reuse of an emptied task cgroup is for cgroups without controllers (hybrid hosts).
  const reuseSkip =
    require('../dist/cgroup/index.js').detectCgroups().mode !== 'hybrid' &&
    'reuse is for cgroups without controllers (hybrid hosts)';

  test('a tree without limits on a hybrid host: its emptied v2 cgroup serves the next tree, which sees none of the old one', {
    skip: reuseSkip,
  }, async () => {
    const { taskCgroupPool } = require('../dist/cgroup/index.js');
    taskCgroupPool.drain();
    // The first tree burns some CPU, so its cgroup's counters are far from zero.
    const first = command('sh', ['-c', 'i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done'], opts());
    await first.start();
    const dirs = Object.values(cgroupOf(first));
    assert.equal(dirs.length, 1, 'one v2 directory');
    // Its CPU, counted by the kernel as the cgroup's is (the loop runs in the leader itself).
    const used = (await first.wait()).cpuUserMicros;
    assert.ok(used > 0, `the first tree used CPU (${used} µs)`);
    assert.ok(await until(() => taskCgroupPool.spares().some((d) => d[0] === dirs[0]), 30_000), 'kept for the next tree');
    const second = command('sleep', ['300'], opts());
    await second.start();
    try {
      assert.deepEqual(Object.values(cgroupOf(second)), dirs, 'the next tree reuses it');
      const st = await second.stats();
      assert.equal(st.processes, 1);
      // Counted from zero at the reuse: an exec of sleep, far below the first tree's loop (whatever
      // this machine's speed, both scale with it); without the reset at least the loop's CPU.
      assert.ok(
        st.cpuUserMicros < used / 2,
        `CPU counted from the reuse (${st.cpuUserMicros} µs; the first tree had ${used} µs and more)`,
      );
      // The old executor must not reach the new tree through the shared directory. Once
      // forceStop() and shutdown() resolved, any kill they sent would be pending.
      await first.forceStop();
      await first.shutdown({ graceMs: 10 });
      assert.ok(!doomed(second.pid), 'forceStop() of the exited first tree leaves the second alone');
    } finally {
      await second.forceStop();
    }
  });

  test('a reused v2 cgroup keeps its files open across its trees: each tree joins through the held cgroup.procs, and dropping the spare closes them', {
    skip: reuseSkip,
  }, async () => {
    const { taskCgroupPool } = require('../dist/cgroup/index.js');
    taskCgroupPool.drain();
    const idleMs = taskCgroupPool.idleMs;
    taskCgroupPool.idleMs = 10 * 60_000; // no check below may hang on this machine's speed
    try {
      const first = command('true', [], opts());
      await first.start();
      const [dir] = Object.values(cgroupOf(first));
      await first.wait();
      for (let i = 0; i < 4; i++) {
        const ex = command('sleep', ['300'], opts());
        await ex.start();
        try {
          assert.deepEqual(Object.values(cgroupOf(ex)), [dir], `tree ${i + 2} reuses the directory`);
          // Written through the same open file each time (its offset moves with every write):
          // the kernel must list every tree's leader, not only show the path in /proc/<pid>/cgroup.
          assert.deepEqual(
            readFileSync(`${dir}/cgroup.procs`, 'utf8').trim().split('\n').map(Number),
            [ex.pid],
            `tree ${i + 2} is a member`,
          );
          assert.ok(openInto(dir).includes(`${dir}/cgroup.procs`), `cgroup.procs held open for the reuse: ${openInto(dir)}`);
        } finally {
          await ex.forceStop();
        }
      }
      assert.ok(openInto(dir).includes(`${dir}/cgroup.events`), `its release reads are held open too: ${openInto(dir)}`);
      dropSpareCgroups();
      assert.ok(!existsSync(dir), 'the spare is removed');
      assert.deepEqual(openInto(dir), [], 'and no fd into it is left open');
    } finally {
      taskCgroupPool.idleMs = idleMs;
    }
  });

  /** Two trees without limits, one after the other: the v2 directory both ran in, its files held from then on. */
  async function reusedDirectory() {
    let dir;
    // The first release opens the files it read (and the join's), the second uses them held.
    for (let i = 0; i < 2; i++) {
      const ex = command('true', [], opts());
      await ex.start();
      [dir] = Object.values(cgroupOf(ex));
      await ex.wait();
    }
    return dir;
  }

  /** User code's double close of `fd`, then its own `file` (opened with `mode`) at that number; its fds go to `mine`. */
  function userFileAt(fd, file, mode, mine) {
    closeSync(fd);
    for (let i = 0; i < 64 && !mine.includes(fd); i++) mine.push(openSync(file, mode));
    assert.ok(mine.includes(fd), `the user's file took fd ${fd}`);
  }

  /**
   * The user's bug against a reused directory's held `file`: a second close of a number it no
   * longer owns, then a file of its own (`victimText`, opened with `mode`) gets that number.
   * `file` null: the directory itself (held for its link count), and the user's file is a
   * directory of its own (`victimText` null) with one subdirectory: read as the cgroup's, its
   * link count (3) would say a sub-cgroup was made. `body` runs the next trees; the user's fd
   * must still be its file after the spare is dropped.
   */
  async function userFileOnHeldFd(file, victimText, mode, body) {
    const { taskCgroupPool } = require('../dist/cgroup/index.js');
    taskCgroupPool.drain();
    const idleMs = taskCgroupPool.idleMs;
    taskCgroupPool.idleMs = 10 * 60_000; // no check may hang on this machine's speed
    const tmp = mkdtempSync(join(tmpdir(), 'confine-t-'));
    const victim = join(tmp, 'user-file');
    if (victimText === null) mkdirSync(join(victim, 'sub'), { recursive: true });
    else writeFileSync(victim, victimText);
    const mine = [];
    try {
      const dir = await reusedDirectory();
      const target = file === null ? dir : `${dir}/${file}`;
      const held = fdsInto(dir).find((x) => x.target === target);
      assert.ok(held, `${target} held after a reuse: ${JSON.stringify(fdsInto(dir))}`);
      userFileAt(held.fd, victim, mode, mine);
      await body(dir, victim);
      dropSpareCgroups();
      assert.equal(readlinkSync(`/proc/self/fd/${held.fd}`), victim, "the user's fd was not closed by confine");
    } finally {
      for (const fd of mine) closeSync(fd);
      rmSync(tmp, { recursive: true, force: true });
      taskCgroupPool.idleMs = idleMs;
    }
  }

  test('an fd held for a reused cgroup that user code closes twice: the number, now another file, is neither written nor closed; the tree still joins', {
    skip: reuseSkip,
  }, async () => {
    await userFileOnHeldFd('cgroup.procs', '', 'w', async (dir, victim) => {
      const ex = command('sleep', ['300'], opts());
      await ex.start();
      try {
        assert.deepEqual(Object.values(cgroupOf(ex)), [dir], 'the directory is reused');
        assert.deepEqual(readFileSync(`${dir}/cgroup.procs`, 'utf8').trim().split('\n').map(Number), [ex.pid], 'the tree joined');
        assert.equal(readFileSync(victim, 'utf8'), '', "nothing was written to the user's file");
      } finally {
        await ex.forceStop();
      }
    });
  });

  test("an fd of a reused cgroup's release reads that user code closes twice: the number, now another file, is neither read nor closed; the directory still serves", {
    skip: reuseSkip,
  }, async () => {
    // Read as cgroup.events, the user's text would say the tree is still there: no reuse.
    await userFileOnHeldFd('cgroup.events', 'populated 1\nfrozen 1\n', 'r', async (dir) => {
      for (const what of ['the directory is reused', "the release read cgroup.events, not the user's file"]) {
        const ex = command('true', [], opts());
        await ex.start();
        assert.deepEqual(Object.values(cgroupOf(ex)), [dir], what);
        await ex.wait();
      }
    });
  });

  test("a reused cgroup's held directory fd that user code closes twice: the number, now the user's own directory, is not taken for the cgroup's nor closed; the directory still serves", {
    skip: reuseSkip,
  }, async () => {
    // Only the identity check tells the user's directory from the cgroup's: taken for it, its
    // link count would stop the reuse.
    await userFileOnHeldFd(null, null, 'r', async (dir) => {
      for (const what of ['the directory is reused', 'and again, its own directory read anew']) {
        const ex = command('true', [], opts());
        await ex.start();
        assert.deepEqual(Object.values(cgroupOf(ex)), [dir], what);
        await ex.wait();
      }
    });
  });

  // The same bug, by user code that runs inside the spawn (a monkeypatched process.getuid, which
  // launch() calls for a runAs tree): the held files' identity is checked after the last of it.
  test(
    "a reused cgroup's held cgroup.procs swapped for a user's file by user code that runs during the spawn: the child still joins through the cgroup's",
    {
      skip: reuseSkip,
    },
    () =>
      withPatientPool(async () => {
        const tmp = mkdtempSync(join(tmpdir(), 'confine-t-'));
        const victim = join(tmp, 'user-file');
        writeFileSync(victim, '');
        const mine = [];
        const swapped = [];
        const getuid = process.getuid;
        try {
          const dir = await reusedDirectory();
          assert.ok(openInto(dir).includes(`${dir}/cgroup.procs`), `cgroup.procs held: ${openInto(dir)}`);
          // Each call: whichever fd is the cgroup's cgroup.procs now is closed, and a file of the
          // user's takes its number.
          process.getuid = () => {
            const held = fdsInto(dir).find((x) => x.target === `${dir}/cgroup.procs`);
            if (held) {
              userFileAt(held.fd, victim, 'w', mine);
              swapped.push(held.fd);
            }
            return getuid.call(process);
          };
          const ex = command('sleep', ['300'], opts()).runAs('nobody');
          try {
            await ex.start();
          } finally {
            process.getuid = getuid;
          }
          try {
            assert.ok(swapped.length > 0, 'the user code ran while the file was held');
            assert.deepEqual(Object.values(cgroupOf(ex)), [dir], 'the directory is reused');
            assert.deepEqual(
              readFileSync(`${dir}/cgroup.procs`, 'utf8').trim().split('\n').map(Number),
              [ex.pid],
              'the tree joined',
            );
            assert.equal(readFileSync(victim, 'utf8'), '', "nothing was written to the user's file");
          } finally {
            await ex.forceStop();
          }
          dropSpareCgroups();
          for (const fd of swapped)
            assert.equal(readlinkSync(`/proc/self/fd/${fd}`), victim, `the user's fd ${fd} was not closed`);
        } finally {
          process.getuid = getuid;
          for (const fd of mine) closeSync(fd);
          rmSync(tmp, { recursive: true, force: true });
        }
      }),
  );

  test('a spare of a kind with limits has its cgroup.procs open ahead; the tree that takes it keeps none', async () => {
    const { taskCgroupPool } = require('../dist/cgroup/index.js');
    taskCgroupPool.drain();
    const idleMs = taskCgroupPool.idleMs;
    taskCgroupPool.idleMs = 10 * 60_000;
    try {
      const limits = { maxProcesses: 16 };
      for (let i = 0; i < 2; i++) {
        const ex = command('true', [], opts()).limit(limits);
        await ex.start();
        await ex.wait();
      }
      assert.ok(await until(() => taskCgroupPool.spares().length > 0, 30_000), 'a spare was made');
      const spare = taskCgroupPool.spares()[0];
      for (const d of spare) assert.ok(openInto(d).includes(`${d}/cgroup.procs`), `opened with the spare: ${d}`);
      // LIFO: the next spawn of the kind takes the spare made last.
      const last = taskCgroupPool.spares().at(-1);
      const ex = command('sleep', ['300'], opts()).limit(limits);
      await ex.start();
      try {
        const dirs = Object.values(cgroupOf(ex));
        assert.deepEqual([...new Set(dirs)].sort(), [...last].sort(), 'the spawn took the spare');
        for (const d of new Set(dirs)) {
          assert.ok(readFileSync(`${d}/cgroup.procs`, 'utf8').split('\n').map(Number).includes(ex.pid), `joined ${d}`);
          assert.deepEqual(openInto(d), [], `no fd into ${d} kept while the tree runs`);
        }
      } finally {
        await ex.forceStop();
      }
      dropSpareCgroups();
      for (const d of taskCgroupPool.spares().flat().concat(spare)) assert.deepEqual(openInto(d), [], `none left: ${d}`);
    } finally {
      taskCgroupPool.idleMs = idleMs;
    }
  });

  // A spare removed behind the pool's back (cleanupOrphans() judging from another pid namespace):
  // take() hands it out unchecked, the spawn finds it gone at its cgroup step and retries once in
  // a fresh cgroup. Three ways to hold a spare, each failing differently: a spare made ahead
  // (its cgroup.procs, or on pure v2 its directory for clone3, held open: ENODEV), a reused
  // directory at its first reuse (its join files opened then: ENOENT) and at a later one (held:
  // ENODEV).
  // `holds(d, open)`: what the spare holds open in its directory `d` before it is removed (the
  // path the retry takes), from the targets of this process's fds into it.
  const goneCases = [
    {
      what: 'a spare made ahead for a kind with limits',
      limits: { maxProcesses: 16 },
      trees: 2,
      skip: false,
      holds: (d, open) => open.includes(`${d}/cgroup.procs`) || open.includes(d),
    },
    {
      what: 'a reused directory at its first reuse',
      limits: {},
      trees: 1,
      skip: reuseSkip,
      holds: (d, open) => open.includes(`${d}/cgroup.events`) && !open.includes(`${d}/cgroup.procs`),
    },
    {
      what: 'a reused directory whose files are held',
      limits: {},
      trees: 2,
      skip: reuseSkip,
      holds: (d, open) => open.includes(`${d}/cgroup.procs`),
    },
  ];
  for (const { what, limits, trees, skip: caseSkip, holds } of goneCases) {
    test(
      `${what}, removed behind the pool's back: the spawn still succeeds, in a new cgroup, and the spare's fds are closed`,
      { skip: caseSkip },
      () =>
        withPatientPool(async (taskCgroupPool) => {
          for (let i = 0; i < trees; i++) {
            const ex = command('true', [], opts()).limit(limits);
            await ex.start();
            await ex.wait();
          }
          assert.ok(await until(() => taskCgroupPool.spares().length > 0, 30_000), 'a spare');
          // LIFO: the next spawn of the kind takes the spare listed last.
          const gone = [...new Set(taskCgroupPool.spares().at(-1))];
          for (const d of gone) assert.ok(holds(d, openInto(d)), `the spare holds what this case is about: ${d}: ${openInto(d)}`);
          for (const d of gone) rmdirSync(d);
          const ex = command('sleep', ['300'], opts()).limit(limits);
          await ex.start();
          try {
            const dirs = [...new Set(Object.values(cgroupOf(ex)))];
            for (const d of dirs) {
              assert.ok(!gone.includes(d), `a new cgroup: ${d}`);
              assert.ok(readFileSync(`${d}/cgroup.procs`, 'utf8').split('\n').map(Number).includes(ex.pid), `joined ${d}`);
            }
            for (const d of gone) assert.deepEqual(openInto(d), [], `no fd into the removed ${d} is kept`);
          } finally {
            await ex.forceStop();
          }
        }),
    );
  }

  test('the cgroup pool in a supervisor that exits right after a spawn, and CONFINE_CGROUP_POOL=0', async () => {
    dropSpareCgroups(); // ours, from the tests before
    const script = (pool) => `
      const { command } = require(${JSON.stringify(require.resolve('../dist/index.js'))});
      const { taskCgroupPool } = require(${JSON.stringify(require.resolve('../dist/cgroup/index.js'))});
      // Spares are not dropped for idling while this runs, however slow the machine.
      taskCgroupPool.idleMs = 10 * 60_000;
      (async () => {
        for (let i = 0; i < 2; i++) {
          const ex = command('true', [], { executor: 'linux', stdio: 'ignore' }).limit({ maxProcesses: 8 });
          await ex.start();
          await ex.wait();
        }
        // Made on the turn after the second take.
        await new Promise((r) => setImmediate(r));
        process.stdout.write(String(taskCgroupPool.spares().length));
      })();`;
    for (const [pool, want] of [
      [undefined, /^[12]$/],
      ['0', /^0$/],
    ]) {
      const env = { ...process.env };
      if (pool === undefined) delete env.CONFINE_CGROUP_POOL;
      else env.CONFINE_CGROUP_POOL = pool;
      const out = execFileSync(process.execPath, ['-e', script(pool)], { env, encoding: 'utf8' });
      assert.match(out, want, `spares held with CONFINE_CGROUP_POOL=${pool}`);
      assert.deepEqual(leftoverTestCgroups({ drain: false }), [], 'the exit removed every spare');
    }
  });
});
