// openPid() of a pid: refused for init, the supervisor itself and its ancestors (a forceStop() of
// any of them would take the supervisor or the host with it); a bare pid confine did not start
// is attached as that one process, never its descendants found by a /proc walk, and is not
// claimed to be stopped through a cgroup; an attached executor holds the event loop while the
// process lives (as a ChildProcess does), can be unref()'d, and holds nothing once it is gone.

import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { spawn as nodeSpawn, execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { openPid, command, ConfineArgumentError } from '../dist/index.mjs';
import { alive, until, killPids, isLinux } from './helpers.mjs';

const dist = JSON.stringify(new URL('../dist/index.mjs', import.meta.url).href);

/** The pids from ours up to init. */
function ancestors() {
  const out = [];
  let pid = process.ppid;
  while (pid > 1) {
    out.push(pid);
    const stat = execFileSync('cat', [`/proc/${pid}/stat`], { encoding: 'utf8' });
    pid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  }
  return out;
}

describe('openPid() refuses what it must never stop', () => {
  test('pid 1, the supervisor itself and each of its ancestors, by pid and by forged handle', async () => {
    const refused = [1, process.pid, ...(isLinux ? ancestors() : [process.ppid])];
    for (const pid of refused) {
      await assert.rejects(openPid(pid), (e) => e instanceof ConfineArgumentError && /openPid/.test(e.message), `pid ${pid}`);
      const forged = `confine1.${Buffer.from(JSON.stringify({ kind: 'universal', pid, startTime: null })).toString('base64url')}`;
      await assert.rejects(openPid(forged), ConfineArgumentError, `forged handle of pid ${pid}`);
    }
  });
});

describe('openPid() of a bare pid confine did not start', () => {
  test('attaches that process only: forceStop() ends it, not its children; enforced claims no cgroup', async () => {
    const plain = nodeSpawn('sh', ['-c', 'sleep 300 & echo $!; wait'], { stdio: ['ignore', 'pipe', 'ignore'] });
    plain.stdout.setEncoding('utf8');
    const [line] = await once(plain.stdout, 'data');
    const grandchild = Number(line.trim());
    const plainExit = once(plain, 'exit');
    try {
      const ex = await openPid(plain.pid);
      const stop = ex.enforced.treeStop;
      assert.ok(stop, 'treeStop is reported');
      assert.equal(stop.enforced, false);
      assert.doesNotMatch(stop.mechanism, /cgroup/);
      assert.equal(stop.scope, 'process');
      const st = await ex.forceStop();
      assert.equal(st.reattached, true);
      await plainExit;
      assert.ok(alive(grandchild), 'its child was not found by a /proc walk and killed');
    } finally {
      killPids([grandchild]);
      plain.kill('SIGKILL');
    }
  });

  test('a tree confine started, opened by its handle, is still stopped as a whole', async () => {
    const ex = command('sh', ['-c', 'sleep 300 & echo $!; wait'], { stdio: ['ignore', 'pipe', 'ignore'] });
    await ex.start();
    ex.stdout.setEncoding('utf8');
    const [line] = await once(ex.stdout, 'data');
    const grandchild = Number(line.trim());
    const again = await openPid(ex.handle);
    await again.forceStop();
    await ex.wait();
    const gone = await until(() => !alive(grandchild), 10_000);
    if (!gone) killPids([grandchild]);
    assert.ok(gone);
  });
});

describe('an attached executor and the event loop', () => {
  /** Runs a supervisor that attaches to `pid` with `body`; resolves with its exit code. */
  function supervisor(pid, body) {
    const child = nodeSpawn(
      process.execPath,
      ['--input-type=module', '-e', `import { openPid } from ${dist}; const ex = await openPid(${pid}); ${body}`],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let out = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (d) => (out += d));
    return { child, exited: once(child, 'exit').then(([code]) => ({ code, out })) };
  }

  test('unref(): the supervisor exits while the attached process lives', async () => {
    const target = nodeSpawn('sleep', ['300'], { stdio: 'ignore' });
    try {
      const { exited } = supervisor(target.pid, "ex.unref(); console.log('unref');");
      const { code, out } = await exited;
      assert.equal(code, 0);
      assert.equal(out.trim(), 'unref');
      assert.ok(alive(target.pid));
    } finally {
      target.kill('SIGKILL');
    }
  });

  test('held while the process lives, released once it is gone; ref() after unref() holds again', async () => {
    const target = nodeSpawn('sleep', ['300'], { stdio: 'ignore' });
    // 'beforeExit' fires when nothing holds the loop any more: it must not come before the
    // attached process is gone.
    const { child, exited } = supervisor(
      target.pid,
      "process.on('beforeExit', () => console.log('loop empty')); ex.on('exit', () => console.log('gone')); ex.unref(); ex.ref(); console.log('ready');",
    );
    child.stdout.setEncoding('utf8');
    const [first] = await once(child.stdout, 'data');
    assert.equal(first, 'ready\n');
    target.kill('SIGKILL');
    const { code, out } = await exited;
    assert.equal(code, 0);
    assert.deepEqual(out.trim().split('\n'), ['ready', 'gone', 'loop empty'], 'held until the process was gone, then released');
  });
});
