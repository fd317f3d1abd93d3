// Calls at the wrong time, on every backend: every method that returns a promise reports a state
// error as a rejection (a .catch() sees it), forceStop() during a pending start() stops what
// starts, a second start() says so, a backend that cannot run here is BackendUnavailableError
// naming it, and update() after the exit claims no enforcement.

import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { command, ConfineStateError, BackendUnavailableError } from '../dist/index.mjs';
import { availableKinds, zombieChildren, alive, until } from './helpers.mjs';

const kinds = await availableKinds();
const cli = fileURLToPath(new URL('../dist/cli.js', import.meta.url));

for (const kind of kinds) {
  describe(`state errors [${kind}]`, () => {
    const opts = (o = {}) => ({ executor: kind, ...o });
    after(() => assert.deepEqual(zombieChildren(), [], 'no zombie children'));

    test('before start(): shutdown, forceStop, wait, stats, update reject; none throws', async () => {
      const ex = command('true', [], opts());
      for (const call of [
        () => ex.shutdown(),
        () => ex.forceStop(),
        () => ex.wait(),
        () => ex.stats(),
        () => ex.update({ cpu: 1 }),
      ]) {
        let p;
        assert.doesNotThrow(() => {
          p = call();
        });
        await assert.rejects(p, (e) => e instanceof ConfineStateError && /before start\(\)/.test(e.message));
      }
    });

    test('after a failed start: the same calls reject, saying the start failed', async () => {
      const ex = command('/nonexistent/program', [], opts());
      await assert.rejects(ex.start());
      for (const call of [() => ex.shutdown(), () => ex.forceStop(), () => ex.stats(), () => ex.update({ cpu: 1 })]) {
        await assert.rejects(call(), (e) => e instanceof ConfineStateError && /failed to start/.test(e.message));
      }
    });

    test('forceStop() while start() is pending stops what starts', async () => {
      // With an rlimit the pure-JS backend starts through a shell handshake: a longer pending start.
      const ex = command('sleep', ['300'], opts({ stdio: 'ignore' })).limit({ openFiles: 100 });
      const started = ex.start();
      const stopped = ex.forceStop();
      await started.catch(() => {});
      const st = await stopped;
      assert.equal(st.stopped, true);
      assert.equal(st.signal, 'SIGKILL');
      if (ex.pid !== undefined) assert.ok(await until(() => !alive(ex.pid)), 'nothing runs on');
    });

    test('shutdown() while start() is pending stops what starts', async () => {
      const ex = command('sleep', ['300'], opts({ stdio: 'ignore' }));
      const started = ex.start();
      const stopped = ex.shutdown({ graceMs: 100 });
      await started.catch(() => {});
      const st = await stopped;
      assert.equal(st.stopped, true);
      assert.notEqual(st.signal, null);
    });

    test('start() twice: the second rejects, saying it was already started', async () => {
      const ex = command('true', [], opts());
      const first = ex.start();
      await assert.rejects(
        ex.start(),
        (e) => e instanceof ConfineStateError && /already/.test(e.message) && !/before start/.test(e.message),
      );
      await first;
      await assert.rejects(ex.start(), (e) => e instanceof ConfineStateError && /already/.test(e.message));
      await ex.wait();
    });

    test('update() after the exit claims no enforcement', async () => {
      const ex = command('true', [], opts());
      await ex.start();
      await ex.wait();
      const result = await ex.update({ memoryBytes: 64 * 2 ** 20, cpu: 1 });
      for (const k of ['memoryBytes', 'cpu']) {
        assert.equal(result[k].enforced, false, `${k}: ${JSON.stringify(result[k])}`);
        assert.match(result[k].note, /exited/);
      }
    });
  });
}

describe('a backend that cannot run here', () => {
  const other = process.platform === 'win32' ? 'linux' : 'windows';
  test(`executor '${other}': start() rejects with BackendUnavailableError naming it`, async () => {
    await assert.rejects(command('true', [], { executor: other }).start(), (e) => {
      assert.ok(e instanceof BackendUnavailableError, `${e.name}: ${e.message}`);
      assert.equal(e.code, 'ERR_CONFINE_BACKEND_UNAVAILABLE');
      assert.match(e.message, new RegExp(`the ${other} backend`));
      return true;
    });
  });
  test(`confine run --executor ${other} says the same`, () => {
    const r = spawnSync(process.execPath, [cli, 'run', '--executor', other, '--', 'true'], { encoding: 'utf8' });
    assert.equal(r.status, 125);
    assert.match(r.stderr, new RegExp(`the ${other} backend is not available.*ERR_CONFINE_BACKEND_UNAVAILABLE`));
  });
});
