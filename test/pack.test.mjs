// The package as a new user gets it: `npm pack`, then `npm install <tarball>` into an empty project
// on a PATH that has node, npm and sh and nothing else (no compiler, no python, no make).
//  - with the prebuild for this platform in the tarball, the native backend loads;
//  - without one, the install still succeeds and the pure-JS backend loads with its reason;
//  - ESM import and CommonJS require of the installed package give the same API;
//  - a TypeScript consumer (test/fixtures/consumer) compiles against the published types;
//  - the tarball holds exactly what is needed.
//
// The prebuild: when prebuilds/<platform>-<arch>/ is missing, or older than native/ or
// binding.gyp, this test makes it first with scripts/prebuild.js (`npm run prebuild`, about 10 s
// here), so `npm test` alone is enough. Temp dirs are removed at the end, pass or fail.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import './helpers.mjs'; // every cgroup under this run's own parent (CONFINE_CGROUP_PARENT)

const root = fileURLToPath(new URL('..', import.meta.url));
const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
const platformArch = `${process.platform}-${process.arch}`;
const isWindows = process.platform === 'win32';
// Restricting PATH to symlinks of node and npm is a POSIX technique; on Windows the CI prebuild
// and test jobs cover installation.
const noInstallReason = isWindows ? 'the no-toolchain install uses a PATH of symlinks to node and npm (POSIX only)' : false;

let tmp;
/** Environment for child npm/node: no npm_* from the outer `npm test`, no CONFINE_* overrides. */
function cleanEnv(extra = {}) {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) {
    // CONFINE_CGROUP_PARENT stays: the installed copy's cgroups go under this run's parent.
    if (
      /^npm_/i.test(k) ||
      (k.startsWith('CONFINE_') && k !== 'CONFINE_CGROUP_PARENT') ||
      k === 'NODE_OPTIONS' ||
      k === 'PREBUILDS_ONLY'
    )
      continue;
    env[k] = v;
  }
  return { ...env, npm_config_audit: 'false', npm_config_fund: 'false', npm_config_update_notifier: 'false', ...extra };
}

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', env: cleanEnv(), timeout: 120_000, ...opts });
  if (r.error) throw r.error;
  return r;
}

function ok(r, what) {
  assert.equal(r.status, 0, `${what} failed (exit ${r.status}):\n${r.stdout}\n${r.stderr}`);
  return r;
}

const npmCli = (() => {
  // npm's JS entry, so that it can run under a PATH without npm's own directory.
  const fromExec = path.join(path.dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'bin', 'npm-cli.js');
  const fromWin = path.join(path.dirname(process.execPath), 'node_modules', 'npm', 'bin', 'npm-cli.js');
  return fs.existsSync(fromExec) ? fromExec : fromWin;
})();

function npm(args, opts = {}) {
  return run(process.execPath, [npmCli, ...args], opts);
}

function newestMtime(p) {
  const st = fs.statSync(p);
  if (!st.isDirectory()) return st.mtimeMs;
  let m = 0;
  for (const e of fs.readdirSync(p)) m = Math.max(m, newestMtime(path.join(p, e)));
  return m;
}

/** Make the prebuild for this platform unless an up-to-date one is there. */
function ensurePrebuild() {
  const dir = path.join(root, 'prebuilds', platformArch);
  const built = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith('.node')) : [];
  const sources = Math.max(newestMtime(path.join(root, 'native')), newestMtime(path.join(root, 'binding.gyp')));
  // Linux: the init of private pid namespaces ships beside the addon.
  const initOk = process.platform !== 'linux' || fs.existsSync(path.join(dir, 'confine-init'));
  if (initOk && built.length > 0 && built.every((f) => fs.statSync(path.join(dir, f)).mtimeMs >= sources)) return 'up to date';
  const t0 = Date.now();
  ok(
    run(process.execPath, [path.join(root, 'scripts', 'prebuild.js')], { cwd: root, env: { ...process.env } }),
    'scripts/prebuild.js',
  );
  return `made in ${((Date.now() - t0) / 1000).toFixed(1)} s`;
}

/** A bin dir with only node, npm and sh in it (npm runs install scripts with `sh -c`). */
function bareBin() {
  const bin = path.join(tmp, 'bin');
  fs.mkdirSync(bin);
  fs.symlinkSync(process.execPath, path.join(bin, 'node'));
  fs.symlinkSync(npmCli, path.join(bin, 'npm'));
  fs.symlinkSync('/bin/sh', path.join(bin, 'sh'));
  return bin;
}

function install(tarball, name) {
  const dir = path.join(tmp, name);
  fs.cpSync(path.join(root, 'test', 'fixtures', 'consumer'), dir, { recursive: true });
  const env = cleanEnv({ PATH: path.join(tmp, 'bin') });
  const r = run(
    path.join(tmp, 'bin', 'npm'),
    ['install', '--no-save', '--no-package-lock', '--prefer-offline', '--foreground-scripts', tarball],
    { cwd: dir, env },
  );
  ok(r, `npm install ${path.basename(tarball)} (${name})`);
  return { dir, env, log: r.stdout + r.stderr };
}

function probe(dir, env, code) {
  const r = ok(run(process.execPath, ['-e', code], { cwd: dir, env }), 'probe');
  return JSON.parse(r.stdout.trim().split('\n').pop());
}

const capsCode = `const c = require('confine').capabilities();
  console.log(JSON.stringify({ native: c.native, backend: c.backend, reason: c.reason, addon: c.addon }));`;

let tarball;
let prebuildState;
before(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'confine-pack-'));
});
after(() => {
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

test('npm pack --dry-run lists exactly what the package needs', () => {
  if (!isWindows) prebuildState = ensurePrebuild();
  const r = ok(npm(['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: root }), 'npm pack --dry-run');
  const files = JSON.parse(r.stdout)[0]
    .files.map((f) => f.path.replace(/\\/g, '/'))
    .sort();
  const allowed = [
    /^package\.json$/,
    /^README\.md$/,
    /^LICENSE$/,
    /^binding\.gyp$/,
    /^scripts\/install\.js$/,
    /^dist\/[\w./-]+\.(js|mjs|d\.ts|d\.mts)$/,
    /^native\/[\w./-]+\.(cc|h|S)$/,
    /^prebuilds\/[a-z0-9]+-[a-z0-9+]+\/[\w.-]+\.node$/,
    /^prebuilds\/linux-[a-z0-9]+\/confine-init$/,
  ];
  const unexpected = files.filter((f) => !allowed.some((re) => re.test(f)));
  assert.deepEqual(unexpected, [], 'files in the tarball that no consumer needs');
  for (const f of files) assert.doesNotMatch(f, /^(test|bench|docs|build|lib|\.github|\.ci|node_modules)\//);
  const required = [
    'package.json',
    'README.md',
    'LICENSE',
    'binding.gyp',
    'scripts/install.js',
    'dist/index.js',
    'dist/index.d.ts',
    'dist/index.mjs',
    'dist/index.d.mts',
    'dist/cli.js',
    'native/addon.cc',
  ];
  for (const f of required) assert.ok(files.includes(f), `${f} is in the tarball`);
  // Every file that package.json points at is shipped.
  const pointed = [pkg.main, pkg.types, ...Object.values(pkg.bin ?? {})];
  for (const cond of Object.values(pkg.exports?.['.'] ?? {})) for (const f of Object.values(cond)) pointed.push(f);
  for (const f of pointed) assert.ok(files.includes(f.replace(/^\.\//, '')), `${f} (from package.json) is in the tarball`);
  // Every source binding.gyp compiles is shipped, so a build from source works.
  for (const src of fs.readFileSync(path.join(root, 'binding.gyp'), 'utf8').match(/native\/[\w/]+\.(cc|S)/g)) {
    assert.ok(files.includes(src), `${src} (from binding.gyp) is in the tarball`);
  }
  if (!isWindows)
    assert.ok(
      files.some((f) => f.startsWith(`prebuilds/${platformArch}/`)),
      `prebuilds/${platformArch}/ is in the tarball (prebuild ${prebuildState})`,
    );
  if (process.platform === 'linux')
    assert.ok(files.includes(`prebuilds/${platformArch}/confine-init`), 'the pid namespace init ships beside the prebuild');
});

test('installed on a PATH without a compiler, the prebuild gives the native backend', { skip: noInstallReason }, () => {
  const packed = ok(npm(['pack', '--json', '--ignore-scripts', '--pack-destination', tmp], { cwd: root }), 'npm pack');
  tarball = path.join(tmp, JSON.parse(packed.stdout)[0].filename);
  const bin = bareBin();
  for (const tool of ['g++', 'cc', 'c++', 'gcc', 'clang', 'make', 'python3', 'python']) {
    const r = spawnSync('/bin/sh', ['-c', `command -v ${tool}`], { env: { PATH: bin }, encoding: 'utf8' });
    assert.notEqual(r.status, 0, `${tool} must not be on the test PATH (found ${r.stdout.trim()})`);
  }
  const { dir, env, log } = install(tarball, 'with-prebuild');
  const installed = path.join(dir, 'node_modules', 'confine');
  assert.ok(!fs.existsSync(path.join(installed, 'build')), 'nothing was compiled at install');
  assert.doesNotMatch(log, /could not be built or loaded/, 'scripts/install.js found the prebuild');
  const caps = probe(dir, env, capsCode);
  assert.equal(caps.native, true, `native backend from the prebuild (reason: ${caps.reason})`);
  assert.notEqual(caps.backend, 'universal');
  assert.equal(
    path.relative(installed, fs.realpathSync(caps.addon.path)).split(path.sep)[0],
    'prebuilds',
    `loaded from prebuilds/: ${caps.addon.path}`,
  );
  // Linux: the init of private pid namespaces comes from the prebuild too, and runs a program.
  if (process.platform === 'linux') {
    const iso = probe(
      dir,
      env,
      `const { command, capabilities } = require('confine');
       const init = capabilities().isolation.init;
       const ex = command('/bin/sh', ['-c', 'echo $$'], { stdio: ['ignore', 'pipe', 'ignore'], cwd: process.cwd() })
         .isolate({ processes: 'private' });
       let out = '';
       ex.start().then(() => { ex.stdout.on('data', (d) => (out += d)); return ex.wait(); })
         // The output is whole at 'close' (the exit can be seen before the pipe's last data).
         .then((st) => new Promise((r) => ex.once('close', () => r(st))))
         .then((st) => console.log(JSON.stringify({ init, enforced: ex.enforced.processes, out, code: st.exitCode })));`,
    );
    assert.equal(iso.init.ok, true, JSON.stringify(iso.init));
    assert.equal(path.relative(installed, fs.realpathSync(iso.init.path)).split(path.sep)[0], 'prebuilds', iso.init.path);
    if (iso.enforced.enforced) assert.deepEqual([iso.out, iso.code], ['2\n', 0], 'the program ran as pid 2, under the init');
  }

  // ESM import and CommonJS require of the installed package: the same objects.
  const same = probe(
    dir,
    env,
    `import('confine').then((esm) => {
       const cjs = require('confine');
       const names = Object.keys(cjs).filter((n) => n !== '__esModule').sort();
       const esmNames = Object.keys(esm).filter((n) => n !== 'default').sort();
       const differ = names.filter((n) => esm[n] !== cjs[n]);
       console.log(JSON.stringify({ names, esmNames, differ, dflt: esm.default === cjs, isNative: esm.capabilities().native }));
     })`,
  );
  assert.deepEqual(same.esmNames, same.names, 'ESM and CJS export the same names');
  assert.deepEqual(same.differ, [], 'every export is the same object from import and require');
  assert.ok(same.dflt, 'the default export is the CommonJS module');
  for (const n of ['command', 'openPid', 'capabilities', 'autoselectExecutor', 'Executor', 'ConfineError', 'SpawnError'])
    assert.ok(same.names.includes(n), n);
  assert.equal(same.isNative, true);

  // The confine binary works from the install.
  const doctor = ok(
    run(path.join(dir, 'node_modules', '.bin', 'confine'), ['doctor', '--json'], { cwd: dir, env }),
    'confine doctor',
  );
  assert.equal(JSON.parse(doctor.stdout).native, true);
  // The binary is the bundled command (scripts/finish-build.js): it runs a program on the native
  // backend, the addon found from the bundle's place in the install (prebuilds/ here).
  assert.match(
    fs.readFileSync(path.join(installed, 'dist', 'cli.js'), 'utf8'),
    /^#!.*\n\/\/ Bundled by scripts\/finish-build\.js/,
  );
  const ran = run(
    path.join(dir, 'node_modules', '.bin', 'confine'),
    ['run', '--report', '--json', '--', process.execPath, '-e', 'process.exit(3)'],
    { cwd: dir, env },
  );
  assert.equal(ran.status, 3, ran.stderr);
  const report = JSON.parse(ran.stderr.trim().split('\n').pop());
  assert.equal(report.backend, caps.backend, ran.stderr);
  assert.equal(report.status.exitCode, 3);

  // The TypeScript consumer compiles against the published types (import via .mts, require via .cts).
  const typesNode = path.join(dir, 'node_modules', '@types');
  fs.mkdirSync(typesNode, { recursive: true });
  fs.symlinkSync(path.join(root, 'node_modules', '@types', 'node'), path.join(typesNode, 'node'), 'junction');
  const tsc = run(
    process.execPath,
    [path.join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json', '--noEmit', '--traceResolution'],
    { cwd: dir, env },
  );
  assert.equal(
    tsc.status,
    0,
    `tsc --noEmit of the consumer:\n${tsc.stdout
      .split('\n')
      .filter((l) => /error TS/.test(l))
      .join('\n')}`,
  );
  const resolved = tsc.stdout.split('\n').filter((l) => /Module name 'confine' was successfully resolved/.test(l));
  assert.ok(
    resolved.some((l) => /node_modules\/confine\/dist\/index\.d\.mts/.test(l)),
    `esm.mts resolves to index.d.mts:\n${resolved.join('\n')}`,
  );
  assert.ok(
    resolved.some((l) => /node_modules\/confine\/dist\/index\.d\.ts/.test(l)),
    `cjs.cts resolves to index.d.ts:\n${resolved.join('\n')}`,
  );
});

test('with no prebuild and no compiler, the install succeeds and the pure-JS backend loads', { skip: noInstallReason }, () => {
  assert.ok(tarball, 'the previous test packed the tarball');
  // The same tarball less prebuilds/: unpack, drop prebuilds/, pack again.
  const unpacked = path.join(tmp, 'unpacked');
  fs.mkdirSync(unpacked);
  ok(run('tar', ['-xzf', tarball, '-C', unpacked]), 'tar -x');
  fs.rmSync(path.join(unpacked, 'package', 'prebuilds'), { recursive: true, force: true });
  const repacked = ok(
    npm(['pack', '--json', '--ignore-scripts', '--pack-destination', unpacked], { cwd: path.join(unpacked, 'package') }),
    'npm pack (no prebuilds)',
  );
  const bare = path.join(unpacked, JSON.parse(repacked.stdout)[0].filename);
  assert.ok(!JSON.parse(repacked.stdout)[0].files.some((f) => f.path.startsWith('prebuilds')));

  const { dir, env, log } = install(bare, 'without-prebuild');
  const installed = path.join(dir, 'node_modules', 'confine');
  // scripts/install.js tried node-gyp (which found no python or compiler) and warned, exit 0.
  assert.match(log, /confine: the native addon could not be built or loaded; the pure-JS "universal" backend will be used/);
  assert.ok(!fs.existsSync(path.join(installed, 'build', 'Release', 'confine.node')), 'no addon was built (no compiler)');
  const caps = probe(dir, env, capsCode);
  assert.equal(caps.native, false);
  assert.equal(caps.backend, 'universal');
  assert.match(caps.reason, /^the native addon did not load: No native build was found for platform=/);
  // And it runs programs.
  const ran = probe(
    dir,
    env,
    `(async () => {
       const ex = require('confine').command(process.execPath, ['-e', 'process.exit(7)'], { stdio: 'ignore' });
       await ex.start();
       const st = await ex.wait();
       console.log(JSON.stringify({ kind: ex.kind, exitCode: st.exitCode }));
     })()`,
  );
  assert.deepEqual(ran, { kind: 'universal', exitCode: 7 });
});
