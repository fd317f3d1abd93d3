'use strict';
// Limits Wine accepts but does not enforce (../../shared/windows-under-wine.md): these tests run
// on real Windows and are skipped under Wine with the reason, never faked.
const test = require('node:test');
const assert = require('node:assert/strict');
const h = require('./helpers');

const underWine = () =>
  h.isWindows && h.wine() ? `Wine ${h.wine()} accepts but does not enforce this limit; runs on real Windows` : false;

test('memoryBytes: allocation past the job limit kills the tree and reports oomKilled', {
  skip: h.notWindows || underWine(),
}, async (t) => {
  const r = h.spawnNode('const a=[];for(;;)a.push(Buffer.alloc(16*1024*1024,1))', [], { limits: { memoryBytes: 96 * 2 ** 20 } });
  h.cleanup(t, r.job);
  const events = [];
  const exit = await h.watch(r.job, events);
  assert.equal(exit.oomKilled, true, JSON.stringify({ exit, events }));
  assert.ok(exit.memoryPeakBytes > 0 && exit.memoryPeakBytes <= 100 * 2 ** 20, String(exit.memoryPeakBytes));
});

test('maxProcesses: the tree cannot grow past the limit', { skip: h.notWindows || underWine() }, async (t) => {
  const out = h.outFile();
  const script = `const {spawnSync}=require('child_process');let ok=0,fail=0;for(let i=0;i<3;i++){const r=spawnSync(process.execPath,['-e','0']);if(r.error||r.status!==0)fail++;else ok++;}process.stdout.write(JSON.stringify({ok,fail}))`;
  const r = h.spawnNode(script, [], { limits: { maxProcesses: 1 }, stdio: ['ignore', out.stdio, 'ignore'] });
  h.cleanup(t, r.job);
  const events = [];
  await h.watch(r.job, events);
  out.close();
  assert.deepEqual(JSON.parse(out.read()), { ok: 0, fail: 3 });
  assert.ok(
    events.some((e) => e.type === 'activeProcessLimit'),
    JSON.stringify(events),
  );
});

test('cpuSeconds: a busy child is ended and cpuTimeExceeded is reported', { skip: h.notWindows || underWine() }, async (t) => {
  const r = h.spawnNode('for(;;){}', [], { limits: { cpuSeconds: 1 } });
  h.cleanup(t, r.job);
  const exit = await h.watch(r.job);
  assert.equal(exit.cpuTimeExceeded, true);
});

test('cpu: a hard cap is written as a CPU rate', {
  skip:
    h.notWindows ||
    (h.isWindows && !h.addon().probe().features.cpuRateControl
      ? 'this system refuses job CPU rate control (Wine 8: SetInformationJobObject returns ERROR_INVALID_PARAMETER)'
      : false),
}, async (t) => {
  const n = h.addon().probe().features.processors;
  const r = h.spawnNode('setInterval(()=>{},1000)', [], { limits: { cpu: 0.5, cpuWeight: 200 } });
  h.cleanup(t, r.job);
  assert.equal(r.limits.cpuRate, Math.round((0.5 / n) * 10000));
  assert.equal(r.limits.cpuRateWeight, null, 'the cap wins over the weight');
  assert.equal(r.notes.length, 1);
  const u = h.addon().updateLimits(r.job, { cpu: null });
  assert.equal(u.limits.cpuRate, null);
  assert.equal(u.limits.cpuRateWeight, 6);
});

test('strictLimits: a limit that cannot be applied fails the spawn before any process exists', {
  skip: h.notWindows || (h.isWindows && h.addon().probe().features.cpuRateControl ? 'every limit applies on this system' : false),
}, () => {
  assert.throws(() => h.spawnNode('0', [], { limits: { cpu: 0.5 }, strictLimits: true }), {
    code: 'ERR_CONFINE_SPAWN',
    stage: 'limits',
    syscall: 'SetInformationJobObject',
  });
});
