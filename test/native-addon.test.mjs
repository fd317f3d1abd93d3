// The native addon against real processes and real users (docs/native-api.md is the contract).
// Runs as root on Linux: creates a user and a group named confine-t*, removes them afterwards.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { execFileSync, spawn as cpSpawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { addonExitOf, doomed, fdSnapshot, newFds } from './helpers.mjs';

const require = createRequire(import.meta.url);
const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const addon = require('node-gyp-build')(ROOT);

const linuxRoot = process.platform === 'linux' && process.getuid() === 0;
const skip = linuxRoot ? false : 'needs root on Linux';

const tag = `${process.pid % 100000}`;
const USER = `confine-t${tag}`;
const GROUP = `confine-tg${tag}`;
let user; // lookupUser(USER)
let tmp; // a directory the test user can read

const O_RDONLY = fs.constants.O_RDONLY;
const O_RDWR = fs.constants.O_RDWR;

// ---- helpers ----

// Children of this process that are zombies (state Z in /proc/<pid>/stat).
function zombieChildren() {
  const out = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    let stat;
    try {
      stat = fs.readFileSync(`/proc/${name}/stat`, 'utf8');
    } catch {
      continue;
    }
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(fields[1]) === process.pid && fields[0] === 'Z') out.push(Number(name));
  }
  return out;
}

// The fds of a freshly exec'd child, once its dynamic loader is done (ld.so opens each library
// at the lowest free number and closes it again: a transient fd 3 is not a leak). A leaked fd
// stays, so waiting for the expected list up to a deadline still catches it.
async function settledFds(pid, expected) {
  let fds;
  const deadline = performance.now() + 30_000; // generous: it bounds a failure, not the loader
  for (;;) {
    fds = fs.readdirSync(`/proc/${pid}/fd`).sort();
    if (JSON.stringify(fds) === JSON.stringify(expected) || performance.now() > deadline) break;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return fds;
}

/** Polls fn() every 10 ms until it is truthy or 30 s have passed; returns its last value. */
async function poll(fn) {
  const deadline = performance.now() + 30_000;
  for (;;) {
    const v = fn();
    if (v || performance.now() > deadline) return v;
    await new Promise((r) => setTimeout(r, 10));
  }
}

function statusOf(pid) {
  const map = {};
  for (const line of fs.readFileSync(`/proc/${pid}/status`, 'utf8').split('\n')) {
    const i = line.indexOf(':');
    if (i > 0) map[line.slice(0, i)] = line.slice(i + 1).trim();
  }
  return map;
}

function sessionOf(pid) {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { pgrp: Number(fields[2]), sid: Number(fields[3]) };
}

// Resolves with the exit status once the child has been reaped; closes the pidfd.
const exitOf = (child) => addonExitOf(addon, child);

function devNull(flags = O_RDWR) {
  return addon.openDevNull(flags);
}

// Spawns with /dev/null on 0-2 unless stdio is given; closes the /dev/null fd after.
function spawnWith(req) {
  const nul = req.stdio ? -1 : devNull();
  try {
    return addon.spawn({
      argv: [req.file],
      envp: ['PATH=/usr/bin:/bin'],
      stdio: [nul, nul, nul],
      ...req,
    });
  } finally {
    if (nul >= 0) addon.close(nul);
  }
}

function spawnError(req) {
  try {
    const child = spawnWith(req);
    addon.signal(child.pid, child.pidfd, 9);
    return exitOf(child).then(() => assert.fail(`spawn ${req.file} succeeded`));
  } catch (e) {
    return e;
  }
}

// Runs a node script as the test user through the addon itself, collecting stdout and stderr
// into a file the test opened (the child writes through the inherited fd).
async function runNodeAsUser(script) {
  const file = path.join(tmp, `script-${Math.random().toString(36).slice(2)}.cjs`);
  fs.writeFileSync(file, script, { mode: 0o644 });
  const outPath = path.join(tmp, `out-${Math.random().toString(36).slice(2)}`);
  const out = fs.openSync(outPath, 'w+');
  const nul = devNull(O_RDONLY);
  try {
    const child = addon.spawn({
      file: process.execPath,
      argv: ['node', file],
      // LD_PRELOAD passes through for npm run test:asan (the sanitizer runtime must come first).
      envp: ['PATH=/usr/bin:/bin', `HOME=${tmp}`, ...(process.env.LD_PRELOAD ? [`LD_PRELOAD=${process.env.LD_PRELOAD}`] : [])],
      cwd: tmp,
      uid: user.uid,
      gid: user.gid,
      groups: user.groups,
      stdio: [nul, out, out],
    });
    const st = await exitOf(child);
    return { ...st, output: fs.readFileSync(outPath, 'utf8') };
  } finally {
    fs.closeSync(out);
    addon.close(nul);
  }
}

// ---- users ----

before(() => {
  if (!linuxRoot) return;
  for (const name of [USER]) spawnSync('userdel', [name]);
  spawnSync('groupdel', [GROUP]);
  execFileSync('groupadd', [GROUP]);
  execFileSync('useradd', ['-M', '-N', '-s', '/usr/sbin/nologin', '-G', GROUP, USER]);
  user = addon.lookupUser(USER);
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'confine-native-'));
  fs.chmodSync(tmp, 0o755);
});

after(() => {
  if (!linuxRoot) return;
  spawnSync('userdel', [USER]);
  spawnSync('groupdel', [GROUP]);
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

// ---- tests ----

test('probe reports measured features', () => {
  const p = addon.probe();
  assert.equal(typeof p.version, 'string');
  assert.equal(p.platform, process.platform);
  for (const k of ['pidfd', 'clone3', 'cloneIntoCgroup', 'closeRange', 'pidfdSendSignal', 'kqueue']) {
    assert.equal(typeof p.features[k], 'boolean', k);
  }
  if (process.platform === 'linux') assert.equal(p.features.kqueue, false);
});

test('lookupUser by name and uid, groups as initgroups sets them', { skip }, () => {
  const tg = Number(execFileSync('getent', ['group', GROUP], { encoding: 'utf8' }).split(':')[2]);
  assert.equal(user.name, USER);
  assert.equal(user.shell, '/usr/sbin/nologin');
  assert.deepEqual(
    [...user.groups].sort((a, b) => a - b),
    [user.gid, tg].sort((a, b) => a - b),
  );
  assert.deepEqual(addon.lookupUser(user.uid), user);
  assert.equal(addon.lookupUser('confine-no-such-user-x'), null);
  assert.equal(addon.lookupUser(4000000000), null);
  const nobody = addon.lookupUser('nobody');
  assert.equal(nobody.uid, 65534);
  assert.deepEqual(nobody.groups, [65534]);
});

// Step 6 of the child closes every descriptor of the supervisor but stdio and the error pipe
// (close_range, before the limit of RLIMIT_NOFILE applies). The program gets only its stdio, and
// an exec failure still comes through the error pipe. 400 held descriptors put the error pipe
// far above the stdio, as 200 live children would.
test("the supervisor's descriptors never reach the program, with or without RLIMIT_NOFILE", {
  skip,
}, async () => {
  const notExec = path.join(tmp, 'not-a-program');
  fs.writeFileSync(notExec, 'no interpreter line, no ELF header\n', { mode: 0o755 });
  const held = Array.from({ length: 400 }, () => devNull());
  try {
    for (const rlimits of [[], [['nofile', 16]]]) {
      const child = spawnWith({ file: '/bin/sleep', argv: ['sleep', '30'], rlimits, setsid: true });
      const exited = exitOf(child);
      try {
        assert.deepEqual(await settledFds(child.pid, ['0', '1', '2']), ['0', '1', '2'], `rlimits ${JSON.stringify(rlimits)}`);
      } finally {
        addon.signal(child.pid, child.pidfd, 9);
        await exited;
      }
      const err = await spawnError({ file: notExec, rlimits });
      assert.equal(err.stage, 'execve');
      assert.equal(err.errno, 'ENOEXEC');
    }
  } finally {
    for (const fd of held) addon.close(fd);
  }
});

// A child's uid change, in memory it shares with the supervisor until its exec, made the
// kernel mark the supervisor itself non-dumpable (no core dump after its first runAs spawn).
// The spawn puts the flag back once no child shares the memory (native/linux/dumpable.h).
test("a spawn with a uid change leaves the supervisor's dumpable flag as it found it", { skip }, async () => {
  const before = addon.dumpable();
  assert.equal(before, 1, 'a Node process starts dumpable');
  for (const req of [
    { file: '/bin/true', uid: user.uid, gid: user.gid, groups: user.groups },
    { file: '/nonexistent/program', uid: user.uid, gid: user.gid, groups: user.groups },
  ]) {
    let child = null;
    try {
      child = spawnWith(req);
    } catch (e) {
      assert.equal(e.stage, 'execve', `${e.stack}`);
    }
    if (child) assert.equal((await exitOf(child)).exitCode, 0);
    assert.equal(addon.dumpable(), before, `after ${req.file}`);
  }
});

test('pipe, openDevNull and close give and take O_CLOEXEC fds', () => {
  const [r, w] = addon.pipe();
  const n = devNull();
  for (const fd of [r, w, n]) {
    const flags = fs.readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8').match(/flags:\s+(\d+)/)[1];
    assert.ok(parseInt(flags, 8) & 0o2000000, `fd ${fd} has O_CLOEXEC`);
  }
  fs.writeSync(w, 'x');
  const buf = Buffer.alloc(1);
  assert.equal(fs.readSync(r, buf), 1);
  for (const fd of [r, w, n]) addon.close(fd);
  assert.throws(() => addon.close(n), { code: 'ERR_CONFINE_SYSTEM', errno: 'EBADF' });
});

test('readFiles reads fds from offset 0 again and again, paths once, and says which are gone; fdIdentity', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'confine-readfiles-'));
  try {
    const file = path.join(dir, 'a');
    fs.writeFileSync(file, 'one\n');
    const fd = fs.openSync(file, 'r');
    try {
      // A held fd serves every read from the start (a cgroup file makes its text anew there).
      assert.deepEqual(addon.readFiles([fd, fd, file, path.join(dir, 'missing')]), ['one\n', 'one\n', 'one\n', null]);
      fs.writeFileSync(file, 'two, longer than one\n');
      assert.deepEqual(addon.readFiles([fd]), ['two, longer than one\n'], 'the current text, not a cached one');
      // Longer than one read's buffer.
      const big = 'x'.repeat(10000);
      fs.writeFileSync(file, big);
      assert.equal(addon.readFiles([fd])[0], big);
      // What an fd refers to, to check one kept open across turns of the event loop.
      const st = fs.fstatSync(fd);
      assert.deepEqual(addon.fdIdentity([fd]), [`${st.dev}:${st.ino}`]);
      // Read only while it is still that file: another identity, or none, is false (not read).
      assert.deepEqual(
        addon.readHeldFiles([fd, fd, 9999], [`${st.dev}:${st.ino}`, `${st.dev}:${st.ino + 1}`, `${st.dev}:${st.ino}`]),
        [big, false, false],
      );
    } finally {
      fs.closeSync(fd);
    }
    assert.deepEqual(addon.fdIdentity([fd]), [null], 'closed: no identity');
    assert.throws(() => addon.fdIdentity(['0']), TypeError);
    assert.throws(() => addon.readFiles([fd]), { code: 'ERR_CONFINE_SYSTEM', syscall: 'pread', errno: 'EBADF' });
    // A directory reads as its link count (on cgroupfs 2 + its child cgroups), by path and held.
    const links = () => `nlink ${fs.statSync(dir).nlink}\n`;
    const dfd = fs.openSync(dir, 'r');
    try {
      const id = addon.fdIdentity([dfd])[0];
      const opened = links();
      assert.deepEqual(addon.readFiles([dir, dfd]), [opened, opened]);
      assert.deepEqual(addon.readHeldFiles([dfd], [id]), [opened]);
      fs.mkdirSync(path.join(dir, 'sub'));
      assert.notEqual(links(), opened, `${dir}: a file system whose directory link count follows its subdirectories`);
      assert.deepEqual(addon.readHeldFiles([dfd], [id]), [links()], 'the count now, not the one opened with');
    } finally {
      fs.closeSync(dfd);
    }
    assert.throws(() => addon.readFiles([{}]), TypeError);
    assert.throws(() => addon.readFiles('a'), TypeError);
    assert.throws(() => addon.readHeldFiles([0], []), TypeError);
    assert.throws(() => addon.readHeldFiles([0], [0]), TypeError);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a confined child sees exactly its ids, groups, limits, session, fds and signals', { skip }, async () => {
  for (const force of [{}, { forceNoCloseRange: true }, { forceNoClearSighand: true }]) {
    const child = spawnWith({
      file: '/bin/sleep',
      argv: ['sleep', '30'],
      uid: user.uid,
      gid: user.gid,
      groups: user.groups,
      rlimits: [
        ['nofile', 77],
        ['core', 0],
        ['cpu', -1],
      ],
      setsid: true,
      noNewPrivs: true,
      pdeathsig: 9,
      resetOomScoreAdj: true,
      ...force,
    });
    const exited = exitOf(child); // reaped even when an assertion fails
    let st;
    try {
      assert.ok(child.pid > 0);
      assert.ok(child.pidfd >= 0);
      const s = statusOf(child.pid);
      assert.equal(s.Uid, Array(4).fill(user.uid).join('\t'));
      assert.equal(s.Gid, Array(4).fill(user.gid).join('\t'));
      const groups = s.Groups.split(/\s+/)
        .filter(Boolean)
        .map(Number)
        .sort((a, b) => a - b);
      assert.deepEqual(
        groups,
        [...user.groups].sort((a, b) => a - b),
      );
      assert.equal(s.NoNewPrivs, '1');
      assert.equal(s.SigIgn, '0000000000000000');
      assert.equal(s.SigBlk, '0000000000000000');
      assert.deepEqual(await settledFds(child.pid, ['0', '1', '2']), ['0', '1', '2']);
      const limits = fs.readFileSync(`/proc/${child.pid}/limits`, 'utf8');
      assert.match(limits, /^Max open files\s+77\s+77\s+files/m);
      assert.match(limits, /^Max core file size\s+0\s+0\s+bytes/m);
      assert.match(limits, /^Max cpu time\s+unlimited\s+unlimited\s+seconds/m);
      assert.deepEqual(sessionOf(child.pid), { pgrp: child.pid, sid: child.pid });
    } finally {
      assert.equal(addon.signal(child.pid, child.pidfd, 9), null);
      st = await exited;
    }
    assert.equal(st.exitCode, null);
    assert.equal(st.signal, 9);
  }
});

// Step 1 of the child (native/posix/child.cc): where clone3 resets the handlers
// (CLONE_CLEAR_SIGHAND, Linux 5.5+), the child resets only the signals /proc/self/status lists as
// ignored; forceNoClearSighand takes the full loop of 62 calls, and so does the clone() fallback.
// The supervisor here is started through `env --ignore-signal` with 40 and 64 ignored besides
// Node's own SIGPIPE and SIGXFSZ (Node resets signals 1-31 at startup, not the real-time ones):
// the highest bit of the mask, and one that only the mask can name. The program, cat, installs
// no handler and ignores nothing, so what it prints of its own status is what the child gave it;
// its /proc/self/io, read last, counts the reads it was born with: step 1's read of
// /proc/self/status on the fast path only (same program, same environment otherwise).
const envFile = ['/usr/bin/env', '/bin/env'].find((f) => fs.existsSync(f));
const stepOneSkip =
  skip ||
  (!envFile && 'no env program') ||
  (spawnSync(envFile, ['--ignore-signal=40', 'true']).status !== 0 && 'env --ignore-signal (coreutils 8.31+) missing') ||
  (!fs.existsSync('/proc/self/io') && 'no /proc/<pid>/io (CONFIG_TASK_IO_ACCOUNTING)');
const stepOneSupervisor = [
  '--ignore-signal=40',
  '--ignore-signal=64',
  process.execPath,
  '-e',
  `
    const fs = require('node:fs');
    const addon = require(${JSON.stringify(path.join(ROOT, 'node_modules', 'node-gyp-build'))})(${JSON.stringify(ROOT)});
    const nul = addon.openDevNull(fs.constants.O_RDONLY);
    const own = fs.readFileSync('/proc/self/status', 'utf8');
    fs.writeSync(1, '== supervisor\\n' + own.match(/^Sig(Ign|Cgt):.*$/gm).join('\\n') + '\\n');
    const run = (forceNoClearSighand) => {
      fs.writeSync(1, '== ' + (forceNoClearSighand ? 'loop' : 'fast') + '\\n');
      const c = addon.spawn({ file: '/bin/cat', argv: ['cat', '/proc/self/status', '/proc/self/io'], envp: [], stdio: [nul, 1, 2], pdeathsig: 9, forceNoClearSighand });
      return new Promise((resolve) => addon.watch(c.pid, c.pidfd, (st) => { addon.close(c.pidfd); resolve(st); }));
    };
    (async () => {
      for (const force of [false, true]) {
        const st = await run(force);
        if (st.exitCode !== 0) throw new Error('cat: ' + JSON.stringify(st));
      }
    })();
  `,
];

// The supervisor's output: its own SigIgn/SigCgt, then each child's status and io, by name.
function stepOneParts(out) {
  const parts = {};
  for (const part of out.split(/^== /m).slice(1)) {
    const [name, ...lines] = part.split('\n');
    parts[name] = Object.fromEntries(lines.filter((l) => l.includes(':')).map((l) => l.split(/:\s*/)));
  }
  // The premise: the supervisor has the extra ignored signals and handlers of its own.
  const ignored = BigInt(`0x${parts.supervisor.SigIgn}`);
  for (const sig of [13, 25, 40, 64])
    assert.ok(ignored & (1n << BigInt(sig - 1)), `signal ${sig} ignored: ${parts.supervisor.SigIgn}`);
  assert.notEqual(parts.supervisor.SigCgt, '0000000000000000');
  // (No SigCgt check on the program: execve resets every handler, so whether the parent's were
  // gone before the exec cannot be seen after it.)
  for (const mode of ['fast', 'loop']) {
    assert.equal(parts[mode].SigIgn, '0000000000000000', mode);
    assert.equal(parts[mode].SigBlk, '0000000000000000', mode);
  }
  return parts;
}

test('a child is born with every signal at its default, the ignored ones of its supervisor too, on both paths of step 1', {
  skip: stepOneSkip,
}, (t) => {
  const parts = stepOneParts(execFileSync(envFile, stepOneSupervisor, { encoding: 'utf8', timeout: 60_000 }));
  const [major, minor] = os.release().split('.').map(Number);
  if (!addon.probe().features.clone3 || major < 5 || (major === 5 && minor < 5)) {
    t.diagnostic('no clone3 with CLONE_CLEAR_SIGHAND (Linux 5.5+) here: only the full loop of step 1 checked');
  } else {
    assert.ok(
      Number(parts.fast.syscr) > Number(parts.loop.syscr),
      `read calls: fast ${parts.fast.syscr}, loop ${parts.loop.syscr}`,
    );
    assert.ok(
      Number(parts.fast.rchar) > Number(parts.loop.rchar) + 500,
      `bytes read: fast ${parts.fast.rchar}, loop ${parts.loop.rchar}`,
    );
  }
});

// The same supervisor without clone3: confined by the default seccomp filter, which answers
// ENOSYS for it (native/linux/seccomp.cc), so its spawns take clone(2), which has no
// CLONE_CLEAR_SIGHAND: both children take the full loop and read the same.
test('without clone3 (the clone() fallback) step 1 resets every signal itself', {
  skip: stepOneSkip,
}, async () => {
  const outPath = path.join(tmp, `step-one-${process.pid}`);
  const out = fs.openSync(outPath, 'w+');
  const nul = devNull(O_RDONLY);
  try {
    const child = addon.spawn({
      file: envFile,
      argv: ['env', ...stepOneSupervisor],
      // The sanitizers' settings too (npm run test:asan): LeakSanitizer's exit check would
      // ptrace, which the filter denies (its fatal error made the supervisor exit 1).
      envp: [
        'PATH=/usr/bin:/bin',
        ...['LD_PRELOAD', 'ASAN_OPTIONS', 'UBSAN_OPTIONS'].filter((k) => process.env[k]).map((k) => `${k}=${process.env[k]}`),
      ],
      stdio: [nul, out, out],
      pdeathsig: 9,
      noNewPrivs: true,
      seccomp: {},
    });
    const st = await exitOf(child);
    const text = fs.readFileSync(outPath, 'utf8');
    assert.equal(st.exitCode, 0, text);
    const parts = stepOneParts(text);
    assert.equal(parts.fast.syscr, parts.loop.syscr, 'the same reads: no /proc/self/status in step 1');
  } finally {
    fs.closeSync(out);
    addon.close(nul);
    fs.rmSync(outPath, { force: true });
  }
});

// The addon reads a request's own keys only (docs/native-api.md): a polluted Object.prototype
// (forceNoPidfd: true) must not change a spawn, and a getter there must not run during one (user
// code between the cgroup placement's identity check and the clone).
test('a polluted Object.prototype reaches neither spawn() nor prepare(): no key is read from it', { skip }, async () => {
  // Every key native/addon.cc reads from a request or an object in it (ReadRequest, its helpers).
  const keys = [
    ...['file', 'argv', 'envp', 'cwd', 'uid', 'gid', 'groups', 'rlimits', 'stdio', 'cgroupProcsFds', 'pdeathsig'],
    ...['cgroupFd', 'setsid', 'noNewPrivs', 'resetOomScoreAdj', 'forceNoPidfd', 'forceNoCloseRange', 'forceNoClearSighand'],
    'startAsync',
    ...['prepared', 'capabilities', 'seccomp', 'landlock', 'isolation', 'initFd', 'statusFd', 'netnsFd'],
    ...['deny', 'denyIoUring', 'unixSocketsOnly', 'rules', 'treeRules', 'childRules', 'denyTcp', 'scopeSignals'],
    ...['scopeAbstractUnix', 'path', 'access', 'dev', 'ino', 'user', 'mount', 'pid', 'net', 'ipc', 'uts', 'newRoot'],
    ...['loopback', 'spares', 'hostname', 'mounts', 'kind', 'target', 'source', 'readOnly', 'data', 'readOnlyKernelFiles'],
    'linkTo',
  ];
  const read = [];
  const saved = keys.map((k) => [k, Object.getOwnPropertyDescriptor(Object.prototype, k)]);
  // Built before the prototype is polluted: they lack most keys, which are then looked for there.
  const nul = devNull();
  const request = { file: '/bin/true', argv: ['true'], envp: [], stdio: [nul, nul, nul], rlimits: [['core', 0]] };
  const root = fs.statSync('/');
  const guards = {
    seccomp: { deny: ['ptrace'] },
    landlock: { rules: [{ path: '/', access: 'read', dev: root.dev, ino: root.ino }] },
    isolation: { mounts: [{ kind: 'tmpfs', target: '/tmp' }] },
  };
  let child = null;
  let handle = null;
  let exited = null;
  try {
    for (const k of keys) {
      Object.defineProperty(Object.prototype, k, {
        configurable: true,
        get() {
          read.push(k);
          // The test switches a value would turn on; any other key read from here throws.
          if (k.startsWith('force')) return true;
          throw new Error(`${k} read from Object.prototype`);
        },
        // The addon's result objects (pid) are set as usual.
        set(value) {
          Object.defineProperty(this, k, { value, writable: true, enumerable: true, configurable: true });
        },
      });
    }
    child = addon.spawn(request);
    handle = addon.prepare(guards);
  } finally {
    for (const [k, d] of saved) {
      if (d) Object.defineProperty(Object.prototype, k, d);
      else delete Object.prototype[k];
    }
    addon.close(nul);
    if (child) exited = exitOf(child); // reaped also when prepare() threw
  }
  assert.deepEqual(read, [], 'no key read from the prototype');
  assert.ok(handle, 'prepared');
  // forceNoPidfd not taken from the prototype: the child has its pidfd where the kernel gives one.
  if (addon.probe().features.pidfd) assert.ok(child.pidfd >= 0, `a pidfd: ${child.pidfd}`);
  assert.equal((await exited).exitCode, 0);
  for (const k of keys) assert.equal(Object.hasOwn(Object.prototype, k), false, `Object.prototype.${k} restored`);
});

test('the child cannot get root back', { skip }, async () => {
  const child = spawnWith({
    file: '/usr/bin/python3',
    argv: ['python3', '-c', 'import os; os.setuid(0)'],
    uid: user.uid,
    gid: user.gid,
    groups: user.groups,
    noNewPrivs: true,
  });
  const st = await exitOf(child);
  assert.notEqual(st.exitCode, 0);
  assert.equal(st.signal, 0);
});

test('stdio: sources numbered 0-2 are not clobbered, sources may repeat', { skip }, async () => {
  // The child's 0 gets our 1 and its 1 gets our 0: a one-pass dup2 would lose one of them.
  const mine = [0, 1, 2].map((fd) => fs.readlinkSync(`/proc/self/fd/${fd}`));
  const child = spawnWith({ file: '/bin/sleep', argv: ['sleep', '30'], stdio: [1, 0, 0, 2] });
  const exited = exitOf(child);
  try {
    assert.deepEqual(await settledFds(child.pid, ['0', '1', '2', '3']), ['0', '1', '2', '3']);
    const theirs = [0, 1, 2, 3].map((fd) => fs.readlinkSync(`/proc/${child.pid}/fd/${fd}`));
    assert.deepEqual(theirs, [mine[1], mine[0], mine[0], mine[2]]);
  } finally {
    addon.signal(child.pid, child.pidfd, 9);
    await exited;
  }
});

test('stdio through a pipe, exit code and resource usage', { skip }, async () => {
  const [r, w] = addon.pipe();
  const nul = devNull();
  const child = addon.spawn({
    file: '/bin/sh',
    argv: ['sh', '-c', 'echo "$FOO"; pwd; i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; exit 7'],
    envp: ['FOO=bar'],
    cwd: '/usr',
    stdio: [nul, w, nul],
  });
  addon.close(w); // the parent's copy of the child's end: EOF comes when the child exits
  addon.close(nul);
  const exited = exitOf(child);
  const chunks = [];
  const buf = Buffer.alloc(4096);
  for (;;) {
    let n;
    try {
      n = fs.readSync(r, buf);
    } catch (e) {
      if (e.code === 'EAGAIN') continue;
      throw e;
    }
    if (n === 0) break;
    chunks.push(Buffer.from(buf.subarray(0, n)));
  }
  addon.close(r);
  assert.equal(Buffer.concat(chunks).toString(), 'bar\n/usr\n');
  const st = await exited;
  assert.equal(st.exitCode, 7);
  assert.equal(st.signal, 0);
  assert.ok(st.userMicros + st.systemMicros > 0);
  assert.ok(st.maxRssBytes > 0);
});

test('every failing stage throws its error, leaves no zombie and no fd', { skip }, async () => {
  const notExec = path.join(tmp, 'not-executable');
  fs.writeFileSync(notExec, '#!/bin/sh\n', { mode: 0o644 });
  const cases = [
    [{ file: '/nonexistent/program' }, 'execve', 'execve', 'ENOENT'],
    [{ file: notExec }, 'execve', 'execve', 'EACCES'],
    [{ file: '/bin/true', cwd: '/nonexistent/dir' }, 'chdir', 'chdir', 'ENOENT'],
    // chdir is checked as the target user: root could enter, the user cannot.
    [{ file: '/bin/true', cwd: '/root', uid: user.uid, gid: user.gid, groups: user.groups }, 'chdir', 'chdir', 'EACCES'],
    [{ file: '/bin/true', stdio: [0, 1, 987] }, 'stdio', 'fcntl', 'EBADF'],
    [{ file: '/bin/true', cgroupProcsFds: [devNullReadOnly()] }, 'cgroup', 'write', 'EBADF'],
  ];
  // Warm up (first-call allocations in V8 and libc), then count.
  await spawnError(cases[0][0]);
  const fdsBefore = await fdSnapshot();
  for (let round = 0; round < 20; round++) {
    for (const [req, stage, syscall, errno] of cases) {
      const e = await spawnError(req);
      assert.ok(e instanceof Error);
      assert.equal(e.code, 'ERR_CONFINE_SPAWN');
      assert.equal(e.stage, stage, `${req.file}: ${e.message}`);
      assert.equal(e.syscall, syscall);
      assert.equal(e.errno, errno);
      assert.equal(e.errnoNumber, os.constants.errno[errno]);
      assert.deepEqual(zombieChildren(), []);
    }
  }
  addon.close(cases[5][0].cgroupProcsFds[0]);
  assert.deepEqual(await newFds(fdsBefore), []);
});

function devNullReadOnly() {
  return devNull(O_RDONLY); // writing "0" into it fails with EBADF, like a bad cgroup.procs fd
}

test('no fd is leaked over many successful spawns', { skip }, async () => {
  const before = await fdSnapshot();
  for (let i = 0; i < 100; i++) {
    const child = spawnWith({ file: '/bin/true', forceNoPidfd: i % 2 === 1 });
    const st = await exitOf(child);
    assert.equal(st.exitCode, 0);
  }
  assert.deepEqual(await newFds(before), []);
  assert.deepEqual(zombieChildren(), []);
});

test('a non-root supervisor cannot give away groups or ids: setgroups, setresuid, rlimit', { skip }, async () => {
  const script = `
    const addon = require(${JSON.stringify(path.join(ROOT, 'node_modules', 'node-gyp-build'))})(${JSON.stringify(ROOT)});
    const zombies = () => require('fs').readdirSync('/proc').filter((p) => /^\\d+$/.test(p)).filter((p) => {
      try { const s = require('fs').readFileSync('/proc/' + p + '/stat', 'utf8');
        const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
        return Number(f[1]) === process.pid && f[0] === 'Z'; } catch { return false; } });
    const out = {};
    const fds = () => require('fs').readdirSync('/proc/self/fd').length;
    const before = fds();
    const base = { file: '/bin/true', argv: ['true'], envp: [], stdio: [0, 1, 2] };
    for (const [name, extra] of Object.entries({
      setgroups: { groups: [0] },
      setresgid: { gid: 0 },
      setresuid: { uid: 0 },
      rlimit: { rlimits: [['nofile', 1 << 30]] },
    })) {
      try { addon.spawn({ ...base, ...extra }); out[name] = 'spawned'; }
      catch (e) { out[name] = [e.code, e.stage, e.syscall, e.errno]; }
    }
    out.zombies = zombies();
    out.fdsLeaked = fds() - before;
    console.log(JSON.stringify(out));
  `;
  const res = await runNodeAsUser(script);
  assert.equal(res.exitCode, 0, res.output);
  const out = JSON.parse(res.output.trim().split('\n').pop());
  assert.deepEqual(out.setgroups, ['ERR_CONFINE_SPAWN', 'setgroups', 'setgroups', 'EPERM']);
  assert.deepEqual(out.setresgid, ['ERR_CONFINE_SPAWN', 'setresgid', 'setresgid', 'EPERM']);
  assert.deepEqual(out.setresuid, ['ERR_CONFINE_SPAWN', 'setresuid', 'setresuid', 'EPERM']);
  assert.deepEqual(out.rlimit, ['ERR_CONFINE_SPAWN', 'rlimit', 'prlimit', 'EPERM']);
  assert.deepEqual(out.zombies, []);
  assert.equal(out.fdsLeaked, 0);
});

test('signal and killGroup: names errors, never throws them; ESRCH after the exit', { skip }, async () => {
  const child = spawnWith({ file: '/bin/sh', argv: ['sh', '-c', 'sleep 30 & wait'], setsid: true });
  // Wait until the shell has forked its sleep, then stop the whole group.
  let kids = [];
  await poll(() => {
    try {
      kids = fs.readFileSync(`/proc/${child.pid}/task/${child.pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean);
    } catch {}
    return kids.length > 0;
  });
  assert.equal(kids.length, 1);
  const exited = new Promise((resolve) => addon.watch(child.pid, child.pidfd, resolve));
  assert.equal(addon.killGroup(child.pid, 15), null);
  const st = await exited;
  assert.equal(st.signal, 15);
  await poll(() => !fs.existsSync(`/proc/${kids[0]}`));
  assert.equal(fs.existsSync(`/proc/${kids[0]}`), false, 'the grandchild died with its group');
  // The pidfd still names the dead (reaped) child: never a reused pid.
  assert.equal(addon.signal(child.pid, child.pidfd, 0), 'ESRCH');
  addon.close(child.pidfd);
  assert.equal(addon.killGroup(child.pid, 0), 'ESRCH');
  assert.equal(addon.killGroup(1, 0), 'EINVAL');
  assert.equal(addon.signal(0, -1, 0), 'EINVAL');
});

test('exit watching without a pidfd (the waiter-thread fallback)', { skip }, async () => {
  const children = [];
  for (let i = 0; i < 10; i++) {
    const c = spawnWith({ file: '/bin/sh', argv: ['sh', '-c', `sleep 0.${i}; exit ${i + 10}`], forceNoPidfd: true });
    assert.equal(c.pidfd, -1);
    children.push(c);
  }
  const killed = spawnWith({ file: '/bin/sleep', argv: ['sleep', '30'], forceNoPidfd: true });
  assert.equal(addon.signal(killed.pid, -1, 9), null);
  const sts = await Promise.all(children.map(exitOf));
  assert.deepEqual(
    sts.map((s) => s.exitCode),
    children.map((_, i) => i + 10),
  );
  const st = await exitOf(killed);
  assert.equal(st.signal, 9);
  assert.deepEqual(zombieChildren(), []);
});

test('the watch keeps the event loop alive until the exit', { skip }, () => {
  const script = `
    const addon = require(${JSON.stringify(path.join(ROOT, 'node_modules', 'node-gyp-build'))})(${JSON.stringify(ROOT)});
    for (const forceNoPidfd of [false, true]) {
      const c = addon.spawn({ file: '/bin/sleep', argv: ['sleep', '0.3'], envp: [], stdio: [0, 1, 2], forceNoPidfd });
      addon.watch(c.pid, c.pidfd, (st) => console.log(forceNoPidfd ? 'thread' : 'pidfd', st.exitCode));
    }
  `;
  const out = execFileSync(process.execPath, ['-e', script], { encoding: 'utf8' });
  assert.deepEqual(out.trim().split('\n').sort(), ['pidfd 0', 'thread 0']);
});

test('coexists with child_process: 200 + 200 interleaved spawns, every exit code right', { skip }, async () => {
  const waits = [];
  for (let i = 0; i < 200; i++) {
    const code = i % 250;
    waits.push(
      new Promise((resolve, reject) => {
        const cp = cpSpawn('/bin/sh', ['-c', `exit ${(code + 1) % 250}`], { stdio: 'ignore' });
        cp.on('error', reject);
        cp.on('exit', (c, s) => resolve(['cp', i, c, s]));
      }),
    );
    const child = spawnWith({ file: '/bin/sh', argv: ['sh', '-c', `exit ${code}`], forceNoPidfd: i % 10 === 0 });
    waits.push(exitOf(child).then((st) => ['addon', i, st.exitCode, st.signal]));
  }
  const results = await Promise.all(waits);
  for (const [who, i, c, s] of results) {
    if (who === 'cp') assert.deepEqual([c, s], [((i % 250) + 1) % 250, null], `cp ${i}`);
    else assert.deepEqual([c, s], [i % 250, 0], `addon ${i}`);
  }
  assert.deepEqual(zombieChildren(), []);
});

test('pdeathsig: the child dies with the supervisor', { skip }, async () => {
  const script = `
    const addon = require(${JSON.stringify(path.join(ROOT, 'node_modules', 'node-gyp-build'))})(${JSON.stringify(ROOT)});
    const c = addon.spawn({ file: '/bin/sleep', argv: ['sleep', '30'], envp: [], stdio: [0, 1, 2], pdeathsig: 9 });
    console.log(c.pid);
  `;
  const pid = Number(execFileSync(process.execPath, ['-e', script], { encoding: 'utf8' }).trim());
  assert.ok(pid > 0);
  // The parent-death signal was sent when the supervisor exited: the child is dying at least.
  assert.equal(doomed(pid), true, 'SIGKILLed when its parent died');
  let alive = true;
  await poll(() => {
    try {
      alive = !fs.readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z');
    } catch {
      alive = false;
    }
    return !alive;
  });
  if (alive) process.kill(pid, 9);
  assert.equal(alive, false);
});

test('cgroups: born into a v2 cgroup (CLONE_INTO_CGROUP), joins v1 ones through cgroup.procs', { skip }, async (t) => {
  const v2root = '/sys/fs/cgroup/unified';
  const v1root = '/sys/fs/cgroup/pids';
  const haveV2 = fs.existsSync(`${v2root}/cgroup.procs`) && addon.probe().features.cloneIntoCgroup;
  const haveV1 = fs.existsSync(`${v1root}/cgroup.procs`);
  if (!haveV2 && !haveV1) return t.skip('no cgroup hierarchy mounted where this test looks');
  const name = `confine-t${tag}-native`;
  const dirs = [];
  const fds = [];
  try {
    const req = { file: '/bin/sleep', argv: ['sleep', '30'] };
    if (haveV2) {
      fs.mkdirSync(`${v2root}/${name}`);
      dirs.push(`${v2root}/${name}`);
      req.cgroupFd = fs.openSync(`${v2root}/${name}`, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
      fds.push(req.cgroupFd);
    }
    if (haveV1) {
      fs.mkdirSync(`${v1root}/${name}`);
      dirs.push(`${v1root}/${name}`);
      req.cgroupProcsFds = [fs.openSync(`${v1root}/${name}/cgroup.procs`, 'w')];
      fds.push(req.cgroupProcsFds[0]);
    }
    const child = spawnWith(req);
    const exited = exitOf(child);
    try {
      const cg = fs.readFileSync(`/proc/${child.pid}/cgroup`, 'utf8');
      if (haveV2) assert.match(cg, new RegExp(`^0::/${name}$`, 'm'));
      if (haveV1) assert.match(cg, new RegExp(`^\\d+:pids:/${name}$`, 'm'));
      assert.deepEqual(await settledFds(child.pid, ['0', '1', '2']), ['0', '1', '2']);
    } finally {
      addon.signal(child.pid, child.pidfd, 9);
      await exited;
    }
    if (haveV2) {
      // A directory that is not a cgroup: the placement fails in the parent, stage cgroup.
      const notCgroup = fs.openSync(tmp, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
      fds.push(notCgroup);
      const e = await spawnError({ file: '/bin/true', cgroupFd: notCgroup });
      assert.equal(e.code, 'ERR_CONFINE_SPAWN');
      assert.equal(e.stage, 'cgroup');
      assert.equal(e.syscall, 'clone3');
      assert.deepEqual(zombieChildren(), []);
    }
  } finally {
    for (const fd of fds) fs.closeSync(fd);
    for (const d of dirs) fs.rmdirSync(d);
  }
});

test('oom_score_adj: back to 0 when the supervisor runs below it, and only when asked', { skip }, async (t) => {
  const own = fs.readFileSync('/proc/self/oom_score_adj', 'utf8').trim();
  try {
    fs.writeFileSync('/proc/self/oom_score_adj', '-500'); // needs CAP_SYS_RESOURCE
  } catch (e) {
    return t.skip(`cannot lower our own oom_score_adj here: ${e.code}`);
  }
  try {
    for (const [resetOomScoreAdj, expected] of [
      [true, '0'],
      [false, '-500'],
    ]) {
      const child = spawnWith({
        file: '/bin/sleep',
        argv: ['sleep', '30'],
        resetOomScoreAdj,
        uid: user.uid,
        gid: user.gid,
        groups: user.groups,
      });
      const exited = exitOf(child);
      try {
        assert.equal(fs.readFileSync(`/proc/${child.pid}/oom_score_adj`, 'utf8').trim(), expected);
      } finally {
        addon.signal(child.pid, child.pidfd, 9);
        await exited;
      }
    }
  } finally {
    fs.writeFileSync('/proc/self/oom_score_adj', own);
  }
});

test('startAsync: the error pipe comes back before the exec; watchStart() reads it on the loop', { skip }, async () => {
  // Without the init startAsync is not taken: the spawn waits for the program's outcome, no pipe.
  const plain = spawnWith({ file: '/bin/true', startAsync: true });
  assert.equal(plain.errorFd, -1);
  assert.equal((await exitOf(plain)).exitCode, 0);
  const e = await spawnError({ file: '/nonexistent/program', startAsync: true });
  assert.equal(e.stage, 'execve');
  assert.equal(e.errno, 'ENOENT');

  // watchStart on a pipe of ours: EOF is the exec (null), on the loop, and the fd is taken over.
  const before = await fdSnapshot();
  const [r, w] = addon.pipe();
  const eof = new Promise((resolve) => addon.watchStart(process.pid, r, '/x', resolve));
  addon.close(w);
  assert.equal(await eof, null);
  assert.deepEqual(await newFds(before), []);
  // Refused arguments: the fd is taken over all the same (closed), not leaked.
  const [r2, w2] = addon.pipe();
  addon.close(w2);
  assert.throws(() => addon.watchStart(process.pid, r2, '/x', 'not a callback'), /expected/);
  assert.deepEqual(await newFds(before), []);

  // The init path: the init (pid 1 of a pid namespace) has exec'd when spawn() returns; its
  // program's exec fails (ENOEXEC) after that, or before the supervisor's first read (then
  // spawn() throws it). Tried until the pipe came back at least once; each time the same error.
  const { isolationSupport, openInit } = require(path.join(ROOT, 'dist', 'isolation', 'index.js'));
  if (isolationSupport().mechanism === 'none') return;
  const notAProgram = path.join(tmp, 'not-a-program');
  fs.writeFileSync(notAProgram, '\x00\x01 not a program\n', { mode: 0o755 });
  const initFd = openInit(); // kept open (cached) by the isolation layer
  const beforeInit = await fdSnapshot();
  let viaPipe = 0;
  for (let i = 0; i < 20 && viaPipe === 0; i++) {
    const [statusRead, statusWrite] = addon.pipe();
    const isolation = { pid: true, mount: true, mounts: [{ kind: 'proc', target: '/proc' }], initFd, statusFd: statusWrite };
    let child = null;
    let err = null;
    try {
      child = spawnWith({ file: notAProgram, startAsync: true, isolation });
    } catch (x) {
      err = x;
    } finally {
      addon.close(statusWrite);
    }
    if (child) {
      assert.ok(child.errorFd >= 0, 'the pipe comes back');
      viaPipe++;
      const exited = exitOf(child);
      err = await new Promise((resolve) => addon.watchStart(child.pid, child.errorFd, notAProgram, resolve));
      assert.equal((await exited).exitCode, 0, 'the init exits 0 after its program exited 127');
    }
    addon.close(statusRead);
    assert.ok(err instanceof Error);
    assert.equal(err.code, 'ERR_CONFINE_SPAWN');
    assert.equal(err.stage, 'execve');
    assert.equal(err.syscall, 'execve');
    assert.equal(err.errno, 'ENOEXEC');
    assert.match(err.message, /^spawn .*not-a-program: stage execve: execve ENOEXEC/);
    assert.deepEqual(zombieChildren(), []);
  }
  assert.ok(viaPipe > 0, 'spawn() returned before the exec at least once in 20 tries');
  // The exit watch closes its copy of the pidfd in the close phase after the exit callback.
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(await newFds(beforeInit), []);
});
