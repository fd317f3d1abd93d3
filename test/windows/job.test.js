'use strict';
// The Job Object: membership of the whole tree, tree kill, kill-on-close, exit codes, errors.
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { spawn: cpSpawn } = require('node:child_process');
const h = require('./helpers');

// Every process of TREE appends its pid to argv[1] + '.beat' every 50 ms: a sign of life that only
// a running process gives (see beatsAfter).
const BEAT = "const f=process.argv[1]+'.beat';setInterval(()=>require('fs').appendFileSync(f,process.pid+'\\n'),50)";
// A child that starts two grandchildren (through child_process, i.e. libuv's own nested job) and
// one great-grandchild, writes all their pids to argv[1], then waits (beating, as they all do).
const TREE = `
const { spawn } = require('child_process'); const fs = require('fs');
const file = process.argv[1];
const beat = ${JSON.stringify(BEAT)};
const gc1 = spawn(process.execPath, ['-e', beat, file], { stdio: 'ignore' });
const gc2 = spawn(process.execPath, ['-e', "const c=require('child_process').spawn(process.execPath,['-e',process.argv[2],process.argv[1]],{stdio:'ignore'});require('fs').writeFileSync(process.argv[1]+'.ggc',String(c.pid));" + beat, file, beat], { stdio: 'ignore' });
const wait = () => { try { const g = Number(fs.readFileSync(file + '.ggc', 'utf8')); if (g) { fs.writeFileSync(file, JSON.stringify([process.pid, gc1.pid, gc2.pid, g])); return; } } catch {} setTimeout(wait, 50); };
wait(); eval(beat);`;

/**
 * Resolves true once every pid has beaten after `mark` (the beat file's length then): each of
 * those processes ran after that moment. false after 60 s.
 */
function beatsAfter(file, mark, pids) {
  return h.waitFor(() => {
    let text = '';
    try {
      text = fs.readFileSync(`${file}.beat`, 'utf8').slice(mark);
    } catch {}
    const beaten = new Set(text.split('\n').filter(Boolean).map(Number));
    return pids.every((p) => beaten.has(p));
  }, 60000);
}

function beatLength(file) {
  try {
    return fs.statSync(`${file}.beat`).size;
  } catch {
    return 0;
  }
}

/** The pids a tree fixture wrote to `file` (JSON), once it has; null after 60 s. */
function pidsWritten(file) {
  return h.waitFor(() => {
    try {
      return JSON.parse(fs.readFileSync(file, 'utf8'));
    } catch {
      return null;
    }
  }, 60000);
}

async function startTree(t, req = {}) {
  const file = h.tmpFile('pids.json');
  const r = h.spawnNode(TREE, [file], req);
  h.cleanup(t, r.job);
  const pids = await pidsWritten(file);
  assert.ok(pids, 'the tree wrote its pids');
  return { r, pids, file };
}

test('child and grandchildren are all in the job; terminate (forceStop) leaves none alive', { skip: h.notWindows }, async (t) => {
  const a = h.addon();
  const events = [];
  const { r, pids } = await startTree(t);
  const exited = h.watch(r.job, events);
  assert.equal(pids[0], r.pid);
  for (const pid of pids) assert.equal(a.inJob(r.job, pid), true, `pid ${pid} in the job`);
  const st = a.stats(r.job);
  for (const pid of pids) assert.ok(st.pids.includes(pid), `stats lists ${pid}`);
  assert.ok(st.processes >= 4, `processes ${st.processes}`);
  a.terminate(r.job, 9);
  const exit = await exited;
  assert.equal(exit.exitCode, 9);
  assert.equal(exit.terminated, true);
  assert.equal(exit.oomKilled, false);
  assert.ok(await h.waitFor(() => pids.every((p) => !h.alive(p)), 60000), 'no process of the tree is alive');
  assert.deepEqual(a.stats(r.job).pids, []);
  a.close(r.job);
});

test('exit codes come from the process handle', { skip: h.notWindows }, async (t) => {
  const a = h.addon();
  for (const [script, code] of [
    ['', 0],
    ['process.exit(3)', 3],
    ['process.exit(255)', 255],
    ['process.exitCode = 70000', 70000],
  ]) {
    const r = h.spawnNode(script);
    h.cleanup(t, r.job);
    const exit = await h.watch(r.job);
    a.close(r.job);
    assert.equal(exit.exitCode, code, script);
    assert.equal(exit.terminated, false);
  }
  const cmd = path.join(process.env.SystemRoot || 'C:\\windows', 'system32', 'cmd.exe');
  const r = a.spawn({ file: cmd, argv: ['cmd', '/d', '/c', 'exit 42'], stdio: ['ignore', 'ignore', 'ignore'] });
  assert.equal((await h.watch(r.job)).exitCode, 42);
  a.close(r.job);
});

test('watch after the exit still reports it; job events arrive', { skip: h.notWindows }, async (t) => {
  const a = h.addon();
  const r = h.spawnNode('process.exit(5)');
  h.cleanup(t, r.job);
  assert.ok(await h.waitFor(() => !h.alive(r.pid), 60000), 'exited');
  const events = [];
  const exit = await h.watch(r.job, events);
  assert.equal(exit.exitCode, 5);
  assert.ok(await h.waitFor(() => events.some((e) => e.type === 'activeProcessZero'), 30000), JSON.stringify(events));
  a.close(r.job);
});

test('close() of a killOnClose job kills the tree; without it the tree survives and openJob finds it again', {
  skip: h.notWindows,
}, async (t) => {
  const a = h.addon();
  const k = await startTree(t, { killOnClose: true });
  a.close(k.r.job);
  assert.ok(await h.waitFor(() => k.pids.every((p) => !h.alive(p)), 60000), 'killOnClose: tree gone after close');

  const s = await startTree(t, { killOnClose: false });
  const name = s.r.jobName;
  const mark = beatLength(s.file);
  a.close(s.r.job);
  // A kill at close would come before any beat after it: every process beating proves it lives.
  assert.ok(await beatsAfter(s.file, mark, s.pids), 'every process of the tree ran after the close');
  assert.ok(
    s.pids.every((p) => h.alive(p)),
    'tree survives close without killOnClose',
  );
  const o = a.openJob(name, s.r.pid);
  h.cleanup(t, o.job);
  assert.equal(o.alive, true);
  assert.equal(o.pid, s.r.pid);
  for (const pid of s.pids) assert.equal(a.inJob(o.job, pid), true);
  const exited = h.watch(o.job);
  a.terminate(o.job, 1);
  assert.equal((await exited).exitCode, 1);
  assert.ok(await h.waitFor(() => s.pids.every((p) => !h.alive(p)), 60000));
  a.close(o.job);
  // identity: a pid that is not in the job is refused
  assert.throws(() => a.openJob(name, process.pid), { code: 'ERR_CONFINE_SYSTEM', stage: 'identity' });
});

test('a supervisor that dies takes a killOnClose tree with it', { skip: h.notWindows }, async (t) => {
  const file = h.tmpFile('pids.json');
  const supervisor = `
    const a = require(process.env.CONFINE_WIN_ADDON_FOR_CHILD);
    const r = a.spawn({ file: process.execPath, argv: ['node', '-e', ${JSON.stringify(TREE)}, process.argv[1]], killOnClose: true, stdio: ['ignore','ignore','ignore'] });
    setInterval(() => {}, 1000);`;
  const addonPath = process.env.CONFINE_WIN_ADDON || path.join(__dirname, '..', '..', 'build', 'Release', 'confine.node');
  const sup = cpSpawn(process.execPath, ['-e', supervisor, file], {
    stdio: 'ignore',
    env: { ...process.env, CONFINE_WIN_ADDON_FOR_CHILD: addonPath },
  });
  t.after(() => {
    try {
      sup.kill();
    } catch {}
  });
  const pids = await pidsWritten(file);
  assert.ok(pids, 'tree started by the supervisor');
  t.after(() => {
    for (const p of pids) {
      try {
        process.kill(p);
      } catch {}
    }
  });
  assert.ok(pids.every((p) => h.alive(p)));
  sup.kill(); // TerminateProcess: no chance to clean up; the OS closes its job handle
  await new Promise((r) => sup.once('exit', r));
  assert.ok(await h.waitFor(() => pids.every((p) => !h.alive(p)), 60000), 'tree gone with its supervisor');
});

test('a missing program: typed error, no leaked handle', { skip: h.notWindows }, () => {
  const a = h.addon();
  const req = {
    file: 'C:\\confine-missing\\nope.exe',
    argv: ['nope'],
    stdio: ['ignore', 'inherit', 'inherit'],
    killOnClose: true,
  };
  const attempt = () =>
    assert.throws(
      () => a.spawn(req),
      (e) => {
        assert.equal(e.code, 'ERR_CONFINE_SPAWN');
        assert.equal(e.stage, 'create');
        assert.equal(e.syscall, 'CreateProcessW');
        assert.match(e.errno, /^ERROR_(PATH|FILE)_NOT_FOUND$/);
        assert.equal(e.posixErrno, 'ENOENT');
        return true;
      },
    );
  for (let i = 0; i < 3; i++) attempt(); // warm-up (completion port thread, lazily loaded DLLs)
  const before = a.handleCount();
  for (let i = 0; i < 30; i++) attempt();
  const after = a.handleCount();
  assert.ok(after - before < 5, `handles before ${before}, after 30 failed spawns ${after}`);
  assert.throws(() => a.spawn({ ...req, file: process.execPath, cwd: 'C:\\confine-missing-dir' }), {
    code: 'ERR_CONFINE_SPAWN',
    stage: 'chdir',
    syscall: 'GetFileAttributesW',
  });
});

test('stats and updateLimits', { skip: h.notWindows }, async (t) => {
  const a = h.addon();
  const r = h.spawnNode('setInterval(() => {}, 1000)', [], { limits: { memoryBytes: 512 * 2 ** 20, maxProcesses: 16 } });
  h.cleanup(t, r.job);
  assert.equal(r.limits.memoryBytes, 512 * 2 ** 20);
  assert.equal(r.limits.maxProcesses, 16);
  const st = a.stats(r.job);
  assert.equal(st.processes, 1);
  assert.deepEqual(st.pids, [r.pid]);
  const u = a.updateLimits(r.job, { maxProcesses: null, cpuSeconds: 100, cpu: 1 });
  assert.equal(u.limits.maxProcesses, null);
  assert.equal(u.limits.memoryBytes, 512 * 2 ** 20, 'untouched limits stay');
  assert.equal(u.limits.cpuSeconds, 100);
  if (a.probe().features.cpuRateControl) {
    assert.ok(u.limits.cpuRate >= 1 && u.limits.cpuRate <= 10000);
    assert.deepEqual(u.limitErrors, {});
  } else {
    // Wine: CPU rate control is refused; reported per limit, the rest still applied
    assert.equal(u.limitErrors.cpu.syscall, 'SetInformationJobObject');
    assert.equal(u.limits.cpu, null);
  }
  const exited = h.watch(r.job);
  a.terminate(r.job, 1);
  await exited;
  a.close(r.job);
});
