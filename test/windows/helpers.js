'use strict';
// Shared helpers for test/windows/*.test.js. These tests run with a Windows node.exe (under
// Wine here: scripts/windows/test.sh; on a real Windows runner: the same files). Loading this
// file does nothing by itself, so Linux's `node --test test/` passes over it harmlessly.
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const net = require('node:net');

const isWindows = process.platform === 'win32';
const notWindows = isWindows ? false : 'Windows only: run `npm run test:windows` (node.exe under Wine) or on Windows';

let cached;
function addon() {
  if (!cached) {
    const p = process.env.CONFINE_WIN_ADDON || path.join(__dirname, '..', '..', 'build', 'Release', 'confine.node');
    cached = require(p);
  }
  return cached;
}

/** wine_get_version() of ntdll, or null on real Windows. */
function wine() {
  return addon().probe().features.wine;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function waitFor(cond, ms = 30000, step = 50) {
  const end = performance.now() + ms; // monotonic; generous: it bounds a failure, not the speed
  for (;;) {
    const v = await cond();
    if (v) return v;
    if (performance.now() > end) return v;
    await sleep(step);
  }
}

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return e.code === 'EPERM';
  }
}

function tmpFile(name) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'confine-win-'));
  return path.join(dir, name);
}

/** A file the child writes as stdout/stderr: { fd, read(), close() }. */
function outFile(name = 'out.txt') {
  const file = tmpFile(name);
  const fd = fs.openSync(file, 'w');
  return {
    file,
    fd,
    stdio: { type: 'fd', fd },
    read: () => fs.readFileSync(file, 'utf8'),
    close: () => {
      try {
        fs.closeSync(fd);
      } catch {}
    },
  };
}

/** Terminates and closes the job when the test ends, whatever happened (a hung test would
 *  otherwise keep the runner's event loop alive through the exit watch). */
function cleanup(t, job) {
  t.after(() => {
    try {
      addon().terminate(job, 1);
    } catch {}
    try {
      addon().close(job);
    } catch {}
  });
  return job;
}

/** Starts node.exe -e script with args inside a new job. */
function spawnNode(script, args = [], req = {}) {
  return addon().spawn({
    file: process.execPath,
    argv: ['node', '-e', script, ...args],
    stdio: req.stdio || ['ignore', 'ignore', 'ignore'],
    ...req,
  });
}

/** Resolves with the exit info once; also collects job events into `events`. */
function watch(job, events) {
  return new Promise((resolve) => {
    addon().watch(job, resolve, events ? (ev) => events.push(ev) : undefined);
  });
}

/** A named-pipe server for one stdio stream: { path, socket: Promise<net.Socket>, close() }. */
async function pipeServer() {
  const name = `\\\\.\\pipe\\confine-test-${process.pid}-${Math.random().toString(16).slice(2)}`;
  const server = net.createServer();
  const socket = new Promise((resolve) =>
    server.once('connection', (s) => {
      server.close();
      resolve(s);
    }),
  );
  await new Promise((resolve, reject) => server.listen(name, resolve).once('error', reject));
  return { path: name, socket, close: () => server.close() };
}

function collect(stream) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    stream.on('data', (c) => chunks.push(c));
    stream.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    stream.on('error', reject);
  });
}

module.exports = {
  cleanup,
  isWindows,
  notWindows,
  addon,
  wine,
  sleep,
  waitFor,
  alive,
  tmpFile,
  outFile,
  spawnNode,
  watch,
  pipeServer,
  collect,
};
