// The package as consumers load it: ESM import and CommonJS require give the same API (one
// instance: errors from one are instanceof the other's classes), and the loader falls back to
// the pure-JS backend with its reason when the addon cannot load.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import * as esm from 'confine';
import './helpers.mjs'; // every cgroup under this run's own parent (CONFINE_CGROUP_PARENT)

const require = createRequire(import.meta.url);
const root = fileURLToPath(new URL('..', import.meta.url));

test('import and require return the same API', () => {
  const cjs = require('confine');
  for (const name of [
    'command',
    'openPid',
    'capabilities',
    'autoselectExecutor',
    'Executor',
    'ConfineError',
    'SpawnError',
    'UnenforcedError',
    'StaleHandleError',
  ]) {
    assert.equal(typeof esm[name], 'function', `ESM exports ${name}`);
    assert.strictEqual(esm[name], cjs[name], `${name} is the same object from import and require`);
  }
  assert.strictEqual(esm.default.command, cjs.command);
});

test('the loader: native by default where it builds, pure JS with CONFINE_NATIVE=0', () => {
  const probe = (env) =>
    JSON.parse(
      spawnSync(
        process.execPath,
        [
          '-e',
          'const c=require("confine").capabilities();console.log(JSON.stringify({native:c.native,backend:c.backend,reason:c.reason}))',
        ],
        {
          cwd: root,
          env: { ...process.env, ...env },
          encoding: 'utf8',
        },
      ).stdout,
    );
  const forced = probe({ CONFINE_NATIVE: '0' });
  assert.deepEqual(forced, { native: false, backend: 'universal', reason: 'CONFINE_NATIVE=0 forces the pure-JS backend' });
  const dflt = probe({ CONFINE_NATIVE: '' });
  if (process.platform === 'linux') assert.equal(dflt.native, true, `the addon builds on this machine (reason: ${dflt.reason})`);
});

test('a broken addon: the loader falls back to pure JS and records why', () => {
  // A copy of the built package whose addon is not a shared object.
  const script = `
    const fs = require('fs'), path = require('path'), os = require('os');
    const root = process.argv[1];
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'confine-test-'));
    try {
      fs.cpSync(path.join(root, 'dist'), path.join(dir, 'dist'), { recursive: true });
      fs.copyFileSync(path.join(root, 'package.json'), path.join(dir, 'package.json'));
      fs.symlinkSync(path.join(root, 'node_modules'), path.join(dir, 'node_modules'));
      fs.mkdirSync(path.join(dir, 'build', 'Release'), { recursive: true });
      fs.writeFileSync(path.join(dir, 'build', 'Release', 'confine.node'), 'not an ELF file');
      const c = require(path.join(dir, 'dist', 'index.js')).capabilities();
      console.log(JSON.stringify({ native: c.native, backend: c.backend, reason: c.reason }));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }`;
  const r = spawnSync(process.execPath, ['-e', script, root], {
    cwd: root,
    encoding: 'utf8',
    env: { ...process.env, CONFINE_NATIVE: '' },
  });
  const caps = JSON.parse(r.stdout);
  assert.equal(caps.native, false);
  assert.equal(caps.backend, 'universal');
  assert.match(caps.reason, /the native addon did not load: .+/);
});
