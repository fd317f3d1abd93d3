'use strict';
// stdio: 'pipe' through named pipes the supervisor serves (net.Server), 'ignore' (NUL), 'inherit'
// and an fd; the child inherits exactly those handles.
const test = require('node:test');
const assert = require('node:assert/strict');
const h = require('./helpers');

test('pipes: stdin → child → stdout and stderr as Node streams', { skip: h.notWindows }, async (t) => {
  const a = h.addon();
  const [pin, pout, perr] = await Promise.all([h.pipeServer(), h.pipeServer(), h.pipeServer()]);
  const r = h.spawnNode(
    "let s='';process.stdin.setEncoding('utf8');process.stdin.on('data',d=>s+=d);process.stdin.on('end',()=>{process.stdout.write(s.toUpperCase());process.stderr.write('err:'+s.length)})",
    [],
    {
      stdio: [
        { type: 'pipe', path: pin.path },
        { type: 'pipe', path: pout.path },
        { type: 'pipe', path: perr.path },
      ],
    },
  );
  h.cleanup(t, r.job);
  const [sin, sout, serr] = await Promise.all([pin.socket, pout.socket, perr.socket]);
  const outP = h.collect(sout);
  const errP = h.collect(serr);
  sin.end('hello wörld ☃');
  const [out, err, exit] = await Promise.all([outP, errP, h.watch(r.job)]);
  assert.equal(out, 'HELLO WÖRLD ☃');
  assert.equal(err, 'err:13');
  assert.equal(exit.exitCode, 0);
});

test('ignore, fd and inherit', { skip: h.notWindows }, async (t) => {
  const a = h.addon();
  const out = h.outFile();
  const r = h.spawnNode(
    "process.stdin.on('data',()=>{}).on('end',()=>{console.log('eof');console.error('to inherited stderr')})",
    [],
    {
      stdio: ['ignore', out.stdio, 'inherit'],
    },
  );
  h.cleanup(t, r.job);
  const exit = await h.watch(r.job);
  out.close();
  assert.equal(exit.exitCode, 0);
  assert.equal(out.read().trim(), 'eof');
});

test('a pipe name nobody serves: typed error at stage stdio, nothing started', { skip: h.notWindows }, () => {
  assert.throws(
    () =>
      h.addon().spawn({
        file: process.execPath,
        argv: ['node'],
        stdio: ['ignore', { type: 'pipe', path: '\\\\.\\pipe\\confine-nobody-' + process.pid }, 'ignore'],
      }),
    { code: 'ERR_CONFINE_SPAWN', stage: 'stdio', syscall: 'CreateFileW', errno: 'ERROR_FILE_NOT_FOUND' },
  );
});

test('only the stdio handles are inherited', { skip: h.notWindows }, async (t) => {
  // An inheritable handle of the supervisor (libuv makes its pipes non-inheritable, so open one
  // the blunt way: a file opened by Node is inheritable? Not reliably: count the child's handles
  // instead against a child started with all-'ignore' stdio).
  const a = h.addon();
  const out1 = h.outFile();
  const count = 'process.stdout.write(String(require(process.argv[1]).handleCount()))';
  const addonPath = process.env.CONFINE_WIN_ADDON;
  const r1 = h.spawnNode(count, [addonPath], { stdio: ['ignore', out1.stdio, 'ignore'] });
  h.cleanup(t, r1.job);
  await h.watch(r1.job);
  out1.close();
  const n1 = Number(out1.read());
  // open 20 inheritable handles in the supervisor; the child must not see them
  const extra = [];
  for (let i = 0; i < 20; i++) extra.push(require('node:fs').openSync(out1.file, 'r'));
  const out2 = h.outFile();
  const r2 = h.spawnNode(count, [addonPath], { stdio: ['ignore', out2.stdio, 'ignore'] });
  h.cleanup(t, r2.job);
  await h.watch(r2.job);
  out2.close();
  for (const fd of extra) require('node:fs').closeSync(fd);
  const n2 = Number(out2.read());
  t.diagnostic(`child handle count: ${n1}, with 20 more open in the supervisor: ${n2}`);
  assert.ok(n1 > 0 && Math.abs(n2 - n1) < 10, `${n1} vs ${n2}`);
});
