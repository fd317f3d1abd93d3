// Loaded with `node --require` before one of Node's own test files (scripts/node-compat/run.mjs).
// It replaces exactly one binding, `child_process.spawn`, with the target below, the same
// change as editing the test's `require('child_process')` line, and nothing else: fork(), exec(),
// execFile(), spawnSync() and the ChildProcess class stay Node's own (they call Node's internal
// spawn, not the export). It counts the calls that reach the target and appends
// "<pid> <calls>" to $CONFINE_COMPAT_CALLS at exit, so the runner can tell a file that
// exercised the target from one whose spawn() calls all went elsewhere.
//
// Targets ($CONFINE_COMPAT_TARGET):
//   node           Node's own spawn, only counted: the plain run, which shows whether a file
//                  calls spawn() at all on this host
//   spawn          confine.spawn, the drop-in
//   command-start  the API before spawn() existed, used as child_process users would:
//                  command(file, args, options) and start() without awaiting it
//   command-shim   the same, with the asynchronous start hidden: stdio streams, kill() and
//                  the events are stand-ins, connected once start() has resolved

'use strict';

const childProcess = require('node:child_process');
const { syncBuiltinESMExports } = require('node:module');
const { appendFileSync } = require('node:fs');
const path = require('node:path');

const target = process.env.CONFINE_COMPAT_TARGET || 'spawn';
const confine =
  target === 'node' ? null : require(process.env.CONFINE_COMPAT_DIST || path.join(__dirname, '..', '..', 'dist', 'index.js'));
const nodeSpawn = childProcess.spawn;
let calls = 0;

function commandStart(file, args, options) {
  const ex = confine.command(file, args, options);
  ex.start().catch(() => {}); // reported through 'error' where a listener is attached
  return ex;
}

function commandShim(file, args, options) {
  const { EventEmitter } = require('node:events');
  const { PassThrough } = require('node:stream');
  const ex = confine.command(file, args, options);
  const shim = new EventEmitter();
  const stdio = options?.stdio;
  const piped = (i) => {
    const s = typeof stdio === 'string' ? stdio : Array.isArray(stdio) ? stdio[i] : undefined;
    return s === undefined || s === null || s === 'pipe' || s === 'overlapped';
  };
  shim.stdio = [0, 1, 2].map((i) => (piped(i) ? new PassThrough() : null));
  [shim.stdin, shim.stdout, shim.stderr] = shim.stdio;
  let pendingKill = null;
  shim.killed = false;
  shim.exitCode = null;
  shim.signalCode = null;
  shim.kill = (sig) => {
    if (ex.pid === undefined) {
      pendingKill = sig ?? 'SIGTERM';
      shim.killed = true;
      return true;
    }
    const ok = ex.kill(sig);
    if (ok) shim.killed = true;
    return ok;
  };
  Object.defineProperty(shim, 'pid', { get: () => ex.pid });
  for (const ev of ['spawn', 'exit', 'close', 'error']) ex.on(ev, (...a) => shim.emit(ev, ...a));
  ex.on('exit', (code, sig) => {
    shim.exitCode = code;
    shim.signalCode = sig;
  });
  ex.start().then(
    () => {
      if (shim.stdin && ex.stdin) shim.stdin.pipe(ex.stdin);
      if (shim.stdout && ex.stdout) ex.stdout.pipe(shim.stdout);
      if (shim.stderr && ex.stderr) ex.stderr.pipe(shim.stderr);
      if (pendingKill !== null) ex.kill(pendingKill);
    },
    () => {
      for (const s of shim.stdio) s?.destroy();
    },
  );
  shim.ref = () => {};
  shim.unref = () => {};
  return shim;
}

const impl = {
  node: nodeSpawn,
  spawn: (...a) => confine.spawn(...a),
  'command-start': commandStart,
  'command-shim': commandShim,
}[target];
if (!impl) throw new Error(`CONFINE_COMPAT_TARGET: unknown target ${target}`);

childProcess.spawn = function spawn(...args) {
  calls++;
  return impl(...args);
};
syncBuiltinESMExports(); // `import { spawn } from 'node:child_process'` sees it too

if (process.env.CONFINE_COMPAT_CALLS) {
  const file = process.env.CONFINE_COMPAT_CALLS;
  process.on('exit', () => appendFileSync(file, `${process.pid} ${calls}\n`));
}
