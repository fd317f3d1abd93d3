// Options are read from own properties only. A supervisor whose Object.prototype was polluted
// (fixtures/compat/pollute.cjs: cwd, timeout, env, argv0, shell, uid, gid, groups, limits, ...)
// must run its children exactly as asked: Node 20 ignores inherited options
// (test-child-process-prototype-tampering), and for a tool that runs as root an inherited gid 0
// or cgroup path is a privilege problem. Each case runs in a supervisor process of its own, so
// the pollution never reaches this test runner.

import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { availableKinds, isRoot, isLinux } from './helpers.mjs';

const kinds = await availableKinds();
const fixtures = fileURLToPath(new URL('./fixtures/compat/', import.meta.url));
const cli = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
const cwd = mkdtempSync(join(tmpdir(), 'confine-test-inherited-'));
chmodSync(cwd, 0o755); // the runAs case runs there as nobody
after(() => rmSync(cwd, { recursive: true, force: true }));

/** Runs the polluted supervisor on `scenario`; returns its JSON line. */
function polluted(scenario, kind) {
  const out = execFileSync(
    process.execPath,
    ['--require', join(fixtures, 'pollute.cjs'), join(fixtures, 'polluted.mjs'), scenario, kind],
    {
      cwd,
      encoding: 'utf8',
      timeout: 60_000,
    },
  );
  return JSON.parse(out.trim().split('\n').pop());
}

/** What the child printed for `pwd; echo "$0|${POLLUTED-unset}"; id -G; ulimit -n`. */
function assertUnpolluted(r, { kind } = {}) {
  const [pwd, argv, groups, nofile] = r.out.trim().split('\n');
  assert.equal(pwd, cwd, 'cwd comes from the supervisor, not Object.prototype.cwd');
  // $0 is the file as given, or its path where the pure-JS backend execs through its rlimit shell.
  assert.match(argv, /^(sh|\/usr\/bin\/sh|\/bin\/sh)\|unset$/, 'no inherited argv0, env or env key');
  assert.notEqual(nofile, '3', 'no inherited openFiles');
  assert.equal(r.exitCode, 0, `no inherited timeout or killSignal: ${JSON.stringify(r)}`);
  assert.equal(r.timedOut, false);
  if (kind) assert.equal(r.kind, kind, 'no inherited executor');
  assert.ok(!r.enforced.includes('memoryBytes') && !r.enforced.includes('maxProcesses'), 'no inherited limits');
  return groups;
}

for (const kind of kinds) {
  describe(`inherited options are ignored [${kind}]`, () => {
    test('command() + start()', () => {
      assertUnpolluted(polluted('command', kind), { kind });
    });
    test('spawn()', () => {
      assertUnpolluted(polluted('spawn', kind), { kind });
    });
    test('limit() and runAs({ user })', { skip: !isRoot && 'runAs needs root' }, () => {
      const r = polluted('limit-runAs', kind);
      const groups = assertUnpolluted(r, { kind });
      assert.deepEqual(r.resources.sort(), ['cpuSeconds', 'cpuWeight']);
      // The cgroup files hold no inherited cpu, memory or process limit.
      const f = r.files;
      if (f['cpu.max'] !== undefined) assert.match(f['cpu.max'], /^max /);
      if (f['cpu.cfs_quota_us'] !== undefined) assert.equal(f['cpu.cfs_quota_us'], '-1');
      if (f['memory.max'] !== undefined) assert.equal(f['memory.max'], 'max');
      if (f['pids.max'] !== undefined) assert.equal(f['pids.max'], 'max');
      if (kind === 'linux')
        assert.ok(f['cpu.max'] !== undefined || f['cpu.cfs_quota_us'] !== undefined, 'the cpu controller was read');
      const nobody = execFileSync('id', ['-G', 'nobody'], { encoding: 'utf8' }).trim();
      assert.equal(groups, nobody, "nobody's own groups, not an inherited gid 0 or groups [0]");
    });
    test('openPid(pid) does not take an inherited cgroup: a forceStop() of it leaves a bystander tree alone', {
      skip: !isLinux,
    }, () => {
      assert.deepEqual(polluted('openPid', kind), { bystanderAlive: true });
    });
  });
}

test('command() without options: the default backend, not an inherited executor', () => {
  const r = polluted('command-no-options', kinds[0]);
  assertUnpolluted(r, { kind: kinds[0] });
});

test('the CLI: confine run with a polluted Object.prototype runs the program as asked', () => {
  const r = spawnSync(
    process.execPath,
    [
      '--require',
      join(fixtures, 'pollute.cjs'),
      cli,
      'run',
      '--',
      'sh',
      '-c',
      'pwd; echo "$0|${POLLUTED-unset}"; ulimit -n; sleep 0.3',
    ],
    { cwd, encoding: 'utf8', timeout: 60_000 },
  );
  assert.equal(r.status, 0, r.stderr);
  const [pwd, argv, nofile] = r.stdout.trim().split('\n');
  assert.equal(pwd, cwd);
  assert.equal(argv, 'sh|unset');
  assert.notEqual(nofile, '3');
});
