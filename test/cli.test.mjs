// The confine command, run as a user runs it: exit codes by the shell's convention, timeouts that
// stop the tree, signal forwarding, doctor's report on both the native and the pure-JS path.

import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { once } from 'node:events';
import { performance } from 'node:perf_hooks';
import { alive, until, killPids, isLinux } from './helpers.mjs';

const cli = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
const run = (args, env = {}) =>
  spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 120_000 });

describe('confine run', () => {
  test('exits with the program exit code', () => {
    const r = run(['run', '--', 'sh', '-c', 'exit 7']);
    assert.equal(r.status, 7, r.stderr);
  });

  test('passes stdio through', () => {
    const r = spawnSync(process.execPath, [cli, 'run', '--', 'sh', '-c', 'cat; echo err >&2'], {
      input: 'piped',
      encoding: 'utf8',
    });
    assert.equal(r.stdout, 'piped');
    assert.match(r.stderr, /err/);
    assert.equal(r.status, 0);
  });

  test('--timeout stops the tree and exits 128+signal', () => {
    const t0 = performance.now();
    const r = run(['run', '--timeout', '1s', '--grace', '2s', '--', 'sleep', '300']);
    assert.equal(r.status, 128 + 15, r.stderr);
    // Stopped by the timeout: long before the sleep would have ended by itself.
    assert.ok(performance.now() - t0 < 150_000);
  });

  test('limits, --report and --json', { skip: !isLinux && 'reads /proc limits' }, () => {
    const r = run(['run', '--nofile', '77', '--report', '--json', '--', 'sh', '-c', 'ulimit -n']);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim(), '77');
    const report = JSON.parse(r.stderr.trim().split('\n').pop());
    assert.equal(report.enforced.openFiles.enforced, true);
    assert.equal(report.status.exitCode, 0);
    const text = run(['run', '--nofile', '64', '--report', '--', 'true']);
    assert.match(text.stderr, /openFiles\s+enforced/);
    assert.match(text.stderr, /exit code 0/);
  });

  test('SIGTERM to confine is a graceful shutdown of the tree', async () => {
    const child = spawn(
      process.execPath,
      [cli, 'run', '--grace', '30s', '--', 'sh', '-c', 'trap "exit 5" TERM; echo up; while :; do sleep 0.05; done'],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    await once(child.stdout, 'data');
    child.kill('SIGTERM');
    const [code] = await once(child, 'exit');
    assert.equal(code, 5);
  });

  test('bad usage: exit 2 and a message', () => {
    const r = run(['run', '--memory', 'lots', '--', 'true']);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /--memory: not a size/);
    assert.equal(run(['run']).status, 2);
    assert.equal(run(['frobnicate']).status, 2);
    assert.equal(run(['run', '--bogus', '--', 'true']).status, 2);
  });

  test('typed failures: 127 not found, 125 confine failed', () => {
    const nf = run(['run', '--', 'confine-no-such-program']);
    assert.equal(nf.status, 127);
    assert.match(nf.stderr, /ERR_CONFINE_COMMAND_NOT_FOUND/);
    const user = run(['run', '--user', 'confine-tnosuchuser', '--', 'true']);
    assert.equal(user.status, 125);
    assert.match(user.stderr, /ERR_CONFINE_UNKNOWN_USER/);
  });

  test('the tree dies with confine when confine is killed (killOnParentExit)', { skip: !isLinux && 'reads /proc' }, async (t) => {
    const caps = JSON.parse(run(['doctor', '--json']).stdout);
    if (!caps.detail.killOnParentExit?.enforced)
      return t.skip(`the ${caps.backend} backend cannot enforce killOnParentExit against SIGKILL`);
    const child = spawn(process.execPath, [cli, 'run', '--', 'sh', '-c', 'sleep 300 & echo $!; wait'], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const [data] = await once(child.stdout, 'data');
    const grandchild = Number(String(data).trim());
    child.kill('SIGKILL');
    await once(child, 'exit');
    const gone = await until(() => !alive(grandchild), 30_000);
    if (!gone) killPids([grandchild]);
    assert.ok(gone, 'the grandchild died with the supervisor');
  });
});

describe('confine doctor', () => {
  test('--json, native path', () => {
    const r = run(['doctor', '--json']);
    assert.equal(r.status, 0);
    const caps = JSON.parse(r.stdout);
    assert.ok(['linux', 'posix', 'windows', 'universal'].includes(caps.backend));
    assert.equal(typeof caps.native, 'boolean');
    assert.ok(Array.isArray(caps.missing));
  });

  test('CONFINE_NATIVE=0: the universal backend, and why', () => {
    const r = run(['doctor', '--json'], { CONFINE_NATIVE: '0' });
    const caps = JSON.parse(r.stdout);
    assert.equal(caps.native, false);
    assert.equal(caps.backend, 'universal');
    assert.match(caps.reason, /CONFINE_NATIVE=0/);
    assert.equal(caps.resources.memoryBytes.enforced, false);
  });

  test('text output names the backend and what is missing', () => {
    const r = run(['doctor'], { CONFINE_NATIVE: '0' });
    assert.match(r.stdout, /^backend:\s+universal \(pure JS\)/m);
    assert.match(r.stdout, /missing:/);
  });
});
