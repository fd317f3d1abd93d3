// What the README tells a new user, checked against the package itself (issue 15): the README's
// prebuild platforms are the ones the release checks, and `npm pack` says when prebuilds/ holds
// fewer.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const root = fileURLToPath(new URL('..', import.meta.url));
const readme = fs.readFileSync(path.join(root, 'README.md'), 'utf8');
const { PREBUILDS } = require('../scripts/check-prebuilds.js');

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
