// Prepared requests (addon.prepare(), lib/isolation/prepared.ts): an isolated spawn's isolation
// request and guards read once into a native handle, which later spawns pass with their own fds.
// Against real processes in real namespaces: a handle serves spawns at the same time, each with its
// own init and status pipe; a wrong handle is a TypeError before anything starts; the cache in lib/
// never hands out a handle whose content differs from the request; worker threads have their own.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { addonExitOf, fdSnapshot, newFds, until, zombieChildren } from './helpers.mjs';

const require = createRequire(import.meta.url);
const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const addon = process.platform === 'linux' ? require('node-gyp-build')(ROOT) : null;
const iso = addon ? require(path.join(ROOT, 'dist', 'isolation', 'index.js')) : null;
const namespaces = iso && process.getuid() === 0 && iso.isolationSupport().mechanism === 'namespaces';
const skip = !addon ? 'Linux only' : !namespaces ? 'needs root and namespaces (isolationSupport().mechanism)' : false;

const exitOf = (child) => addonExitOf(addon, child);

/** The preset's kind of request: pid, mount (a fresh /proc), uts with a hostname, and a filter. */
const request = (hostname) => ({
  isolation: { pid: true, mount: true, uts: true, hostname, mounts: [{ kind: 'proc', target: '/proc' }] },
  seccomp: { denyIoUring: true },
});

/** One spawn through a handle: sh prints what it sees and exits with `code`. */
async function runPrepared(prepared, code, dir) {
  const outPath = path.join(dir, `out-${code}-${Math.random().toString(36).slice(2)}`);
  const out = fs.openSync(outPath, 'w+');
  const nul = addon.openDevNull(fs.constants.O_RDONLY);
  const [statusRead, statusWrite] = addon.pipe();
  let child;
  try {
    child = addon.spawn({
      file: '/bin/sh',
      argv: ['sh', '-c', `hostname; echo $$; grep '^Seccomp:' /proc/self/status; exit ${code}`],
      envp: ['PATH=/usr/bin:/bin'],
      stdio: [nul, out, out],
      noNewPrivs: true,
      prepared,
      initFd: iso.openInit(),
      statusFd: statusWrite,
      startAsync: true,
    });
  } finally {
    addon.close(statusWrite);
    addon.close(nul);
  }
  const exited = exitOf(child);
  // The exec's outcome: on the loop, unless the spawn already learnt it (no pipe then).
  if (child.errorFd >= 0) {
    const started = await new Promise((resolve) => addon.watchStart(child.pid, child.errorFd, '/bin/sh', resolve));
    assert.equal(started, null);
  }
  const st = await exited;
  // The init exits 0 once it wrote the program's wait status (4 bytes, as wait4 gives it) to
  // this spawn's own pipe: the program's exit code comes from there.
  const status = Buffer.alloc(64);
  const n = fs.readSync(statusRead, status);
  addon.close(statusRead);
  assert.equal(st.exitCode, 0, 'the init exits 0');
  fs.closeSync(out);
  const text = fs.readFileSync(outPath, 'utf8');
  fs.rmSync(outPath);
  assert.equal(n, 4, 'one wait status in this pipe');
  const ws = status.readInt32LE(0);
  return { exitCode: (ws & 0x7f) === 0 ? (ws >> 8) & 0xff : null, out: text };
}

test('one handle serves many spawns at once, each with its own init, status pipe and exit', { skip }, async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'confine-prepared-'));
  try {
    iso.openInit(); // opened once and kept by the isolation layer
    const before = await fdSnapshot();
    const prepared = addon.prepare(request('confine-prep'));
    const runs = await Promise.all([3, 4, 5, 6].map((code) => runPrepared(prepared, code, dir)));
    runs.forEach((r, i) => {
      assert.equal(r.exitCode, 3 + i);
      // Its hostname, pid 2 under the init (a pid namespace of its own), the filter on.
      assert.equal(r.out, 'confine-prep\n2\nSeccomp:\t2\n');
    });
    // And again, one after another: nothing a spawn wrote stays in the handle.
    for (const code of [7, 8]) assert.equal((await runPrepared(prepared, code, dir)).exitCode, code);
    // A spawn's own fds never stay in the handle: without this spawn's init and status pipe the
    // same handle is refused before anything starts (a handle that kept the last spawn's would run).
    const nul = addon.openDevNull(fs.constants.O_RDONLY);
    try {
      assert.throws(
        () => addon.spawn({ file: '/bin/true', argv: ['true'], envp: [], stdio: [nul, nul, nul], prepared, startAsync: true }),
        /a private pid namespace needs the init/,
      );
    } finally {
      addon.close(nul);
    }
    assert.deepEqual(zombieChildren(), []);
    // Each exit watch closes its copy of the pidfd once its handle is closed, after the exit.
    await until(async () => (await newFds(before)).length === 0);
    assert.deepEqual(await newFds(before), []);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a wrong handle, or a handle beside the keys it stands for, is a TypeError before anything starts', {
  skip: !addon && 'Linux only',
}, async () => {
  const before = await fdSnapshot();
  const nul = addon.openDevNull(fs.constants.O_RDONLY);
  const base = { file: '/bin/true', argv: ['true'], envp: [], stdio: [nul, nul, nul] };
  try {
    assert.throws(() => addon.spawn({ ...base, prepared: {} }), { name: 'TypeError', message: /prepared must be a handle/ });
    assert.throws(() => addon.spawn({ ...base, prepared: 42 }), { name: 'TypeError', message: /prepared must be a handle/ });
    const handle = addon.prepare({ seccomp: { denyIoUring: true } });
    for (const key of ['isolation', 'seccomp', 'landlock', 'capabilities']) {
      const other = key === 'capabilities' ? [] : key === 'isolation' ? { uts: true } : key === 'landlock' ? { rules: [] } : {};
      assert.throws(() => addon.spawn({ ...base, prepared: handle, [key]: other }), {
        name: 'TypeError',
        message: new RegExp(`${key} comes from the prepared handle`),
      });
    }
    assert.throws(() => addon.prepare('x'), { name: 'TypeError', message: /prepare: expected a request object/ });
    assert.throws(() => addon.prepare({ capabilities: ['CAP_NOPE'] }), { name: 'TypeError', message: /unknown capability/ });
    assert.throws(() => addon.prepare({ isolation: { mounts: [{ kind: 'nope', target: '/x' }] } }), { name: 'TypeError' });
  } finally {
    addon.close(nul);
  }
  assert.deepEqual(zombieChildren(), []);
  assert.deepEqual(await newFds(before), []);
});

test("lib's cache: one handle per content, a copy of it; a changed request is a new handle", { skip }, async () => {
  const { preparedRequest } = require(path.join(ROOT, 'dist', 'isolation', 'prepared.js'));
  let made = 0;
  const counting = { prepare: (r) => (made++, addon.prepare(r)) };
  const req = request('confine-prep-a');
  const first = preparedRequest(counting, req);
  assert.equal(preparedRequest(counting, request('confine-prep-a')), first, 'equal content: the same handle');
  assert.equal(made, 1);
  // The caller changes its object after a start: a new request, and the first handle keeps its content.
  req.isolation.hostname = 'confine-prep-b';
  const second = preparedRequest(counting, req);
  assert.notEqual(second, first);
  assert.equal(made, 2);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'confine-prepared-'));
  try {
    assert.match((await runPrepared(first, 0, dir)).out, /^confine-prep-a\n/);
    assert.match((await runPrepared(second, 0, dir)).out, /^confine-prep-b\n/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  // Values of another type, a key more: never the same request.
  preparedRequest(counting, { ...request('confine-prep-a'), landlock: null });
  assert.equal(made, 3);
  // Bounded: many distinct requests evict the least recently used.
  for (let i = 0; i < 20; i++) preparedRequest(counting, request(`confine-prep-${i}`));
  const n = made;
  preparedRequest(counting, request('confine-prep-a'));
  assert.equal(made, n + 1, 'evicted, made again');
  // Without prepare() (an older build): null, the caller passes the request itself.
  assert.equal(preparedRequest({}, request('x')), null);
});

test('isolated starts in a worker thread and in the main thread at the same time', { skip }, async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'confine-prepared-'));
  const src = `
    const { parentPort, workerData } = require('node:worker_threads');
    const { command } = require(workerData.dist);
    (async () => {
      const outs = [];
      for (let i = 0; i < 5; i++) {
        const ex = command('/bin/sh', ['-c', 'hostname'], { cwd: workerData.dir, stdio: ['ignore', 'pipe', 'inherit'] });
        ex.isolate({ hostname: 'confine-w' + i, processes: 'private' });
        await ex.start();
        let out = '';
        ex.stdout.on('data', (d) => (out += d));
        const [st] = await Promise.all([ex.wait(), new Promise((r) => ex.stdout.on('end', r))]);
        outs.push(st.exitCode + ':' + out.trim());
      }
      parentPort.postMessage(outs);
    })().catch((e) => parentPort.postMessage(String(e && e.stack)));`;
  try {
    const { command } = require(path.join(ROOT, 'dist', 'index.js'));
    const w = new Worker(src, { eval: true, workerData: { dist: path.join(ROOT, 'dist', 'index.js'), dir } });
    const fromWorker = new Promise((resolve, reject) => {
      w.once('message', resolve);
      w.once('error', reject);
    });
    const mine = [];
    for (let i = 0; i < 5; i++) {
      const ex = command('/bin/sh', ['-c', 'hostname'], { cwd: dir, stdio: ['ignore', 'pipe', 'inherit'] });
      ex.isolate({ hostname: `confine-m${i}`, processes: 'private' });
      await ex.start();
      let out = '';
      ex.stdout.on('data', (d) => (out += d));
      const [st] = await Promise.all([ex.wait(), new Promise((r) => ex.stdout.on('end', r))]);
      mine.push(`${st.exitCode}:${out.trim()}`);
    }
    assert.deepEqual(
      mine,
      [0, 1, 2, 3, 4].map((i) => `0:confine-m${i}`),
    );
    assert.deepEqual(
      await fromWorker,
      [0, 1, 2, 3, 4].map((i) => `0:confine-w${i}`),
    );
    // Left to end by itself: terminate() while an exit watch's callback is due aborts the
    // process (FATAL ERROR: Error::Error napi_define_properties, main's build too; reported).
    await new Promise((resolve) => (w.threadId === -1 ? resolve() : w.once('exit', resolve)));
    assert.deepEqual(zombieChildren(), []);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
