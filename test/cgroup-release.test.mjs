// A tree's cgroup goes when the tree is gone, not when its stdio closes: a supervisor that exits
// between a child's 'exit' and its 'close' (process.exit() in an 'exit' handler, an assertion
// that throws in a stdout 'end' handler, an exit right after wait()) leaves no task cgroup
// behind. Node's own tests left one v2 directory per child this way.

import { test, describe, afterEach } from 'node:test';
import { rmdirSync } from 'node:fs';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { availableKinds, isLinux, isRoot, leftoverTestCgroups, alive, until } from './helpers.mjs';

const kinds = await availableKinds();
const fixture = fileURLToPath(new URL('./fixtures/compat/exit-early.mjs', import.meta.url));
const skip = !(isLinux && isRoot && kinds.includes('linux')) && 'needs root and the linux backend (task cgroups)';

describe('no task cgroup is left when the supervisor exits after the exit', { skip }, () => {
  // What a failing case left (empty: its child is gone), so the next case starts clean.
  afterEach(() => {
    for (const d of leftoverTestCgroups({ drain: false })) rmdirSync(d);
  });
  for (const how of ['exit-handler', 'after-wait', 'throw-in-end', 'spawn-exit-handler', 'grandchild-killed-by-exit-handler']) {
    test(how, async () => {
      assert.deepEqual(leftoverTestCgroups(), [], 'clean before');
      const r = spawnSync(process.execPath, [fixture, how, 'linux'], { encoding: 'utf8', timeout: 60_000 });
      const pid = Number(r.stdout.trim().split('\n')[0]);
      assert.ok(pid > 0, `the supervisor started its child: ${r.stdout} ${r.stderr}`);
      assert.equal(r.status, how === 'throw-in-end' ? 1 : 0, r.stderr);
      assert.ok(await until(() => !alive(pid)), 'the child is gone');
      // The supervisor has exited: whatever cgroup it left is there for good.
      assert.deepEqual(leftoverTestCgroups({ drain: false }), []);
    });
  }
});
