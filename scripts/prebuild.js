#!/usr/bin/env node
// `npm run prebuild`: the Node-API prebuild for this platform, arch and libc, made by prebuildify
// (--napi --strip, and --tag-libc on Linux) into prebuilds/<platform>-<arch>/confine[.glibc|.musl].node
// (prebuildify 6 names Node-API builds <package>.<tags>.node), where node-gyp-build finds it when the package is installed (the tarball has no build/ directory).
// On Linux also prebuilds/<platform>-<arch>/confine-init, the init of private pid namespaces.
//
// The build runs in a scratch copy of binding.gyp + native/ so that the working tree's build/
// (which `npm test` and the other suites load) is never clobbered half-way through. Run it through
// npm (`npm run prebuild`): npm puts its bundled node-gyp on PATH, and passes `nodedir` and the
// other npm config on to node-gyp. The Node-API build is the same for every Node version >= the
// NAPI_VERSION in binding.gyp; the running Node's version is given as the target so that node-gyp
// uses (or fetches) the headers of the Node that is running rather than the newest one it knows.
//
// Options: --check   only verify that prebuilds/<platform>-<arch> holds a build that loads here.
'use strict';
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const root = path.join(__dirname, '..');
const platformArch = `${process.env.PREBUILD_PLATFORM || os.platform()}-${process.env.PREBUILD_ARCH || os.arch()}`;
const dest = path.join(root, 'prebuilds', platformArch);

function loadCheck() {
  // Load the prebuild as an installed package would: node-gyp-build, ignoring build/ (PREBUILDS_ONLY
  // is read when node-gyp-build is first required, hence a child process).
  const script = `const ngb = require('node-gyp-build'); const f = ngb.resolve(process.argv[1]);
    console.log(JSON.stringify({ file: f, version: require(f).probe().version }));`;
  const r = spawnSync(process.execPath, ['-e', script, root], {
    cwd: root,
    encoding: 'utf8',
    env: { ...process.env, PREBUILDS_ONLY: '1' },
  });
  if (r.status !== 0) throw new Error(`the prebuild does not load here:\n${r.stderr}`);
  const { file, version } = JSON.parse(r.stdout);
  console.log(`prebuild: ${path.relative(root, file)} loads (addon ${version})`);
}

// Point prebuildify at npm's own node-gyp (POSIX: node-gyp.js is executable), also outside `npm run`.
function nodeGypEnv() {
  const env = { ...process.env };
  // Offline: build against the headers that ship with this Node (include/node) unless a nodedir
  // is configured, instead of letting node-gyp download them.
  const prefix = path.join(path.dirname(process.execPath), '..');
  if (!env.npm_config_nodedir && fs.existsSync(path.join(prefix, 'include', 'node', 'node_api.h')))
    env.npm_config_nodedir = prefix;
  if (env.PREBUILD_NODE_GYP || process.platform === 'win32') return env; // Windows: npm's node-gyp.cmd on PATH
  const candidates = [
    env.npm_config_node_gyp, // set by `npm run`
    path.join(prefix, 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
  ];
  const found = candidates.find((f) => f && fs.existsSync(f));
  if (found) env.PREBUILD_NODE_GYP = found;
  return env;
}

function main() {
  if (process.argv.includes('--check')) return loadCheck();
  const started = Date.now();
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'confine-prebuild-'));
  try {
    fs.copyFileSync(path.join(root, 'binding.gyp'), path.join(scratch, 'binding.gyp'));
    fs.copyFileSync(path.join(root, 'package.json'), path.join(scratch, 'package.json'));
    fs.cpSync(path.join(root, 'native'), path.join(scratch, 'native'), { recursive: true });
    // node-addon-api's include_dir and prebuildify's node_modules/.bin, resolved from the scratch dir.
    fs.symlinkSync(path.join(root, 'node_modules'), path.join(scratch, 'node_modules'), 'junction');

    const bin = require.resolve('prebuildify/bin.js', { paths: [root] });
    // --tag-libc only where there is a choice of libc (glibc or musl, detected from /etc/alpine-release).
    const libc = (process.env.PREBUILD_PLATFORM || os.platform()) === 'linux' ? ['--tag-libc'] : [];
    const args = [
      bin,
      '--napi',
      '--strip',
      ...libc,
      '--target',
      process.versions.node,
      '--cwd',
      scratch,
      '--out',
      scratch,
      '--cache',
      path.join(scratch, '.node-gyp'),
    ];
    console.log(`prebuild: prebuildify ${args.slice(1).join(' ')}`);
    const r = spawnSync(process.execPath, args, { stdio: 'inherit', cwd: scratch, env: nodeGypEnv() });
    if (r.status !== 0) throw new Error(`prebuildify failed (${r.signal ?? `exit ${r.status}`})`);

    const built = path.join(scratch, 'prebuilds', platformArch);
    const files = fs.readdirSync(built).filter((f) => f.endsWith('.node'));
    if (files.length === 0) throw new Error(`prebuildify made nothing in ${built}`);
    fs.mkdirSync(dest, { recursive: true });
    for (const f of fs.readdirSync(built)) {
      fs.copyFileSync(path.join(built, f), path.join(dest, f));
      console.log(`prebuild: prebuilds/${platformArch}/${f} (${fs.statSync(path.join(dest, f)).size} bytes)`);
    }
    // Linux: the init of private pid namespaces (native/linux/init), a static executable without
    // libc that prebuildify does not know about; the addon finds it beside itself. One build
    // serves glibc and musl alike.
    const init = path.join(scratch, 'build', 'Release', 'confine-init');
    if (fs.existsSync(init)) {
      fs.copyFileSync(init, path.join(dest, 'confine-init'));
      fs.chmodSync(path.join(dest, 'confine-init'), 0o755);
      console.log(`prebuild: prebuilds/${platformArch}/confine-init (${fs.statSync(init).size} bytes)`);
    } else if ((process.env.PREBUILD_PLATFORM || os.platform()) === 'linux') {
      throw new Error('the build made no build/Release/confine-init');
    }
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
  if (!process.env.PREBUILD_ARCH || process.env.PREBUILD_ARCH === os.arch()) loadCheck();
  console.log(`prebuild: done in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

try {
  main();
} catch (e) {
  console.error(`prebuild: ${e.message}`);
  process.exit(1);
}
