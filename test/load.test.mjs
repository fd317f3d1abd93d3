// Load: 1,000 confined children alive at once (each sleeping), on the linux backend with a cgroup
// each and on universal; all reaped, all cgroups removed, the supervisor's fds back to their
// start. Prints the time to start and to stop them all (figures, not assertions: the machine is
// shared). Each live native child holds a pidfd in the supervisor: the test checks
// RLIMIT_NOFILE first.
//
//   CONFINE_LOAD_CHILDREN      children alive at once (default 1000)
//   CONFINE_LOAD_CONCURRENCY   starts and stops in flight (default 64)

import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { command } from '../dist/index.mjs';
import {
  availableKinds,
  zombieChildren,
  openFds,
  leftoverTestCgroups,
  alive,
  until,
  killPids,
  isLinux,
  isRoot,
} from './helpers.mjs';

const N = Number(process.env.CONFINE_LOAD_CHILDREN ?? 1000);
const CONCURRENCY = Number(process.env.CONFINE_LOAD_CONCURRENCY ?? 64);
const kinds = (await availableKinds()).filter((k) => k === 'linux' || k === 'universal');

function nofileSoft() {
  if (!isLinux) return Infinity;
  const m = /^Max open files\s+(\d+|unlimited)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
  return !m || m[1] === 'unlimited' ? Infinity : Number(m[1]);
}

async function pool(items, fn) {
  let next = 0;
  const out = new Array(items.length);
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i], i);
      }
    }),
  );
  return out;
}

const figures = [];
after(() => {
  for (const f of figures) console.log(f);
});

describe('load', { timeout: 20 * 60_000 }, () => {
  for (const kind of kinds) {
    const needFds = N * 3 + 200; // pidfd, plus pipes and cgroup fds while starting
    const skip =
      kind === 'linux' && !isRoot
        ? 'needs root for cgroups'
        : nofileSoft() < needFds
          ? `RLIMIT_NOFILE ${nofileSoft()} < ${needFds}`
          : false;

    test(`${N} confined children alive at once [${kind}]${kind === 'linux' ? ', a cgroup each' : ''}: started, all reaped, nothing left`, {
      skip,
    }, async () => {
      const fds0 = openFds();
      const cg0 = leftoverTestCgroups().length;
      const execs = Array.from({ length: N }, () => {
        const ex = command('sleep', ['600'], { executor: kind, stdio: 'ignore', cwd: '/' });
        // A limit that needs the cgroup: every tree is born into one of its own.
        if (kind === 'linux') ex.limit({ maxProcesses: 4, memoryBytes: 32 * 2 ** 20 });
        return ex;
      });
      let pids = [];
      try {
        const t0 = Date.now();
        await pool(execs, (ex) => ex.start());
        const startMs = Date.now() - t0;
        pids = execs.map((e) => e.pid);
        assert.equal(new Set(pids).size, N, 'N distinct children');
        assert.ok(pids.every(alive), 'all alive at once');
        const liveFds = openFds();
        const liveCgroups = leftoverTestCgroups().length - cg0;
        if (kind === 'linux') assert.ok(liveCgroups >= N, `a cgroup each (${liveCgroups} cgroup directories across hierarchies)`);

        const t1 = Date.now();
        const statuses = await pool(execs, (ex) => ex.forceStop());
        const stopMs = Date.now() - t1;
        assert.ok(
          statuses.every((s) => s.signal === 'SIGKILL'),
          'every child killed',
        );
        assert.ok(await until(() => pids.every((p) => !alive(p)), 60_000), 'no survivor');
        assert.ok(await until(() => zombieChildren().length === 0, 60_000), 'all reaped');
        assert.ok(
          await until(() => leftoverTestCgroups().length === cg0, 60_000),
          `all cgroups removed (${leftoverTestCgroups().length - cg0} left)`,
        );
        assert.ok(await until(() => openFds() <= fds0, 60_000), `fds back to their start (${fds0} -> ${openFds()})`);
        const line =
          `load [${kind}]: ${N} children: start ${(startMs / 1000).toFixed(2)} s (${(startMs / N).toFixed(2)} ms each, ${CONCURRENCY} in flight), ` +
          `stop ${(stopMs / 1000).toFixed(2)} s; while alive: ${liveFds - fds0} supervisor fds, ${liveCgroups} cgroup dirs; after: fds ${fds0} -> ${openFds()}, cgroups ${leftoverTestCgroups().length - cg0}`;
        figures.push(line);
        console.log(line);
      } finally {
        // A failing run must not leave 1,000 sleepers behind.
        const live = execs.filter((e) => e.pid && alive(e.pid));
        await Promise.all(live.map((e) => e.forceStop().catch(() => {})));
        killPids(execs.map((e) => e.pid).filter((p) => p && alive(p)));
      }
    });
  }
});
