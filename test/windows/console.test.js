'use strict';
// Graceful stop: CTRL_BREAK reaches only processes on the supervisor's console; without one,
// WM_CLOSE goes to the tree's top-level windows. Each call says what it did.
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const h = require('./helpers');

test('ctrlBreak is delivered to a child on our console, or says why not', { skip: h.notWindows }, async (t) => {
  const a = h.addon();
  const out = h.outFile();
  const ready = h.tmpFile('ready');
  const r = h.spawnNode(
    "process.on('SIGBREAK',()=>{process.stdout.write('break');process.exit(42)});require('fs').writeFileSync(process.argv[1],'ready');setInterval(()=>{},1000)",
    [ready],
    {
      stdio: ['ignore', out.stdio, 'ignore'],
    },
  );
  h.cleanup(t, r.job);
  // The child says when its handler is installed.
  assert.ok(await h.waitFor(() => fs.existsSync(ready), 60000), 'the child installed its SIGBREAK handler');
  const res = a.ctrlBreak(r.job);
  const hasConsole = a.probe().features.console;
  if (!hasConsole) {
    assert.deepEqual(res, { delivered: false, reason: 'no-console' });
    const w = a.closeWindows(r.job);
    assert.deepEqual(w, { windows: 0, processes: 0 }, 'a console child has no top-level window of its own');
    t.skip(
      `this supervisor has no console (${h.wine() ? 'Wine with redirected stdio' : 'detached'}): CTRL_BREAK cannot be delivered; reported as ${JSON.stringify(res)}`,
    );
    return;
  }
  assert.equal(res.delivered, true, JSON.stringify(res));
  const exit = await h.watch(r.job);
  out.close();
  assert.equal(exit.exitCode, 42);
  assert.equal(out.read(), 'break');
});
