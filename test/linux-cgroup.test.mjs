// Layer: the linux backend (lib/backends/native.ts with lib/cgroup/wiring.ts), through the
// public API (command(), executor.update(), the pool as the backend uses it). The cgroup module
// underneath, called directly, is test/cgroup.test.mjs.
//
// The linux backend's cgroups, through the public API, on whatever hierarchy the host has: v1
// controllers on the development machine, pure v2 in the VM of `npm run test:cgroup2`. Real
// hogs and bombs, measured from the cgroup's own counters.

import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, existsSync } from 'node:fs';
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
  sleep,
  text,
  require,
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
    const ex = command('sh', ['-c', 'b() { b & b & wait; }; b'], opts()).limit({ maxProcesses: 20 });
    assert.equal(ex.enforced.maxProcesses.scope, 'tree');
    await ex.start();
    let max = 0;
    const end = Date.now() + 1500;
    while (Date.now() < end) {
      const s = await ex.stats();
      max = Math.max(max, s.processes);
      await sleep(20);
    }
    assert.ok(max >= 10, `the bomb did fork (saw ${max})`);
    assert.ok(max <= 20, `never more than 20 processes (saw ${max})`);
    // The leader itself may already have given up (its forks fail): forceStop ends the rest.
    await ex.forceStop();
    assert.equal((await ex.stats()).processes, 0);
  });

  test('cpu: 0.5 of a core over two seconds, from the cgroup CPU counter', async () => {
    const ex = command('sh', ['-c', 'while :; do :; done'], opts()).limit({ cpu: 0.5 });
    await ex.start();
    await sleep(300);
    const a = await ex.stats();
    const t0 = process.hrtime.bigint();
    await sleep(2000);
    const b = await ex.stats();
    const wallMicros = Number(process.hrtime.bigint() - t0) / 1000;
    await ex.forceStop();
    const used = b.cpuUserMicros + b.cpuSystemMicros - (a.cpuUserMicros + a.cpuSystemMicros);
    const cores = used / wallMicros;
    assert.ok(Math.abs(cores - 0.5) <= 0.1, `used ${cores.toFixed(3)} cores`);
    if (b.throttledPeriods !== null && b.throttledPeriods !== undefined) assert.ok(b.throttledPeriods > 0, 'throttled');
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
    const gone = await until(() => !alive(daemon), 3000);
    if (!gone) killPids([daemon]);
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
    const gone = await until(() => !alive(grandchild), 3000);
    if (!gone) killPids([grandchild]);
    assert.ok(gone);
  });

  test('descendants that outlive the leader: the cgroup is removed once they exit on their own', async () => {
    const ex = command('sh', ['-c', 'sleep 1.5 & exit 0'], opts());
    await ex.start();
    const dirs = Object.values(JSON.parse(Buffer.from(ex.handle.split('.')[1], 'base64url').toString()).extra.cgroup);
    assert.equal((await ex.wait()).exitCode, 0);
    await sleep(100);
    assert.ok(
      dirs.every((d) => existsSync(d)),
      'kept while the sleeper runs',
    );
    assert.ok(await until(() => dirs.every((d) => !existsSync(d)), 6000), `removed after the sleeper's exit: ${dirs}`);
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
      }, 10_000);
      assert.ok(s, 'memory use and both processes show');
      assert.ok(s.cpuUserMicros + s.cpuSystemMicros > 0);
      const e = await ex.update({ memoryBytes: 128 * 2 ** 20 });
      assert.equal(e.memoryBytes.enforced, true);
      const cg = JSON.parse(Buffer.from(ex.handle.split('.')[1], 'base64url').toString()).extra.cgroup;
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
      const cgroupOf = () => JSON.parse(Buffer.from(ex.handle.split('.')[1], 'base64url').toString()).extra.cgroup;
      const e = await ex.update({ maxProcesses: 8, memoryBytes: 128 * 2 ** 20 });
      for (const k of ['maxProcesses', 'memoryBytes']) {
        assert.equal(e[k].enforced, true, `${k}: ${JSON.stringify(e[k])}`);
        assert.match(e[k].mechanism, /^cgroup[12]$/);
      }
      const cg = cgroupOf();
      const pidsDir = cg.pids ?? cg.unified;
      assert.equal(readFileSync(`${pidsDir}/pids.max`, 'utf8').trim(), '8');
      assert.ok(readFileSync(`${pidsDir}/cgroup.procs`, 'utf8').split('\n').includes(String(ex.pid)), 'the leader is in it');
      ex.stdin.end('go\n');
      assert.ok(
        await until(() => /max [1-9]/.test(readFileSync(`${pidsDir}/pids.events`, 'utf8')), 10_000),
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

  test('the cgroup pool: a spare is ready after a spawn, the next spawn takes it, idle and exit remove them', async () => {
    const { taskCgroupPool } = require('../dist/cgroup/index.js');
    taskCgroupPool.drain();
    const limits = { memoryBytes: 64 * 2 ** 20, maxProcesses: 16 };
    const cgroupOf = (ex) => JSON.parse(Buffer.from(ex.handle.split('.')[1], 'base64url').toString()).extra.cgroup;
    const once = command('true', [], opts()).limit(limits);
    await once.start();
    await once.wait();
    await sleep(50);
    assert.deepEqual(taskCgroupPool.spares(), [], 'a kind seen once gets no spare');
    const first = command('true', [], opts()).limit(limits);
    await first.start();
    await first.wait();
    assert.ok(
      await until(() => taskCgroupPool.spares().length > 0, 2000),
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
    // Idle: no take for 500 ms removes the spares without anyone asking.
    assert.ok(await until(() => taskCgroupPool.spares().length === 0, 3000), 'spares dropped when idle');
    assert.ok(
      await until(() => leftoverTestCgroups({ drain: false }).length === 0, 3000),
      `nothing left: ${leftoverTestCgroups({ drain: false })}`,
    );
    // The public way to drop them at once (before removing one's own cgroupParent).
    for (let i = 0; i < 2; i++) {
      const ex = command('true', [], opts()).limit(limits);
      await ex.start();
      await ex.wait();
    }
    assert.ok(await until(() => taskCgroupPool.spares().length > 0, 2000), 'spares again');
    const dirs = taskCgroupPool.spares().flat();
    dropSpareCgroups();
    assert.deepEqual(taskCgroupPool.spares(), []);
    assert.deepEqual(
      dirs.filter((d) => existsSync(d)),
      [],
      'dropSpareCgroups() removed them',
    );
  });

  test('a tree without limits on a hybrid host: its emptied v2 cgroup serves the next tree, which sees none of the old one', {
    skip:
      require('../dist/cgroup/index.js').detectCgroups().mode !== 'hybrid' &&
      'reuse is for cgroups without controllers (hybrid hosts)',
  }, async () => {
    const { taskCgroupPool } = require('../dist/cgroup/index.js');
    taskCgroupPool.drain();
    const cgroupOf = (ex) => JSON.parse(Buffer.from(ex.handle.split('.')[1], 'base64url').toString()).extra.cgroup;
    // The first tree burns some CPU, so its cgroup's counters are far from zero.
    const first = command('sh', ['-c', 'i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done'], opts());
    await first.start();
    const dirs = Object.values(cgroupOf(first));
    assert.equal(dirs.length, 1, 'one v2 directory');
    const used = (await first.stats()).cpuUserMicros;
    await first.wait();
    assert.ok(await until(() => taskCgroupPool.spares().some((d) => d[0] === dirs[0]), 2000), 'kept for the next tree');
    const second = command('sleep', ['300'], opts());
    await second.start();
    try {
      assert.deepEqual(Object.values(cgroupOf(second)), dirs, 'the next tree reuses it');
      const st = await second.stats();
      assert.equal(st.processes, 1);
      assert.ok(
        st.cpuUserMicros < 50_000,
        `CPU counted from the reuse (${st.cpuUserMicros} µs; the first tree had ${used} µs and more)`,
      );
      // The old executor must not reach the new tree through the shared directory.
      await first.forceStop();
      await first.shutdown({ graceMs: 10 });
      assert.ok(alive(second.pid), 'forceStop() of the exited first tree leaves the second alone');
    } finally {
      await second.forceStop();
    }
  });

  test('the cgroup pool in a supervisor that exits right after a spawn, and CONFINE_CGROUP_POOL=0', async () => {
    dropSpareCgroups(); // ours, from the tests before
    const script = (pool) => `
      const { command } = require(${JSON.stringify(require.resolve('../dist/index.js'))});
      const { taskCgroupPool } = require(${JSON.stringify(require.resolve('../dist/cgroup/index.js'))});
      (async () => {
        for (let i = 0; i < 2; i++) {
          const ex = command('true', [], { executor: 'linux', stdio: 'ignore' }).limit({ maxProcesses: 8 });
          await ex.start();
          await ex.wait();
        }
        await new Promise((r) => setTimeout(r, 50));
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
