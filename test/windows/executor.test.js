'use strict';
// The windows backend through the public API (dist/index.js), with the cross-built addon under
// Wine (scripts/windows/test.sh) or the local build on Windows. What Wine does not enforce
// (memory and process-count limits, CPU rate) is checked to be reported as not enforced, and the
// tests of real enforcement are skipped here with the reason.
if (process.platform === 'win32' && process.env.CONFINE_WIN_ADDON) process.env.CONFINE_ADDON_PATH = process.env.CONFINE_WIN_ADDON;
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const h = require('./helpers');

const skip = h.notWindows;
const confine = skip ? null : require('../../dist/index.js');
const wine = skip ? null : h.wine();
const NODE = process.execPath;
const IDLE = 'setInterval(() => {}, 1000)';

function events(ex) {
  const seen = [];
  for (const e of ['spawn', 'exit', 'close', 'error']) ex.on(e, () => seen.push(e));
  return seen;
}

/** The first line the stream writes. */
function firstLine(stream) {
  return new Promise((resolve, reject) => {
    let text = '';
    stream.setEncoding('utf8');
    stream.on('data', (d) => {
      text += d;
      const i = text.indexOf('\n');
      if (i >= 0) resolve(text.slice(0, i).trim());
    });
    stream.once('end', () => resolve(text.trim()));
    stream.once('error', reject);
  });
}

/** Stops whatever a test started, whatever happened. */
function stopAfter(t, ex) {
  t.after(() => ex.forceStop().catch(() => {}));
  return ex;
}

test('autoselectExecutor() is windows with the addon; capabilities say why', { skip }, () => {
  assert.equal(confine.autoselectExecutor(), 'windows');
  const caps = confine.capabilities();
  assert.equal(caps.native, true);
  assert.equal(caps.backend, 'windows');
  assert.ok(caps.backends.includes('windows'));
  assert.equal(caps.resources.openFiles.enforced, false);
  assert.equal(caps.detail.treeStop.mechanism, 'job');
});

test('shutdown with grace: a child that ignores it is killed after the grace; kill() terminates the leader', {
  skip,
}, async (t) => {
  const ex = stopAfter(t, confine.command(NODE, ['-e', `process.on('SIGBREAK', () => {}); ${IDLE}`], { stdio: 'ignore' }));
  await ex.start();
  const t0 = performance.now();
  const st = await ex.shutdown({ signal: 'SIGTERM', graceMs: 300 });
  const ms = performance.now() - t0;
  assert.ok(ms >= 280, `stopped after ${ms} ms: not before the grace`);
  assert.equal(st.stopped, true);
  assert.equal(st.exitCode, 1);
  assert.ok(!h.alive(ex.pid));

  const k = stopAfter(t, confine.command(NODE, ['-e', IDLE], { stdio: 'ignore' }));
  await k.start();
  assert.equal(k.kill('SIGTERM'), true);
  const ks = await k.wait();
  assert.equal(ks.exitCode, 1);
  assert.equal(ks.signal, null);
  assert.equal(k.kill(), false, 'gone');
});

test('timeout → timedOut', { skip }, async (t) => {
  const ex = stopAfter(t, confine.command(NODE, ['-e', IDLE], { stdio: 'ignore', timeout: 200, graceMs: 100 }));
  await ex.start();
  const st = await ex.wait();
  assert.equal(st.timedOut, true);
  assert.equal(st.stopped, true);
});

test("cmd /c 'exit 7': exit code 7, signal null, events spawn → exit → close", { skip }, async () => {
  const ex = confine.command('cmd.exe', ['/d', '/c', 'exit 7'], { stdio: 'ignore' });
  assert.equal(ex.kind, 'windows');
  const seen = events(ex);
  await ex.start();
  assert.ok(ex.pid > 0);
  const st = await ex.wait();
  assert.equal(st.exitCode, 7);
  assert.equal(st.signal, null);
  assert.equal(st.oomKilled, false);
  assert.equal(st.stopped, false);
  await new Promise((r) => (seen.includes('close') ? r() : ex.once('close', r)));
  assert.deepEqual(seen, ['spawn', 'exit', 'close']);
});

test('stdio pipes: stdin → node.exe → stdout, stderr; cmd echo; a .cmd file through cmd.exe', { skip }, async () => {
  const ex = confine.command(NODE, [
    '-e',
    "process.stdin.on('data', (d) => process.stdout.write(String(d).toUpperCase())); process.stdin.on('end', () => { process.stderr.write('done'); })",
  ]);
  await ex.start();
  const out = h.collect(ex.stdout);
  const err = h.collect(ex.stderr);
  ex.stdin.end('hello, job');
  assert.equal(await out, 'HELLO, JOB');
  assert.equal(await err, 'done');
  assert.equal((await ex.wait()).exitCode, 0);

  const echo = confine.command('cmd', ['/d', '/c', 'echo hi'], { stdio: ['ignore', 'pipe', 'ignore'] });
  await echo.start();
  assert.equal((await h.collect(echo.stdout)).trim(), 'hi');
  assert.equal((await echo.wait()).exitCode, 0);

  const bat = path.join(path.dirname(h.tmpFile('x')), 'args & more.cmd');
  fs.writeFileSync(bat, '@echo off\r\necho [%1] [%2]\r\nexit /b 3\r\n');
  const b = confine.command(bat, ['a b', 'x&y'], { stdio: ['ignore', 'pipe', 'ignore'] });
  await b.start();
  assert.equal((await h.collect(b.stdout)).trim(), '["a b"] ["x&y"]');
  assert.equal((await b.wait()).exitCode, 3);
  await assert.rejects(confine.command(bat, ['%PATH%'], { stdio: 'ignore' }).start(), { code: 'ERR_CONFINE_INVALID_ARGUMENT' });
});

test('spawn(): stdio at once, spawn then exit then close; shell runs cmd.exe /d /s /c; ENOENT as an error event', {
  skip,
}, async () => {
  const child = confine.spawn(NODE, ['-e', 'process.stdin.pipe(process.stdout)']);
  assert.equal(typeof child.pid, 'number');
  assert.ok(child.stdin && child.stdout && child.stderr, 'stdio is there before any event');
  const seen = events(child);
  const out = h.collect(child.stdout);
  child.stdin.end('through the job');
  assert.equal(await out, 'through the job');
  await new Promise((r) => child.once('close', r));
  assert.deepEqual(seen, ['spawn', 'exit', 'close']);
  assert.equal(child.exitCode, 0);

  const sh = confine.spawn('echo', ['shell', 'line'], { shell: true, stdio: ['ignore', 'pipe', 'ignore'] });
  assert.match(sh.spawnfile, /cmd(\.exe)?$/i);
  assert.deepEqual(sh.spawnargs.slice(1), ['/d', '/s', '/c', '"echo shell line"']);
  assert.equal((await h.collect(sh.stdout)).trim(), 'shell line');
  assert.equal((await sh.wait()).exitCode, 0);

  const missing = confine.spawn('confine-no-such-program.exe');
  const [err] = await new Promise((r) => missing.once('error', (...a) => r(a)));
  assert.equal(err.code, 'ENOENT');
  assert.equal(err.syscall, 'spawn confine-no-such-program.exe');
});

test('forceStop kills the child and its grandchild (checked by pid); stats count both', { skip }, async (t) => {
  const script = `const c = require('child_process').spawn(process.execPath, ['-e', '${IDLE}'], { stdio: 'ignore' }); console.log(c.pid); ${IDLE}`;
  const ex = stopAfter(t, confine.command(NODE, ['-e', script], { stdio: ['ignore', 'pipe', 'ignore'] }));
  await ex.start();
  const grandchild = Number(await firstLine(ex.stdout));
  assert.ok(grandchild > 0 && grandchild !== ex.pid);
  assert.ok(h.alive(ex.pid) && h.alive(grandchild));
  const stats = await ex.stats();
  assert.ok(stats.processes >= 2, `processes ${stats.processes}`);
  assert.equal(typeof stats.memoryBytes, 'number');
  const upd = await ex.update({ maxProcesses: 16, openFiles: 64 });
  assert.equal(upd.maxProcesses.mechanism, 'job');
  assert.equal(upd.maxProcesses.enforced, !wine);
  assert.equal(upd.openFiles.enforced, false);
  const st = await ex.forceStop();
  assert.equal(st.stopped, true);
  assert.equal(st.signal, null);
  assert.equal(st.exitCode, 1);
  assert.ok(await h.waitFor(() => !h.alive(ex.pid) && !h.alive(grandchild), 30000), 'no process of the tree is alive');
});

test('missing program → CommandNotFoundError, nothing started; not a program → SpawnError at create', { skip }, async () => {
  const ex = confine.command('confine-no-such-program-here', [], { stdio: 'ignore' });
  await assert.rejects(
    ex.start(),
    (e) => e instanceof confine.CommandNotFoundError && e.code === 'ERR_CONFINE_COMMAND_NOT_FOUND' && e.errno === 'ENOENT',
  );
  assert.equal(ex.pid, undefined);
  assert.equal(ex.handle, null);

  const txt = h.tmpFile('not-a-program.exe');
  fs.writeFileSync(txt, 'plain text');
  const bad = confine.command(txt, [], { stdio: 'ignore' });
  await assert.rejects(bad.start(), (e) => {
    assert.ok(e instanceof confine.SpawnError, `${e.name}: ${e.message}`);
    assert.equal(e.stage, 'create');
    assert.match(e.syscall, /^CreateProcess/);
    assert.ok(e.errno);
    return true;
  });
  assert.equal(bad.pid, undefined);
});

test('enforced: job limits, and under Wine memory/process count reported as not enforced', { skip }, () => {
  const ex = confine
    .command(NODE, ['-e', ''], { killOnParentExit: true })
    .limit({ memoryBytes: 64 * 2 ** 20, maxProcesses: 4, cpu: 0.5, openFiles: 100 });
  const e = ex.enforced;
  assert.equal(e.memoryBytes.mechanism, 'job');
  assert.equal(e.memoryBytes.scope, 'tree');
  assert.equal(e.maxProcesses.mechanism, 'job');
  assert.equal(e.openFiles.enforced, false);
  assert.equal(e.killOnParentExit.enforced, true);
  assert.equal(e.treeStop.enforced, true);
  assert.equal(e.cpu.enforced, h.addon().probe().features.cpuRateControl === true);
  if (wine) {
    assert.equal(e.memoryBytes.enforced, false);
    assert.match(e.memoryBytes.note, /Wine/);
    assert.equal(e.maxProcesses.enforced, false);
    assert.match(e.maxProcesses.note, /Wine/);
  } else {
    assert.equal(e.memoryBytes.enforced, true);
    assert.equal(e.maxProcesses.enforced, true);
  }
});

test('memoryBytes ends the tree as oomKilled', {
  skip:
    skip || (wine ? 'Wine accepts Job Object memory limits but does not enforce them (docs/native-win.md, "Under Wine")' : false),
}, async (t) => {
  const ex = stopAfter(
    t,
    confine
      .command(NODE, ['-e', 'const a = []; for (;;) a.push(Buffer.alloc(1 << 20, 1));'], { stdio: 'ignore', strict: true })
      .limit({ memoryBytes: 96 * 2 ** 20 }),
  );
  await ex.start();
  const st = await ex.wait();
  assert.equal(st.oomKilled, true);
});

test('strict with an unenforceable limit rejects before anything starts', { skip }, async () => {
  const ex = confine.command(NODE, ['-e', ''], { stdio: 'ignore', strict: true }).limit({ openFiles: 64 });
  await assert.rejects(ex.start(), (e) => e instanceof confine.UnenforcedError && e.limits.includes('openFiles'));
  assert.equal(ex.pid, undefined);
});

test('handle → the backend attaches by job name and pid, proves identity, and stops the tree', { skip }, async (t) => {
  const { backendFor } = require('../../dist/backends/select.js');
  const { decodeHandle } = require('../../dist/backends/backend.js');
  const ex = stopAfter(t, confine.command(NODE, ['-e', IDLE], { stdio: 'ignore' }));
  await ex.start();
  const data = decodeHandle(ex.handle);
  assert.equal(data.kind, 'windows');
  assert.equal(data.pid, ex.pid);
  assert.match(data.extra.job, /^Local\\confine-/);
  const b = backendFor('windows');
  await assert.rejects(b.attach({ ...data, startTime: '1' }), { code: 'ERR_CONFINE_STALE_HANDLE' });
  await assert.rejects(b.attach({ ...data, pid: process.pid }), { code: 'ERR_CONFINE_STALE_HANDLE' });
  const tree = await b.attach(data);
  assert.equal(tree.pid, ex.pid);
  assert.ok((await tree.stats()).processes >= 1);
  await tree.killTree();
  const raw = await tree.exited;
  assert.equal(raw.exitCode, 1);
  await tree.release();
  assert.equal((await ex.wait()).exitCode, 1);
});

test('handle → openPid round-trip', { skip }, async (t) => {
  const ex = stopAfter(t, confine.command(NODE, ['-e', IDLE], { stdio: 'ignore' }));
  await ex.start();
  const again = await confine.openPid(ex.handle);
  assert.equal(again.kind, 'windows');
  assert.equal(again.pid, ex.pid);
  const st = await again.forceStop();
  assert.equal(st.reattached, true);
  assert.equal((await ex.wait()).exitCode, 1);
});

test('runAs({ restricted: true }): the child starts with a restricted token; enforced says what Wine does with it', {
  skip,
}, async (t) => {
  const ex = stopAfter(
    t,
    confine.command(NODE, ['-e', 'process.exit(3)'], { stdio: 'ignore' }).runAs({ restricted: true, integrity: 'low' }),
  );
  const claim = ex.enforced.runAs;
  const wine = h.wine();
  assert.equal(claim.enforced, !wine, claim.note);
  if (wine) assert.match(claim.note, /Wine/);
  else assert.equal(claim.mechanism, 'restricted-token');
  await ex.start();
  assert.equal((await ex.wait()).exitCode, 3);
});
