// spawn(): child_process.spawn's contract on every backend this machine has. It returns a started
// Executor at once (pid, stdio set), emits 'spawn' on the next tick, reports spawn failures as
// an 'error' event shaped as child_process's, throws argument errors with Node's codes, accepts
// what child_process accepts, and takes confine's own options in the same object.

import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn as nodeSpawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, chmodSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { getSystemErrorName } from 'node:util';
import { spawn, command, Executor, ConfineArgumentError, cleanupOrphans } from '../dist/index.mjs';
import {
  availableKinds,
  createUser,
  zombieChildren,
  alive,
  until,
  text,
  killPids,
  isLinux,
  isRoot,
  leftoverTestCgroups,
  testCgroupParent,
} from './helpers.mjs';

const kinds = await availableKinds();
const dir = mkdtempSync(join(tmpdir(), 'confine-test-spawn-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Every event of `child` with its arguments, in order, until 'close'. */
function record(child) {
  const events = [];
  for (const e of ['spawn', 'error', 'exit', 'close']) child.on(e, (...a) => events.push([e, ...a]));
  // Not events.once(): it rejects on 'error', which these cases expect.
  const closed = new Promise((resolve) => child.once('close', resolve));
  return { events, closed };
}

/** The fd's status flags as the kernel reports them in /proc/<pid>/fdinfo (octal). */
function fdFlags(fdinfo) {
  return Number.parseInt(/^flags:\s+([0-7]+)$/m.exec(fdinfo)[1], 8);
}

for (const kind of kinds) {
  describe(`spawn() [${kind}]`, () => {
    const opts = (o = {}) => ({ executor: kind, ...o });
    after(() => assert.deepEqual(zombieChildren(), [], 'no zombie children'));

    test('returns a started Executor at once: pid, stdio, spawnfile, spawnargs; spawn on the next tick', async () => {
      const child = spawn('sh', ['-c', 'read line; echo "got $line"; exit 3'], opts());
      assert.ok(child instanceof Executor);
      assert.equal(typeof child.pid, 'number');
      assert.ok(child.pid > 0);
      assert.ok(child.stdin && child.stdout && child.stderr);
      assert.deepEqual(child.stdio.slice(0, 3), [child.stdin, child.stdout, child.stderr]);
      assert.equal(child.spawnfile, 'sh');
      assert.deepEqual(child.spawnargs, ['sh', '-c', 'read line; echo "got $line"; exit 3']);
      assert.equal(child.killed, false);
      assert.equal(child.exitCode, null);
      assert.equal(child.signalCode, null);
      assert.equal(child.connected, false);
      // A listener attached after the call still sees 'spawn': it comes on a later tick.
      const { events, closed } = record(child);
      child.stdin.end('hello\n');
      const out = await text(child.stdout);
      await closed;
      assert.equal(out, 'got hello\n');
      assert.deepEqual(events, [['spawn'], ['exit', 3, null], ['close', 3, null]]);
      assert.equal(child.exitCode, 3);
      assert.equal(child.signalCode, null);
      assert.equal((await child.wait()).exitCode, 3, 'wait() works on it too');
    });

    test('kill() right after spawn(), before the spawn event, stops it', async () => {
      const child = spawn('sleep', ['30'], opts({ stdio: 'ignore' }));
      const { events, closed } = record(child);
      assert.equal(child.kill(), true);
      assert.equal(child.killed, true);
      await closed;
      assert.deepEqual(events, [['spawn'], ['exit', null, 'SIGTERM'], ['close', null, 'SIGTERM']]);
      assert.equal(child.signalCode, 'SIGTERM');
    });

    test('spawn(file, options) without args; args coerced to strings as child_process does', async () => {
      const a = spawn('pwd', opts({ cwd: dir }));
      assert.equal((await text(a.stdout)).trim(), dir);
      const b = spawn('echo', ['a', 23, true, null], opts());
      assert.equal(await text(b.stdout), 'a 23 true null\n');
      assert.deepEqual(b.spawnargs, ['echo', 'a', '23', 'true', 'null']);
      await Promise.all([a.wait(), b.wait()]);
    });

    test("cwd '' and null, timeout 0 and shell false are child_process's defaults", async () => {
      for (const o of [{ cwd: '' }, { cwd: null }, { timeout: 0 }, { shell: false }, { cwd: undefined, timeout: undefined }]) {
        const child = spawn('sh', ['-c', 'pwd; echo "$0"'], opts(o));
        assert.equal(await text(child.stdout), `${process.cwd()}\nsh\n`, JSON.stringify(o));
        const st = await child.wait();
        assert.equal(st.exitCode, 0);
        assert.equal(st.timedOut, false);
      }
    });

    test('shell: true runs /bin/sh -c with file and args joined; a string names the shell', async () => {
      const a = spawn(
        'echo "$0" $((6 * 7))',
        ['and', '$HOME'],
        opts({ shell: true, env: { HOME: '/h', PATH: process.env.PATH } }),
      );
      assert.equal(await text(a.stdout), '/bin/sh 42 and /h\n');
      assert.equal(a.spawnfile, '/bin/sh');
      assert.deepEqual(a.spawnargs, ['/bin/sh', '-c', 'echo "$0" $((6 * 7)) and $HOME']);
      const b = spawn('echo $0', opts({ shell: '/bin/bash' }));
      assert.equal(await text(b.stdout), '/bin/bash\n');
      await Promise.all([a.wait(), b.wait()]);
    });

    test('env: keys inherited through the env object own prototype chain are passed; null becomes "null"', async () => {
      const env = Object.assign(Object.create({ FROM_PROTO: 'yes' }), { PATH: process.env.PATH, NUL: null, UNDEF: undefined });
      const child = spawn('env', opts({ env }));
      const lines = (await text(child.stdout)).split('\n');
      assert.ok(lines.includes('FROM_PROTO=yes'));
      assert.ok(lines.includes('NUL=null'));
      assert.ok(!lines.some((l) => l.startsWith('UNDEF=')));
      await child.wait();
    });

    test('a missing program: error event shaped as child_process (ENOENT, spawn <file>, path, spawnargs), then close', async () => {
      const child = spawn('confine-no-such-program', ['x', 'y'], opts());
      assert.equal(child.pid, undefined);
      assert.ok(child.stdout && child.stdin && child.stderr, 'stdio is set up as child_process does for ENOENT');
      const { events, closed } = record(child);
      await closed;
      assert.deepEqual(
        events.map((e) => e[0]),
        ['error', 'close'],
      );
      const err = events[0][1];
      assert.equal(err.code, 'ENOENT');
      assert.equal(getSystemErrorName(err.errno), 'ENOENT');
      assert.equal(err.syscall, 'spawn confine-no-such-program');
      assert.equal(err.path, 'confine-no-such-program');
      assert.deepEqual(err.spawnargs, ['x', 'y']);
      assert.match(err.message, /^spawn confine-no-such-program ENOENT/);
      assert.ok(err.cause?.code?.startsWith('ERR_CONFINE_'), 'the typed confine error is the cause');
      assert.deepEqual(events[1], ['close', -2, null]);
      await assert.rejects(child.wait(), (e) => e === err);
    });

    test('a missing cwd is ENOENT of spawn <file>; a non-executable file is EACCES with spawnargs', async () => {
      const a = spawn('pwd', [], opts({ cwd: join(dir, 'missing') }));
      const [e1] = await once(a, 'error');
      assert.equal(e1.code, 'ENOENT');
      assert.equal(e1.syscall, 'spawn pwd');
      assert.equal(e1.path, 'pwd');
      const file = join(dir, `not-executable-${kind}`);
      writeFileSync(file, '#!/bin/sh\necho no\n');
      chmodSync(file, 0o644);
      const b = spawn(file, ['arg'], opts());
      const [e2] = await once(b, 'error');
      assert.equal(e2.code, 'EACCES');
      assert.equal(e2.syscall, `spawn ${file}`);
      assert.deepEqual(e2.spawnargs, ['arg']);
      await Promise.all([once(a, 'close'), once(b, 'close')]);
    });

    test('an error event without a listener is an uncaught exception, as with child_process', async () => {
      const out = execFileSync(
        process.execPath,
        [
          '--input-type=module',
          '-e',
          `import { spawn } from ${JSON.stringify(new URL('../dist/index.mjs', import.meta.url).href)};
           process.on('uncaughtException', (e) => { console.log('uncaught', e.code); process.exit(0); });
           spawn('confine-no-such-program', { executor: ${JSON.stringify(kind)} });`,
        ],
        { encoding: 'utf8' },
      );
      assert.equal(out.trim(), 'uncaught ENOENT');
    });

    test("argument errors are thrown at once with Node's codes, classes and messages", () => {
      // Each case against child_process.spawn itself: the same code, class and message.
      const sameAsNode = (...a) => {
        let expected;
        assert.throws(
          () => nodeSpawn(...a),
          (e) => {
            expected = e;
            return true;
          },
        );
        assert.throws(
          () => spawn(...a),
          (e) => {
            assert.deepEqual(
              { code: e.code, name: e.name, message: e.message },
              { code: expected.code, name: expected.name, message: expected.message },
            );
            assert.match(String(e), new RegExp(`^${e.name} \\[${e.code}\\]: `));
            return true;
          },
        );
      };
      sameAsNode(42);
      sameAsNode('');
      sameAsNode('tr\0ue');
      sameAsNode('true', ['a\0b']);
      sameAsNode('true', 'str');
      sameAsNode('true', [], 'str');
      sameAsNode('true', [], { timeout: -1 });
      sameAsNode('true', [], { timeout: 1.5 });
      sameAsNode('true', [], { cwd: 42 });
      sameAsNode('true', [], { cwd: 'a\0b' });
      sameAsNode('true', [], { shell: 42 });
      sameAsNode('true', [], { shell: 'a\0b' });
      sameAsNode('true', [], { detached: 'yes' });
      sameAsNode('true', [], { windowsHide: 1 });
      sameAsNode('true', [], { argv0: 42 });
      sameAsNode('true', [], { env: { A: 'x\0y' } });
      sameAsNode('true', [], { env: { 'A\0': 'y' } });
      sameAsNode('true', [], { signal: {} });
      sameAsNode('true', [], { stdio: 'bogus' });
      sameAsNode('true', [], { stdio: [{}] });
      sameAsNode('true', [], { serialization: 'xml' });
      sameAsNode('true', [], { serialization: null });
      sameAsNode('true', [], { killSignal: 'SIGNOPE' });
      sameAsNode('true', [], { killSignal: {} });
      sameAsNode('true', [], { uid: 1.5 });
      sameAsNode('true', [], { gid: 'x' });
      // confine's own options keep confine's typed errors.
      assert.throws(() => spawn('true', [], { limits: { memoryBytes: -1 } }), ConfineArgumentError);
      assert.throws(() => spawn('true', [], { executor: 'nope' }), ConfineArgumentError);
      assert.deepEqual(zombieChildren(), []);
    });

    test("'ipc' in stdio is refused with the alternative named", () => {
      assert.throws(
        () => spawn('true', [], opts({ stdio: ['pipe', 'pipe', 'pipe', 'ipc'] })),
        (e) => e instanceof ConfineArgumentError && /ipc/.test(e.message) && /stdio\[3\]|pipe/.test(e.message),
      );
    });

    test('abort before the call: spawn, error (AbortError), exit and close with SIGTERM, as child_process', async () => {
      const ac = new AbortController();
      ac.abort();
      const child = spawn('sleep', ['30'], opts({ signal: ac.signal, stdio: 'ignore' }));
      const { events, closed } = record(child);
      await closed;
      assert.deepEqual(
        events.map((e) => e[0]),
        ['spawn', 'error', 'exit', 'close'],
      );
      assert.equal(events[1][1].name, 'AbortError');
      assert.equal(events[1][1].code, 'ABORT_ERR');
      assert.deepEqual(events[2], ['exit', null, 'SIGTERM']);
      assert.deepEqual(events[3], ['close', null, 'SIGTERM']);
    });

    test('abort after the start: error (AbortError with cause) then exit with killSignal; the tree is stopped', async () => {
      const ac = new AbortController();
      const child = spawn('sh', ['-c', 'sleep 30 & echo $!; wait'], opts({ signal: ac.signal, killSignal: 'SIGINT' }));
      const { events, closed } = record(child);
      child.stdout.setEncoding('utf8');
      const [line] = await once(child.stdout, 'data');
      const grandchild = Number(line.trim());
      const reason = new Error('boom');
      ac.abort(reason);
      await closed;
      assert.deepEqual(
        events.map((e) => e[0]),
        ['spawn', 'error', 'exit', 'close'],
      );
      assert.equal(events[1][1].name, 'AbortError');
      assert.equal(events[1][1].cause, reason);
      assert.equal(events[2][2], 'SIGINT');
      const st = await child.wait();
      assert.equal(st.canceled, true);
      const gone = await until(() => !alive(grandchild), 10_000);
      if (!gone) killPids([grandchild]);
      assert.ok(gone, 'the whole tree was stopped');
    });

    test('Symbol.dispose kills a live child; ref() and unref() exist', async () => {
      const child = spawn('sleep', ['30'], opts({ stdio: 'ignore' }));
      child.unref();
      child.ref();
      child[Symbol.dispose]();
      assert.equal(child.killed, true);
      const [, signal] = await once(child, 'exit');
      assert.equal(signal, 'SIGTERM');
    });

    test('unref(): the supervisor exits while the child lives on', async () => {
      const out = execFileSync(
        process.execPath,
        [
          '--input-type=module',
          '-e',
          `import { spawn } from ${JSON.stringify(new URL('../dist/index.mjs', import.meta.url).href)};
           const c = spawn('sleep', ['1000'], { stdio: 'ignore', executor: ${JSON.stringify(kind)} });
           c.unref();
           console.log(c.pid);`,
        ],
        { encoding: 'utf8', timeout: 60_000 },
      );
      const pid = Number(out.trim());
      assert.ok(alive(pid), 'the child outlived its supervisor');
      killPids([pid]);
      await until(() => !alive(pid));
      // Its supervisor is gone: the tree's cgroup (linux) is an orphan now, emptied by the kill.
      if (isLinux && isRoot) {
        // The killed process may still be listed a moment: a listed orphan is left, so try again.
        for (let i = 0; i < 300 && leftoverTestCgroups().length > 0; i++) {
          assert.deepEqual((await cleanupOrphans({ under: testCgroupParent })).errors, []);
          if (leftoverTestCgroups().length > 0) await new Promise((r) => setTimeout(r, 100));
        }
        assert.deepEqual(leftoverTestCgroups(), [], 'no task cgroup of the gone supervisor left');
      }
    });

    test("confine's own options in the same object: limits, runAs, strict, graceMs", async () => {
      const child = spawn('sh', ['-c', 'ulimit -n'], opts({ limits: { openFiles: 64 }, graceMs: 100 }));
      assert.equal(child.enforced.openFiles?.enforced, kind !== 'windows');
      assert.equal((await text(child.stdout)).trim(), '64');
      await child.wait();
    });

    test('uid and gid become runAs', { skip: !isRoot && 'needs root to create a user' }, async () => {
      const user = createUser();
      try {
        const child = spawn('id', ['-u'], opts({ uid: user.uid, gid: user.gid }));
        assert.equal((await text(child.stdout)).trim(), String(user.uid));
        await child.wait();
        const g = spawn('id', ['-g'], opts({ uid: user.uid, gid: user.gid }));
        assert.equal((await text(g.stdout)).trim(), String(user.gid));
        await g.wait();
      } finally {
        user.remove();
      }
    });

    test("a stream given as a child's stdin reaches it blocking, as libuv does (not O_NONBLOCK)", {
      skip: !isLinux,
    }, async () => {
      for (const start of ['spawn', 'command']) {
        const p1 = spawn('sh', ['-c', 'read x; echo "$x"'], opts({ stdio: ['pipe', 'pipe', 'inherit'] }));
        const o = opts({ stdio: [p1.stdout, 'pipe', 'inherit'] });
        let p2;
        if (start === 'spawn') p2 = spawn('cat', ['/proc/self/fdinfo/0'], o);
        else p2 = await command('cat', ['/proc/self/fdinfo/0'], o).start();
        const info = await text(p2.stdout);
        assert.equal(fdFlags(info) & 0o4000, 0, `${start}: fd 0 has O_NONBLOCK: ${info}`);
        p1.stdin.end('x\n');
        await Promise.all([p1.wait(), p2.wait()]);
      }
      // The other end of the story: head(1) reads a pipe that another child writes later.
      const p1 = spawn('sh', ['-c', 'read x; echo "$x"; echo more'], opts({ stdio: ['pipe', 'pipe', 'inherit'] }));
      const head = spawn('head', ['-n1'], opts({ stdio: [p1.stdout, 'pipe', 'pipe'] }));
      const [out, err] = [text(head.stdout), text(head.stderr)];
      p1.stdin.end('first\n');
      assert.equal(await out, 'first\n');
      assert.equal(await err, '');
      await Promise.all([p1.wait(), head.wait()]);
    });

    test('exitCode and signalCode follow the exit; kill() after it returns false', async () => {
      const child = spawn('sh', ['-c', 'kill -USR1 $$'], opts({ stdio: 'ignore' }));
      await once(child, 'exit');
      assert.equal(child.exitCode, null);
      assert.equal(child.signalCode, 'SIGUSR1');
      assert.equal(child.kill(), false);
      assert.equal(child.killed, false);
    });
  });
}

describe('spawn() and command() + start() share the path', () => {
  test('a spawn() of a program that prints its own cgroup is born into a confine cgroup', { skip: !isLinux }, async () => {
    if (!kinds.includes('linux')) return;
    const child = spawn('cat', ['/proc/self/cgroup'], { executor: 'linux' });
    const out = await text(child.stdout);
    await child.wait();
    assert.match(out, /confine/);
    assert.notEqual(out, readFileSync('/proc/self/cgroup', 'utf8'));
  });
});
