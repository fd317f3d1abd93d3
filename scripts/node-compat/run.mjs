#!/usr/bin/env node
// The yardstick of issue #14: Node 20's own child_process tests, run against confine.spawn.
//
//   node scripts/node-compat/run.mjs [--target spawn|command-start|command-shim] [--jobs N]
//                                    [--timeout-ms N] [--no-write] [--check] [FILE-SUBSTRING...]
//
// 1. Fetches Node's source with `apt-get source --download-only nodejs` from Debian (trixie holds
//    Node 20), through an apt configuration of its own in the cache directory, so the host's
//    apt sources are not touched. Only test/common, test/fixtures and the
//    test/parallel/test-child-process-* files are unpacked, into the cache, never into this repo.
// 2. Selects the test-child-process-* files whose source calls spawn() (not spawnSync()).
// 3. Runs each on plain Node, then again with scripts/node-compat/preload.cjs, which replaces
//    the one binding child_process.spawn with the target and counts the calls it gets.
// 4. Writes the table (file, plain Node, confine, why any differs) into docs/compatibility.md,
//    between its node-compat markers, when the target is `spawn` and every file ran.
//
// A file confine fails on purpose is listed in reasons.json with its reason and the output that
// proves it (`expect`: regular expressions the failed run's output must all match); a listed
// file whose output does not match, or that passes now, counts as unexplained. --check exits 1
// when any file that passes on plain Node fails against the target unexplained (CI runs that).
//
// A file passes when it exits 0 and does not report itself skipped. A confine run also fails
// when it leaves a task cgroup behind (every run gets a cgroup parent of its own) or when the
// target was never called. Cache: $CONFINE_NODE_COMPAT_CACHE, default ~/.cache/confine-node-compat.

import { spawn, execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '..', '..');
const { values: opt, positionals: only } = parseArgs({
  options: {
    target: { type: 'string', default: 'spawn' },
    jobs: { type: 'string', default: '2' },
    'timeout-ms': { type: 'string', default: '120000' },
    'no-write': { type: 'boolean', default: false },
    check: { type: 'boolean', default: false },
  },
  allowPositionals: true,
});
const NODE_MAJOR = 20;
const cache = path.resolve(process.env.CONFINE_NODE_COMPAT_CACHE || path.join(homedir(), '.cache', 'confine-node-compat'));
if (!path.relative(repo, cache).startsWith('..')) throw new Error(`the cache ${cache} must be outside the repository`);

const major = Number(process.versions.node.split('.')[0]);
if (major !== NODE_MAJOR) {
  console.error(`node-compat: Node ${NODE_MAJOR}'s tests need Node ${NODE_MAJOR}; this is Node ${process.versions.node}`);
  process.exit(2);
}
if (!existsSync(path.join(repo, 'dist', 'index.js'))) {
  console.error('node-compat: dist/ is missing: run npm run build:ts first');
  process.exit(2);
}

// --- 1. the source ------------------------------------------------------------------------------

function apt(tool, args, cwd) {
  const a = path.join(cache, 'apt');
  const conf = [
    `Dir::Etc::SourceList=${a}/sources.list`,
    'Dir::Etc::SourceParts=/dev/null',
    `Dir::State::Lists=${a}/lists`,
    `Dir::Cache=${a}/cache`,
    'Debug::NoLocking=1',
    'APT::Get::List-Cleanup=0',
  ].flatMap((o) => ['-o', o]);
  return spawnSync(tool, [...conf, ...args], { cwd, encoding: 'utf8' });
}

function fetchSource() {
  const stamp = path.join(cache, 'source.json');
  if (existsSync(stamp)) {
    const s = JSON.parse(readFileSync(stamp, 'utf8'));
    if (existsSync(path.join(s.root, 'test', 'common', 'index.js'))) return s;
  }
  if (spawnSync('apt-get', ['--version']).status !== 0) throw new Error('node-compat needs apt-get (Debian or Ubuntu)');
  const a = path.join(cache, 'apt');
  for (const d of ['lists/partial', 'cache/archives/partial']) mkdirSync(path.join(a, d), { recursive: true });
  // Debian trixie carries Node 20 (bookworm, this host's release, has 18).
  writeFileSync(
    path.join(a, 'sources.list'),
    'deb-src http://deb.debian.org/debian trixie main\n' +
      'deb-src http://deb.debian.org/debian trixie-updates main\n' +
      'deb-src http://deb.debian.org/debian-security trixie-security main\n',
  );
  console.log('node-compat: apt-get update (private lists in the cache)');
  const up = apt('apt-get', ['update']);
  if (up.status !== 0) throw new Error(`apt-get update failed:\n${up.stderr}`);
  const show = apt('apt-cache', ['showsrc', 'nodejs']).stdout;
  const versions = [...show.matchAll(/^Version: (\S+)$/gm)].map((m) => m[1]).filter((v) => v.startsWith(`${NODE_MAJOR}.`));
  if (versions.length === 0) throw new Error(`no nodejs ${NODE_MAJOR}.x source package in Debian trixie`);
  const version = versions.sort((x, y) => (spawnSync('dpkg', ['--compare-versions', x, 'gt', y]).status === 0 ? -1 : 1))[0];
  const upstream = version.replace(/\+dfsg.*$/, '').replace(/-[^-]*$/, '');
  const dl = path.join(cache, 'download');
  mkdirSync(dl, { recursive: true });
  console.log(`node-compat: apt-get source --download-only nodejs=${version}`);
  const got = apt('apt-get', ['source', '--download-only', `nodejs=${version}`], dl);
  // Only the upstream tarball matters (the tests are upstream's). apt checks each file against
  // the hashes of the signed Sources index, so a tarball present is a verified one, even when a
  // Debian-only part (.dsc, debian.tar) of the same version failed to download.
  const orig = readdirSync(dl).find((f) => /^nodejs_.*\.orig\.tar\.xz$/.test(f) && f.includes(upstream));
  if (!orig) throw new Error(`apt-get source failed:\n${got.stderr}`);
  if (got.status !== 0) console.log(`node-compat: note: apt-get: ${got.stderr.trim().split('\n')[0]}`);
  const root = path.join(cache, `node-v${upstream}`);
  rmSync(root, { recursive: true, force: true });
  mkdirSync(root, { recursive: true });
  execFileSync(
    'tar',
    [
      '-xJf',
      path.join(dl, orig),
      '-C',
      root,
      '--strip-components=1',
      '--wildcards',
      '*/test/common/*',
      '*/test/fixtures/*',
      '*/test/parallel/test-child-process-*',
    ],
    { stdio: 'inherit' },
  );
  const s = { version, upstream, root };
  writeFileSync(stamp, JSON.stringify(s, null, 2));
  return s;
}

// --- 2. the files -------------------------------------------------------------------------------

function selectFiles(root) {
  const dir = path.join(root, 'test', 'parallel');
  return readdirSync(dir)
    .filter((f) => /^test-child-process-.*\.m?js$/.test(f))
    .filter((f) => /\bspawn\(/.test(readFileSync(path.join(dir, f), 'utf8')))
    .filter((f) => only.length === 0 || only.some((o) => f.includes(o)))
    .sort();
}

function flagsOf(file) {
  const m = /^\/\/ Flags:(.*)$/m.exec(readFileSync(file, 'utf8'));
  return m ? m[1].trim().split(/\s+/).filter(Boolean) : [];
}

// --- 3. running ---------------------------------------------------------------------------------

const runParent = `/confine-node-compat-${process.pid}`;

function cgroupMounts() {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter((l) => / - cgroup2? /.test(l))
    .map((l) => l.split(' ')[4]);
}

/** Task cgroups left under `parent`; each one's processes (ours: the run made them) are killed. */
async function leftovers(parent) {
  const dirs = [];
  const walk = (d) => {
    let entries;
    try {
      entries = readdirSync(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) if (e.isDirectory()) walk(path.join(d, e.name));
    dirs.push(d);
  };
  for (const m of cgroupMounts()) walk(`${m}${parent}`);
  const tasks = new Set(dirs.filter((d) => !d.endsWith(parent)).map((d) => path.basename(d)));
  const end = Date.now() + 10_000;
  for (;;) {
    let busy = 0;
    for (const d of dirs) {
      let procs = [];
      try {
        procs = readFileSync(path.join(d, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean);
      } catch {}
      for (const p of procs) {
        busy++;
        try {
          process.kill(Number(p), 'SIGKILL');
        } catch {}
      }
    }
    if (busy === 0 || Date.now() > end) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  for (const d of dirs) {
    try {
      rmdirSync(d);
    } catch {}
  }
  return tasks.size;
}

function reasonOf(stdout, stderr) {
  const text = `${stderr}\n${stdout}`;
  const err = /^\s*(?:Uncaught )?(\w*Error(?: \[\w+\])?:?[^\n]*)$/m.exec(text);
  const line = (err ? err[1] : text.trim().split('\n').filter(Boolean).slice(-1)[0] || '').trim();
  return line.length > 160 ? `${line.slice(0, 157)}...` : line;
}

let slot = 0;
async function runOne(root, file, mode, threadId) {
  const abs = path.join(root, 'test', 'parallel', file);
  const callsFile = path.join(cache, `calls.${process.pid}.${threadId}`);
  rmSync(callsFile, { force: true });
  const parent = `${runParent}/${mode === 'plain' ? 'p' : 'c'}${++slot}`;
  const pre = ['--require', path.join(here, 'preload.cjs')];
  const child = spawn(process.execPath, [...pre, ...flagsOf(abs), abs], {
    cwd: root,
    detached: true, // its own process group, killed as a whole on timeout
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      TEST_THREAD_ID: String(threadId), // test/common/tmpdir: one tmp dir per worker
      CONFINE_CGROUP_PARENT: parent,
      CONFINE_COMPAT_TARGET: mode === 'plain' ? 'node' : mode,
      CONFINE_COMPAT_CALLS: callsFile,
    },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout = (stdout + d).slice(-20000)));
  child.stderr.on('data', (d) => (stderr = (stderr + d).slice(-20000)));
  let hung = false;
  const timer = setTimeout(() => {
    hung = true;
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {}
  }, Number(opt['timeout-ms']));
  const [code, signal] = await new Promise((r) => child.on('close', (c, s) => r([c, s])));
  clearTimeout(timer);
  try {
    process.kill(-child.pid, 'SIGKILL'); // what the test left in its group
  } catch {}
  const left = await leftovers(parent);
  let calls = null;
  {
    const line = existsSync(callsFile)
      ? readFileSync(callsFile, 'utf8')
          .split('\n')
          .find((l) => l.startsWith(`${child.pid} `))
      : undefined;
    calls = line ? Number(line.split(' ')[1]) : null;
    rmSync(callsFile, { force: true });
  }
  let outcome;
  let why = '';
  if (hung) {
    outcome = 'hang';
    why = `did not end within ${opt['timeout-ms']} ms; ${reasonOf(stdout, stderr)}`;
  } else if (code === 0 && /^1\.\.0 # Skipped/m.test(stdout)) {
    outcome = 'skip';
    why = /^1\.\.0 # Skipped:?(.*)$/m.exec(stdout)[1].trim();
  } else if (code === 0) outcome = 'pass';
  else {
    outcome = 'fail';
    why = `${signal ? `killed by ${signal}` : `exit ${code}`}: ${reasonOf(stdout, stderr)}`;
  }
  if (left > 0) {
    if (outcome === 'pass') outcome = 'fail';
    why = `${why ? `${why}; ` : ''}left ${left} task cgroup${left > 1 ? 's' : ''} behind`;
  }
  if (outcome === 'pass' && !calls) {
    outcome = 'unexercised';
    why = 'passed without calling spawn() on this host';
  }
  return { outcome, why, calls, output: `${stderr}\n${stdout}` };
}

async function pool(items, jobs, fn) {
  const out = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: jobs }, async (_, w) => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i], w);
      }
    }),
  );
  return out;
}

// --- 4. the table -------------------------------------------------------------------------------

function reasonsFile() {
  const p = path.join(here, 'reasons.json');
  return existsSync(p) ? JSON.parse(readFileSync(p, 'utf8')) : {};
}

/**
 * Why a file that passes on plain Node does not pass against the target: the reason listed in
 * reasons.json when the run's output shows it (every `expect` pattern matches), else null.
 */
function explained(r, reasons) {
  const known = reasons[r.file];
  if (!known || r.confine.outcome !== 'fail') return null;
  return known.expect.every((re) => new RegExp(re, 'm').test(r.confine.output)) ? known.why : null;
}

function table(rows, source) {
  const reasons = reasonsFile();
  const pass = (r) => r.outcome === 'pass';
  const baseline = rows.filter((r) => pass(r.plain));
  const both = baseline.filter((r) => pass(r.confine));
  const unexplained = baseline.filter((r) => !pass(r.confine) && !explained(r, reasons)).map((r) => r.file);
  const stale = both.filter((r) => reasons[r.file]).map((r) => r.file);
  const count = (o) => rows.filter((r) => r.plain.outcome === o).length;
  const lines = [
    `Node ${source.upstream} (Debian source package nodejs ${source.version}), run on Node ${process.versions.node}, ` +
      `target \`${opt.target}\`: **${both.length} of ${baseline.length}** files that pass on plain Node (and call spawn() ` +
      `there) pass against confine. Selected: ${rows.length} files; on this host ${count('unexercised')} of them never ` +
      `reach spawn() and ${count('skip')} skip themselves.`,
    '',
    '| file | plain Node | confine | why it differs |',
    '|---|---|---|---|',
  ];
  for (const r of rows) {
    const differs = r.plain.outcome !== r.confine.outcome;
    const why = explained(r, reasons) ?? (differs || r.confine.outcome !== 'pass' ? r.confine.why || r.plain.why : '');
    lines.push(`| ${r.file} | ${r.plain.outcome} | ${r.confine.outcome} | ${why.replaceAll('|', '\\|')} |`);
  }
  return { text: lines.join('\n'), both: both.length, baseline: baseline.length, unexplained, stale };
}

const source = fetchSource();
const files = selectFiles(source.root);
console.log(`node-compat: ${files.length} files from Node ${source.upstream}, target ${opt.target}, ${opt.jobs} at a time`);
const rows = await pool(files, Number(opt.jobs), async (file, w) => {
  const plain = await runOne(source.root, file, 'plain', w);
  const conf = await runOne(source.root, file, opt.target, w);
  console.log(`${plain.outcome.padEnd(5)} ${conf.outcome.padEnd(11)} ${file}${conf.why ? `  (${conf.why})` : ''}`);
  return { file, plain, confine: conf };
});
for (const m of cgroupMounts()) {
  try {
    rmdirSync(`${m}${runParent}`);
  } catch {}
}
const t = table(rows, source);
console.log(`\nnode-compat: ${t.both} of ${t.baseline} files that pass on plain Node pass against ${opt.target}`);
for (const f of t.unexplained) console.log(`node-compat: UNEXPLAINED: ${f} passes on plain Node, not against ${opt.target}`);
for (const f of t.stale) console.log(`node-compat: STALE: ${f} passes now; drop it from scripts/node-compat/reasons.json`);
const doc = path.join(repo, 'docs', 'compatibility.md');
if (!opt['no-write'] && opt.target === 'spawn' && only.length === 0) {
  const old = readFileSync(doc, 'utf8');
  const begin = '<!-- node-compat:begin -->';
  const end = '<!-- node-compat:end -->';
  const a = old.indexOf(begin);
  const b = old.indexOf(end);
  if (a < 0 || b < a) throw new Error(`${doc} lacks the ${begin} ... ${end} markers`);
  writeFileSync(doc, `${old.slice(0, a + begin.length)}\n${t.text}\n${old.slice(b)}`);
  console.log(`node-compat: wrote ${path.relative(repo, doc)}`);
} else {
  console.log(`\n${t.text}`);
}
if (opt.check && opt.target === 'spawn' && (t.unexplained.length > 0 || t.stale.length > 0)) process.exitCode = 1;
