// What the README and the published types tell a new user, checked against the package itself
// (issue 15, points 19-22): every export is documented, `await using` comes with the Node and
// TypeScript versions that have it and a try/finally form that runs here, the types name no
// "seed", the README's prebuild platforms are the ones the release checks, and `npm pack` says
// when prebuilds/ holds fewer.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { alive } from './helpers.mjs';

const require = createRequire(import.meta.url);
const root = fileURLToPath(new URL('..', import.meta.url));
const readme = fs.readFileSync(path.join(root, 'README.md'), 'utf8');
const { PREBUILDS } = require('../scripts/check-prebuilds.js');

test('every export of the package is in the README, and @types/node is said to be needed', () => {
  const exported = Object.keys(require('confine')).filter((n) => n !== '__esModule');
  const missing = exported.filter((n) => !new RegExp(`\`(await )?${n}[\`(]`).test(readme));
  assert.deepEqual(missing, [], 'exports the README does not name');
  for (const n of ['cleanupOrphans', 'listOrphanCgroups', 'dropSpareCgroups', 'RESOURCE_NAMES'])
    assert.match(readme, new RegExp(`^\\| \`(await )?${n}\\b`, 'm'), `${n} has a row in the API table`);
  // The published types use Node's (NodeJS.ProcessEnv, streams): a consumer needs @types/node.
  assert.match(fs.readFileSync(path.join(root, 'dist', 'types.d.ts'), 'utf8'), /NodeJS\.|from 'node:/);
  assert.match(readme, /`@types\/node`[^.]*needed|need[^.]*`@types\/node`/);
});

test('`await using`: the README says which Node and TypeScript have it, and its try/finally form runs here', () => {
  const at = readme.indexOf('await using');
  assert.ok(at >= 0);
  const paragraph = readme.slice(readme.lastIndexOf('\n\n', at), readme.indexOf('```', at));
  assert.match(paragraph, /Node 24 or later/);
  assert.match(paragraph, /Node 20 and 22 reject it/);
  assert.match(paragraph, /TypeScript 5\.2 or later/);
  assert.match(paragraph, /esnext\.disposable/);
  const block = /```js\n([\s\S]*?)```/.exec(readme.slice(at))?.[1];
  assert.ok(block && /finally/.test(block) && !/await using/.test(block), 'a try/finally block follows');
  // Run it as a user would, on this Node (20 in CI's oldest row), with the pid it prints.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'confine-doc-'));
  try {
    const file = path.join(dir, 'using.mjs');
    const entry = pathToFileURL(path.join(root, 'dist', 'index.mjs')).href;
    fs.writeFileSync(file, `import { command } from ${JSON.stringify(entry)};\n${block}`);
    const r = spawnSync(process.execPath, [file], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(r.status, 0, r.stderr);
    const pid = Number(r.stdout.trim());
    assert.ok(pid > 0, r.stdout);
    assert.equal(alive(pid), false, 'the tree was stopped in finally');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('the published types say nothing of "the seed"', () => {
  const dts = [];
  const walk = (d) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory()) walk(path.join(d, e.name));
      else if (/\.d\.m?ts$/.test(e.name)) dts.push(path.join(d, e.name));
    }
  };
  walk(path.join(root, 'dist'));
  assert.ok(dts.length > 10);
  for (const f of dts) assert.doesNotMatch(fs.readFileSync(f, 'utf8'), /\bseed\b/i, path.relative(root, f));
});

test("the README's prebuild platforms are the release's list", () => {
  const list = /prebuilt addon shipped in the package \(([^)]*)\)/.exec(readme.replace(/\s+/g, ' '))?.[1];
  assert.ok(list, 'the README names the platforms');
  const promised = [];
  const forms = [
    [
      /^linux (\S+) for glibc and musl$/,
      (m) => m[1].split('/').flatMap((a) => [`linux-${a}/confine.glibc.node`, `linux-${a}/confine.musl.node`]),
    ],
    [/^macOS (\S+)$/, (m) => [`darwin-${m[1]}/confine.node`]],
    [/^Windows (\S+)$/, (m) => [`win32-${m[1]}/confine.node`]],
  ];
  for (const part of list.split(', ')) {
    const form = forms.find(([re]) => re.test(part));
    assert.ok(form, `a platform the test cannot read: ${part}`);
    promised.push(...form[1](form[0].exec(part)));
  }
  assert.deepEqual(promised.sort(), PREBUILDS.map((p) => p.file).sort());
  assert.match(readme, new RegExp(`the ${['', '', '', '', '', '', 'six'][PREBUILDS.length]} come from the release workflow`));
});

const npmCli = path.join(path.dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'bin', 'npm-cli.js');

test('`npm pack` warns when prebuilds/ holds fewer than promised; the release check fails then', {
  skip: !fs.existsSync(npmCli) && `no npm at ${npmCli}`,
}, () => {
  // The package's own package.json and script in a scratch copy, where prebuilds/ is ours to
  // fill (prepare, which would rebuild dist/, is left out; prepack is the real one).
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'confine-prepack-'));
  try {
    const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
    assert.equal(pkg.scripts.prepack, 'node scripts/check-prebuilds.js');
    const scripts = { prepack: pkg.scripts.prepack };
    fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ ...pkg, scripts, dependencies: {}, devDependencies: {} }));
    fs.mkdirSync(path.join(dir, 'scripts'));
    fs.copyFileSync(path.join(root, 'scripts', 'check-prebuilds.js'), path.join(dir, 'scripts', 'check-prebuilds.js'));
    const put = (file) => {
      fs.mkdirSync(path.dirname(path.join(dir, 'prebuilds', file)), { recursive: true });
      fs.writeFileSync(path.join(dir, 'prebuilds', file), 'not really an addon');
    };
    const env = { ...process.env, npm_config_update_notifier: 'false', npm_config_fund: 'false' };
    for (const k of Object.keys(env)) if (/^npm_(lifecycle|package|config_ignore_scripts)/i.test(k)) delete env[k];
    const pack = () => spawnSync(process.execPath, [npmCli, 'pack', '--dry-run', '--json'], { cwd: dir, env, encoding: 'utf8' });

    put(PREBUILDS[0].file);
    const some = pack();
    assert.equal(some.status, 0, some.stderr);
    assert.match(some.stderr, /warning: prebuilds\/ holds 1 of the 6 prebuilds the README promises; missing:/);
    for (const p of PREBUILDS.slice(1)) assert.ok(some.stderr.includes(`prebuilds/${p.file}`), p.file);
    const strict = spawnSync(process.execPath, [path.join(dir, 'scripts', 'check-prebuilds.js'), '--strict'], {
      encoding: 'utf8',
    });
    assert.equal(strict.status, 1);
    assert.match(strict.stderr, /^error: prebuilds\/ holds 1 of the 6/);

    for (const p of PREBUILDS) put(p.file);
    const all = pack();
    assert.equal(all.status, 0, all.stderr);
    assert.doesNotMatch(all.stderr, /warning: prebuilds/);
    assert.equal(JSON.parse(all.stdout)[0].files.filter((f) => f.path.startsWith('prebuilds/')).length, 6);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
