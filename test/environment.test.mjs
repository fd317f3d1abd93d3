// The child's environment (lib/environment.ts): the supervisor's is copied from process.env once
// and kept while environ is unchanged. Each test changes process.env between two spawns and
// checks that the second child sees the change at once: a variable added, changed in place (same
// length), removed; HOME/USER/LOGNAME of each runAs user; and in a worker thread, whose
// process.env is its own copy (environ does not change there), the worker's changes.

import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import { command } from '../dist/index.mjs';
import { createUser, isRoot, text } from './helpers.mjs';

const skip = process.platform === 'win32' && 'POSIX shells';
const VAR = `CONFINE_TEST_ENV_${process.pid}`;

/** $VAR (or "unset") as a child started with the supervisor's environment sees it. */
async function childSees(name, runAs) {
  let ex = command('sh', ['-c', `echo "\${${name}-unset}|$HOME|$USER"`], { stdio: ['ignore', 'pipe', 'inherit'], cwd: '/' });
  if (runAs) ex = ex.runAs(runAs);
  await ex.start();
  const out = (await text(ex.stdout)).trim();
  assert.equal((await ex.wait()).exitCode, 0);
  const [value, home, user] = out.split('|');
  return { value, home, user };
}

describe('the child environment', { skip }, () => {
  test('a variable added, changed in place and removed between spawns', async () => {
    try {
      assert.equal((await childSees(VAR)).value, 'unset');
      process.env[VAR] = 'aaaa';
      assert.equal((await childSees(VAR)).value, 'aaaa');
      process.env[VAR] = 'bbbb'; // same length, same key
      assert.equal((await childSees(VAR)).value, 'bbbb');
      delete process.env[VAR];
      assert.equal((await childSees(VAR)).value, 'unset');
    } finally {
      delete process.env[VAR];
    }
  });

  test("each runAs user gets its own HOME and USER, the supervisor's stay", {
    skip: !isRoot && 'needs root to create users',
  }, async () => {
    const a = createUser();
    const b = createUser();
    try {
      const asA = await childSees(VAR, a.name);
      const asB = await childSees(VAR, b.name);
      const again = await childSees(VAR, a.name);
      const own = await childSees(VAR);
      assert.equal(asA.user, a.name);
      assert.equal(asB.user, b.name);
      assert.equal(again.user, a.name);
      assert.equal(own.home, process.env.HOME);
      assert.equal(own.user, process.env.USER ?? '');
      process.env[VAR] = 'seen';
      assert.equal((await childSees(VAR, a.name)).value, 'seen');
    } finally {
      delete process.env[VAR];
      a.remove();
      b.remove();
    }
  });

  test("in a worker thread the worker's own process.env", async () => {
    const src = `
      const { parentPort } = require('node:worker_threads');
      (async () => {
        const { command } = await import(${JSON.stringify(new URL('../dist/index.mjs', import.meta.url).href)});
        const sees = async () => {
          const ex = command('sh', ['-c', 'echo "\${${VAR}-unset}"'], { stdio: ['ignore', 'pipe', 'inherit'], cwd: '/' });
          await ex.start();
          let s = '';
          ex.stdout.setEncoding('utf8');
          for await (const c of ex.stdout) s += c;
          await ex.wait();
          return s.trim();
        };
        const before = await sees();
        process.env[${JSON.stringify(VAR)}] = 'worker';
        parentPort.postMessage([before, await sees()]);
      })().catch((e) => parentPort.postMessage(['error', String(e && e.stack || e)]));
    `;
    const w = new Worker(src, { eval: true });
    const msg = await new Promise((resolve, reject) => {
      w.once('message', resolve);
      w.once('error', reject);
    });
    await new Promise((resolve) => w.once('exit', resolve));
    assert.deepEqual(msg, ['unset', 'worker']);
    assert.equal(process.env[VAR], undefined, "the worker's change stays in the worker");
  });
});
