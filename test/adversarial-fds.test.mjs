// Adversarial: the descriptors a native tree holds across turns of the event loop (its pidfd,
// the exit watch's copy of it, the start watch's error pipe) against user code that closes their
// numbers by mistake (a double close: a bug, but a common one) and opens a file of its own that
// gets the number (a user's file, or another tree's pidfd: before Linux 6.9 every pidfd has the
// same dev:ino), and the init's status pipe likewise. confine must neither read, signal nor close
// the user's file, start() and wait() must still settle, and a spawn whose watch the event loop
// refuses (it still polls such a number) must end its child. Every check of what is left is by fd identity (dev:ino and target),
// not by a count: a count missed a leaked pipe before. The same defence for the cgroup fds is
// tested in linux-cgroup.test.mjs.

import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  closeSync,
  existsSync,
  fstatSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { command, capabilities, ConfineError, dropSpareCgroups } from '../dist/index.mjs';
import { isLinux, isRoot, require, until, within, zombieChildren } from './helpers.mjs';

const caps = capabilities();
const skip = !isLinux
  ? 'reads /proc/self/fdinfo (Linux)'
  : !caps.backends.includes('linux')
    ? `no linux backend here: ${caps.reason}`
    : !caps.features?.pidfd && !caps.native
      ? 'no native addon'
      : false;
const initSkip =
  skip ||
  (!isRoot
    ? 'needs root (a private pid namespace without a user namespace)'
    : caps.isolation.mechanism === 'none' && `no namespaces here: ${caps.isolation.reason}`);

/** fd -> "dev:ino target" of every fd of this process (the listing's own is gone by the fstat). */
function fdTable() {
  const out = new Map();
  for (const name of readdirSync('/proc/self/fd')) {
    try {
      const st = fstatSync(Number(name));
      out.set(Number(name), `${st.dev}:${st.ino} ${readlinkSync(`/proc/self/fd/${name}`)}`);
    } catch {}
  }
  return out;
}

/** What differs between two fd tables, as readable lines. */
function changed(before, after) {
  const lines = [];
  for (const [fd, id] of after) if (before.get(fd) !== id) lines.push(`+${fd} ${id}`);
  for (const [fd, id] of before) if (after.get(fd) !== id) lines.push(`-${fd} ${id}`);
  return lines;
}

/**
 * Waits until the fd table is `expected`, once the tree's release has run (after wait(), on
 * 'close') and the spare cgroups it made are dropped (a spare holds its files open by design).
 */
async function fdsBackTo(expected, table = fdTable) {
  await until(() => {
    dropSpareCgroups();
    return changed(expected, table()).length === 0;
  });
  assert.deepEqual(changed(expected, table()), [], 'no fd of the tree left open, none of the user closed');
}

/** fdTable() without pidfds of processes already gone (see the start watch's test). */
const liveFdTable = () => new Map([...fdTable()].filter(([fd, id]) => !id.endsWith('[pidfd]') || pidOf(fd) !== -1));

/** The pid a pidfd of ours names (-1 once that process is gone and reaped). */
const pidOf = (fd) => {
  try {
    return Number(/^Pid:\s+(-?\d+)/m.exec(readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'))?.[1]);
  } catch {
    return null;
  }
};

/** Our fds that are pidfds of `pid`. */
function pidfdsOf(pid) {
  return readdirSync('/proc/self/fdinfo')
    .map(Number)
    .filter((fd) => {
      try {
        return new RegExp(`^Pid:\\s+${pid}$`, 'm').test(readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'));
      } catch {
        return false;
      }
    });
}

/** The fd numbers our epoll instances watch (libuv's loop among them). */
function polledFds() {
  const out = new Set();
  for (const name of readdirSync('/proc/self/fd')) {
    try {
      if (readlinkSync(`/proc/self/fd/${name}`) !== 'anon_inode:[eventpoll]') continue;
      for (const m of readFileSync(`/proc/self/fdinfo/${name}`, 'utf8').matchAll(/^tfd:\s+(\d+)/gm)) out.add(Number(m[1]));
    } catch {}
  }
  return out;
}

/** Our children, zombies included. */
function ourChildren() {
  const out = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === process.pid) out.push(Number(name));
    } catch {}
  }
  return out;
}

/**
 * The tree's pidfd and the exit watch's copy of it, once the loop polls the copy (libuv adds a new
 * poll to its epoll set on its next poll phase; a number closed before that aborts the process in
 * libuv, which no library can intercept, so the tests close after it).
 */
async function pidfdsWatched(pid) {
  let copy;
  assert.ok(
    await until(() => {
      const polled = polledFds();
      copy = pidfdsOf(pid).find((fd) => polled.has(fd));
      return copy !== undefined;
    }),
    'the exit watch polls its copy of the pidfd',
  );
  const own = pidfdsOf(pid).filter((fd) => fd !== copy);
  assert.equal(own.length, 1, `the tree's own pidfd beside the copy: ${own}`);
  return { copy, own: own[0] };
}

/**
 * Two turns of the event loop: a watch's handle is closed (and its fd with it) in the close phase
 * of the turn its callback ran in, after the promises that callback settled have run their code.
 */
const loopTurns = async () => {
  for (let i = 0; i < 2; i++) await new Promise((r) => setImmediate(r));
};

/** The file offset of fd (it moves if anyone reads the user's file). */
const posOf = (fd) => Number(/^pos:\s+(\d+)/m.exec(readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'))[1]);

/** Closes the user's own fds (one confine closed by mistake would throw EBADF over the failed assertion). */
const closeAll = (fds) => {
  for (const fd of fds) {
    try {
      closeSync(fd);
    } catch {}
  }
};

/** The user's bug: `fd` (not its own) closed, and a file of its own opened until it gets that number. */
function takeNumber(fd, path) {
  closeSync(fd);
  const mine = [];
  for (let i = 0; i < 256 && !mine.includes(fd); i++) mine.push(openSync(path, 'r+'));
  assert.ok(mine.includes(fd), `the user's file took fd ${fd}`);
  return mine;
}

/** Every free number below `fd` (itself free) taken by /dev/null: the next fd opened gets `fd`. */
function takeLowerNumbers(fd) {
  const taken = [];
  for (;;) {
    const n = openSync('/dev/null', 'r');
    if (n === fd) {
      closeSync(n);
      return taken;
    }
    taken.push(n);
  }
}

const tmp = isLinux ? mkdtempSync(join(tmpdir(), 'confine-t-')) : '';
const victim = join(tmp, 'user-file');
if (isLinux) writeFileSync(victim, 'user data');
after(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

describe('adversarial fds: a native tree against double closes', { skip }, () => {
  for (const kind of ['linux', 'posix']) {
    test(`[${kind}] the exit watch refused after a successful spawn (the loop still watches a number user code closed): start() rejects typed, the child is killed and reaped, its fds closed, its cgroup removed`, async () => {
      const { taskCgroupPool } = require('../dist/cgroup/index.js');
      taskCgroupPool.drain();
      const idleMs = taskCgroupPool.idleMs;
      taskCgroupPool.idleMs = 10 * 60_000; // the spare below is not dropped for idling, however slow the machine
      const devNull = openSync('/dev/null', 'r+');
      // Numbers, not 'ignore': the spawn opens no fd of its own before the clone.
      const opts = { executor: kind, stdio: [devNull, devNull, devNull] };
      // linux: a kind with a limit, taken twice, gets a spare with its cgroup.procs open ahead.
      const limits = kind === 'linux' ? { maxProcesses: 64 } : {};
      const fillers = [];
      let first;
      let second;
      try {
        for (let i = 0; i < 2; i++) {
          const ex = command('true', [], opts).limit(limits);
          await ex.start();
          await ex.wait();
        }
        if (kind === 'linux') assert.ok(await until(() => taskCgroupPool.spares().length > 0), 'a spare');
        const spare = kind === 'linux' ? taskCgroupPool.spares().at(-1) : [];
        first = command('sleep', ['300'], opts);
        await first.start();
        const { copy } = await pidfdsWatched(first.pid);
        // The user's double close. The loop still lists the number (the copy's file lives on in
        // the tree's own pidfd), so a new poll on it is refused (EEXIST).
        closeSync(copy);
        // Every lower number taken: the next spawn's error pipe, then its watch's copy, get `copy`.
        fillers.push(...takeLowerNumbers(copy));
        const before = fdTable();
        second = command('sleep', ['300'], opts).limit(limits);
        const err = await second.start().then(
          () => null,
          (e) => e,
        );
        assert.ok(err, `start() rejects (it started pid ${second.pid}: its watch did not get fd ${copy})`);
        assert.ok(err instanceof ConfineError, `a ConfineError: ${err?.constructor?.name}: ${err?.message}`);
        assert.equal(err.code, 'ERR_CONFINE_SYSTEM', err.message);
        assert.equal(err.stage, 'watch');
        assert.equal(err.syscall, 'uv_poll_init');
        assert.equal(err.errno, 'EEXIST');
        assert.ok(
          await until(() => ourChildren().every((p) => p === first.pid)),
          `the child is killed and reaped: ${ourChildren()}`,
        );
        // The spare's fds (cgroup.procs; on v2 its directory too) are closed once its tree is
        // spawned, and the pool may have made a new spare meanwhile (its own open ahead), by
        // design: neither is the tree's.
        const spareFd = (id) =>
          [spare, ...taskCgroupPool.spares()].flat().some((d) => id.endsWith(` ${d}/cgroup.procs`) || id.endsWith(` ${d}`));
        const withoutSpares = (table) => new Map([...table].filter(([, id]) => !spareFd(id)));
        assert.deepEqual(
          changed(withoutSpares(before), withoutSpares(fdTable())),
          [],
          'no fd left or closed but spare cgroup.procs',
        );
        for (const d of spare) assert.ok(await until(() => !existsSync(d)), `its cgroup is removed: ${d}`);
      } finally {
        for (const fd of fillers) closeSync(fd);
        if (second?.pid) await second.forceStop().catch(() => {});
        if (first) {
          await first.forceStop();
          await first.wait();
        }
        closeSync(devNull);
        taskCgroupPool.idleMs = idleMs;
      }
      assert.deepEqual(zombieChildren(), []);
    });
  }

  for (const which of ['the exit watch copy', 'the tree pidfd']) {
    test(`${which} closed by user code and its number given to a user's file: kill() and wait() still work, the file is neither signalled, read nor closed`, async () => {
      const ex = command('sleep', ['300'], { executor: 'linux', stdio: 'ignore' });
      await ex.start();
      let mine = [];
      try {
        const { copy, own } = await pidfdsWatched(ex.pid);
        const [target, other] = which === 'the exit watch copy' ? [copy, own] : [own, copy];
        mine = takeNumber(target, victim);
        const before = fdTable();
        assert.equal(ex.kill('SIGTERM'), true, 'kill() is delivered');
        const st = await within(ex.wait(), 60_000, 'wait()');
        assert.equal(st.signal, 'SIGTERM');
        await loopTurns();
        assert.equal(readlinkSync(`/proc/self/fd/${target}`), victim, "the user's fd is still open on its file");
        assert.equal(posOf(target), 0, 'and was not read');
        assert.equal(readFileSync(victim, 'utf8'), 'user data');
        // Everything of the tree is closed (its other pidfd), nothing else.
        await fdsBackTo(new Map([...before].filter(([fd]) => fd !== other)));
      } finally {
        await ex.forceStop();
        closeAll(mine);
      }
      assert.deepEqual(zombieChildren(), []);
    });
  }

  test("another tree's pidfd takes the number of a tree's pidfd that user code closed: kill() and wait() reach only their own tree, the other's pidfd is neither signalled through nor closed", async () => {
    // Before Linux 6.9 (no pidfs) every pidfd has the same dev:ino: only kcmp or the fdinfo's Pid:
    // tells this one from the tree's own. With pidfs, dev:ino alone already tells them apart.
    const devNull = openSync('/dev/null', 'r+');
    const opts = { executor: 'linux', stdio: [devNull, devNull, devNull] };
    const base = fdTable();
    const fillers = [];
    let a;
    let b;
    try {
      // One number below the tree's fds, freed just before the other tree's spawn: the spawn's
      // first fd (its error pipe) takes it, its pidfd the next free number, the one closed below.
      const below = openSync('/dev/null', 'r');
      fillers.push(below);
      a = command('sleep', ['300'], opts);
      await a.start();
      const { own } = await pidfdsWatched(a.pid);
      closeSync(own); // the user's double close
      // Every other lower number taken.
      fillers.push(...takeLowerNumbers(own));
      closeSync(fillers.shift());
      b = command('sleep', ['300'], opts);
      await b.start();
      assert.equal(pidOf(own), b.pid, `the other tree's pidfd took fd ${own}`);
      assert.equal(a.kill('SIGTERM'), true, 'kill() is delivered');
      const st = await within(a.wait(), 60_000, 'wait() of the tree signalled');
      assert.equal(st.signal, 'SIGTERM');
      await loopTurns();
      assert.equal(pidOf(own), b.pid, "the other tree's pidfd is still open");
      assert.equal(b.kill('SIGKILL'), true);
      const stB = await within(b.wait(), 60_000, 'wait() of the other tree');
      assert.equal(stB.signal, 'SIGKILL', 'the other tree got no SIGTERM');
      for (const fd of fillers.splice(0)) closeSync(fd);
      await fdsBackTo(base);
    } finally {
      for (const fd of fillers) closeSync(fd);
      await a?.forceStop().catch(() => {});
      await b?.forceStop().catch(() => {});
      closeSync(devNull);
    }
    assert.deepEqual(zombieChildren(), []);
  });

  test("the init's status pipe closed by user code and its number given to a user's file: wait() settles, the file is neither read nor closed", {
    skip: initSkip,
  }, async () => {
    // One tree first: the init's executable is opened once per process and kept.
    const warm = command('true', [], { executor: 'linux', stdio: 'ignore' }).isolate({ processes: 'private' });
    await warm.start();
    await warm.wait();
    // Its cgroup released and, as a spare, dropped: no fd into a cgroup in the table compared.
    const noCgroupFd = () => {
      dropSpareCgroups();
      return ![...fdTable().values()].some((id) => id.includes(' /sys/fs/cgroup/'));
    };
    assert.ok(await until(noCgroupFd), 'no fd into a cgroup left');
    // A pidfd of a process already gone (held a while by the isolation layer's own helpers) is
    // not the tree's: left out of the comparison.
    const before = liveFdTable();
    let mine = [];
    let ex;
    try {
      ex = command('sleep', ['300'], { executor: 'linux', stdio: 'ignore' }).isolate({ processes: 'private' });
      await ex.start();
      // The status pipe's read end: the tree's one pipe once the program runs (its error pipe is
      // closed by then, stdio ignored).
      const pipes = [...liveFdTable()].filter(([n, id]) => !before.has(n) && id.includes(' pipe:')).map(([n]) => n);
      assert.equal(pipes.length, 1, `one pipe of the tree: ${pipes}`);
      const [statusFd] = pipes;
      mine = takeNumber(statusFd, victim);
      assert.equal(ex.kill('SIGTERM'), true, 'kill() is delivered');
      await within(ex.wait(), 60_000, 'wait()');
      await loopTurns();
      assert.equal(readlinkSync(`/proc/self/fd/${statusFd}`), victim, "the user's fd is still open on its file");
      assert.equal(posOf(statusFd), 0, 'and was not read');
      assert.equal(readFileSync(victim, 'utf8'), 'user data');
      const expected = new Map(before);
      const now = liveFdTable();
      for (const fd of mine) expected.set(fd, now.get(fd));
      await fdsBackTo(expected, liveFdTable);
    } finally {
      await ex?.forceStop().catch(() => {});
      closeAll(mine);
    }
    assert.deepEqual(zombieChildren(), []);
  });

  test("the start watch's error pipe closed by user code and its number given to a user's file: the start is still learnt (the watch's second reference), the file is neither read nor closed", async () => {
    // On the addon, with a pipe the test owns in place of a child's error pipe: its write end
    // closed is the exec (EOF), at a moment the test chooses (a tree's init execs at once).
    const addon = require('node-gyp-build')(join(new URL('.', import.meta.url).pathname, '..'));
    const before = fdTable();
    const [r, w] = addon.pipe();
    let mine = [];
    try {
      let outcome;
      addon.watchStart(process.pid, r, '/x', (e) => {
        outcome = e;
      });
      // Closed once the loop polls it (a number closed before libuv's next poll phase aborts the
      // process in libuv: no library can intercept that).
      assert.ok(await until(() => polledFds().has(r)), 'the start watch polls the pipe');
      mine = takeNumber(r, victim);
      closeSync(w);
      assert.ok(await until(() => outcome !== undefined), 'the start is learnt');
      assert.equal(outcome, null, `the exec (EOF), no error: ${outcome?.message}`);
      await loopTurns();
      assert.equal(readlinkSync(`/proc/self/fd/${r}`), victim, "the user's fd is still open on its file");
      assert.equal(posOf(r), 0, 'and was not read');
      const expected = new Map([...before].filter(([fd]) => fd !== w));
      const now = fdTable();
      for (const fd of mine) expected.set(fd, now.get(fd));
      await fdsBackTo(expected);
    } finally {
      closeAll(mine);
      try {
        closeSync(w);
      } catch {}
    }
  });
});
