// An AbortSignal at every point of a start, on every backend: before start() (nothing runs),
// while start() is pending (start() rejects and whatever started is stopped), and after it (the
// tree is stopped, 'error' carries an AbortError with the reason as its cause). Node's own
// spawn-controller test hung on the second case with its children alive for ever.

import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { command, AbortedError } from '../dist/index.mjs';
import { availableKinds, zombieChildren, alive, until, killPids, isLinux } from './helpers.mjs';

const kinds = await availableKinds();

/** A shell that prints its grandchild's pid, then waits for it: a tree of two. */
const TREE = ['sh', ['-c', 'sleep 300 & echo $!; wait']];

for (const kind of kinds) {
  describe(`abort [${kind}]`, () => {
    const opts = (o = {}) => ({ executor: kind, ...o });
    after(() => assert.deepEqual(zombieChildren(), [], 'no zombie children'));

    test('aborted before start(): start() rejects with AbortError, nothing runs', async () => {
      const ac = new AbortController();
      ac.abort(new Error('early'));
      const ex = command('true', [], opts({ signal: ac.signal }));
      const errors = [];
      ex.on('error', (e) => errors.push(e));
      await assert.rejects(
        ex.start(),
        (e) => e instanceof AbortedError && e.name === 'AbortError' && e.cause.message === 'early',
      );
      assert.equal(ex.pid, undefined);
      assert.equal(errors.length, 1);
      await assert.rejects(ex.wait(), AbortedError);
    });

    // With a limit the pure-JS backend starts through a shell handshake: a longer pending start.
    for (const limits of [{}, { openFiles: 100 }]) {
      test(`aborted while start() is pending${limits.openFiles ? ' (with an rlimit)' : ''}: start() rejects, the tree is stopped`, async () => {
        const ac = new AbortController();
        const ex = command(...TREE, opts({ signal: ac.signal, stdio: ['ignore', 'pipe', 'ignore'] })).limit(limits);
        const p = ex.start();
        ac.abort(new Error('during'));
        try {
          await assert.rejects(p, (e) => e instanceof AbortedError && e.cause.message === 'during');
        } finally {
          if (ex.exitStatus === null && ex.pid !== undefined) await Promise.race([ex.wait(), until(() => false, 10_000)]);
          if (ex.exitStatus === null && ex.pid !== undefined) await ex.forceStop(); // what the bug left running
        }
        const st = await ex.wait();
        assert.equal(st.canceled, true);
        assert.notEqual(st.signal, null, `ended by a signal, not by running to its end: ${JSON.stringify(st)}`);
        if (ex.pid !== undefined) assert.ok(await until(() => !alive(ex.pid), 10_000), 'the leader is gone');
      });
    }

    test('aborted after start(): the whole tree is stopped, error carries an AbortError with the cause', async () => {
      const ac = new AbortController();
      const ex = command(...TREE, opts({ signal: ac.signal, stdio: ['ignore', 'pipe', 'ignore'] }));
      const events = [];
      for (const e of ['spawn', 'error', 'exit', 'close']) ex.on(e, (...a) => events.push([e, ...a]));
      await ex.start();
      ex.stdout.setEncoding('utf8');
      const [line] = await once(ex.stdout, 'data');
      const grandchild = Number(line.trim());
      const reason = new Error('late');
      ac.abort(reason);
      const st = await ex.wait();
      await once(ex, 'close');
      assert.equal(st.canceled, true);
      assert.equal(st.signal, 'SIGTERM');
      assert.deepEqual(
        events.map((e) => e[0]),
        ['spawn', 'error', 'exit', 'close'],
      );
      assert.equal(events[1][1].name, 'AbortError');
      assert.equal(events[1][1].cause, reason);
      const gone = !isLinux || (await until(() => !alive(grandchild), 10_000));
      if (!gone) killPids([grandchild]);
      assert.ok(gone, 'the grandchild was stopped with the tree');
    });

    test('an abort after the exit changes nothing', async () => {
      const ac = new AbortController();
      const ex = command('true', [], opts({ signal: ac.signal }));
      const errors = [];
      ex.on('error', (e) => errors.push(e));
      await ex.start();
      const st = await ex.wait();
      ac.abort();
      assert.equal(st.canceled, false);
      assert.equal(st.exitCode, 0);
      assert.deepEqual(errors, []);
    });
  });
}
