// Isolation (ex.isolate(), issue 16) against real namespaces and real mounts: the preset's cases
// as a root supervisor and as a supervisor that is not root (a test user, whose children get a
// user namespace of their own); the pid namespace's init under wait/kill/shutdown/forceStop/stats;
// bad input refused before anything starts; no mount ever made in the supervisor's namespace;
// 2,000 isolated spawns without a leak. In the cgroup v2 VM (CONFINE_IN_VM) also the path where
// user namespaces are off (the sysctl is the VM kernel's own there).

import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { cases, run } from './fixtures/isolation-cases.mjs';
import {
  createUser,
  haveCc,
  zombieChildren,
  leftoverTestCgroups,
  until,
  alive,
  isLinux,
  isRoot,
  openFds,
  text,
  within,
} from './helpers.mjs';

const { command, capabilities, ConfineArgumentError, IsolationError, UnenforcedError, openPid } = await import(
  '../dist/index.mjs'
);

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const inVm = Boolean(process.env.CONFINE_IN_VM);
const caps = capabilities();
const support = caps.isolation;
const skip = !isLinux
  ? 'namespaces are Linux-only'
  : !isRoot
    ? 'needs root (it creates a test user and runs a supervisor as that user)'
    : !caps.backends.includes('linux')
      ? `no linux backend here: ${caps.reason}`
      : support.mechanism === 'none'
        ? `no namespaces here: ${support.reason}`
        : false;

const mountinfo = () => fs.readFileSync('/proc/self/mountinfo', 'utf8');
/** This process's environment without the given keys. */
const envWithout = (...keys) => Object.fromEntries(Object.entries(process.env).filter(([k]) => !keys.includes(k)));
/** Task cgroups left once the last trees' cleanup ran: it runs after wait() resolves (on 'close'). */
const cgroupsLeft = async () => ((await until(() => leftoverTestCgroups().length === 0, 20_000)) ? [] : leftoverTestCgroups());
let secretDir;
let tcp;
let abstract;
const abstractName = `confine-test-${process.pid}`;
let baseCtx;

/** A work dir owned by uid (the child's cwd, writable) with a symlink planted to the secret. */
function workDirFor(uid, gid) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'confine-iso-'));
  fs.symlinkSync(path.join(secretDir, 'secret'), path.join(dir, 'planted'));
  fs.lchownSync(path.join(dir, 'planted'), uid, gid);
  fs.chownSync(dir, uid, gid);
  return dir;
}

before(async () => {
  if (skip) return;
  // The secret: world-readable, in a world-readable directory outside every path the preset lists.
  secretDir = fs.mkdtempSync('/var/tmp/confine-secret-');
  fs.chmodSync(secretDir, 0o755);
  fs.writeFileSync(path.join(secretDir, 'secret'), 'secret-content\n', { mode: 0o644 });
  tcp = net.createServer((s) => s.destroy()).listen(0, '127.0.0.1');
  abstract = net.createServer((s) => s.destroy()).listen({ path: `\0${abstractName}` });
  await Promise.all([new Promise((r) => tcp.once('listening', r)), new Promise((r) => abstract.once('listening', r))]);
  baseCtx = {
    secretFile: path.join(secretDir, 'secret'),
    tcpPort: tcp.address().port,
    abstractName,
    hostHostname: os.hostname(),
  };
});

after(() => {
  tcp?.close();
  abstract?.close();
  if (secretDir) fs.rmSync(secretDir, { recursive: true, force: true });
});

describe('isolation: a root supervisor, the preset', { skip }, () => {
  let ctx;
  let before_;
  before(() => {
    before_ = mountinfo();
    const workDir = workDirFor(0, 0);
    ctx = { ...baseCtx, command, workDir, plantedLink: path.join(workDir, 'planted'), supervisorPid: process.pid };
  });
  after(async () => {
    if (ctx) fs.rmSync(ctx.workDir, { recursive: true, force: true });
    assert.equal(mountinfo(), before_, 'no mount was made in the supervisor namespace');
    assert.ok(!fs.existsSync('/tmp/confine-private'), "the child's /tmp was its own");
    assert.deepEqual(zombieChildren(), []);
    assert.deepEqual(await cgroupsLeft(), []);
  });
  for (const c of cases) test(c.name, () => c.run(ctx));
});

/** What npm run test:asan sets for every node process (the ASan runtime first, its logs, the addon). */
function sanitizerEnv() {
  const keep = ['LD_PRELOAD', 'ASAN_OPTIONS', 'UBSAN_OPTIONS', 'CONFINE_ADDON_PATH'];
  return Object.fromEntries(keep.filter((k) => process.env[k] !== undefined).map((k) => [k, process.env[k]]));
}

describe('isolation: a supervisor that is not root (user namespaces)', { skip }, () => {
  let user;
  let workDir;
  let report;
  before(() => {
    user = createUser();
    workDir = workDirFor(user.uid, user.gid);
    const ctx = { ...baseCtx, workDir, plantedLink: path.join(workDir, 'planted') };
    const r = spawnSync(
      'setpriv',
      [
        `--reuid=${user.uid}`,
        `--regid=${user.gid}`,
        '--init-groups',
        process.execPath,
        path.join(ROOT, 'test', 'fixtures', 'isolation-supervisor.mjs'),
        JSON.stringify(ctx),
      ],
      { cwd: workDir, encoding: 'utf8', env: { ...sanitizerEnv(), PATH: process.env.PATH, HOME: workDir }, timeout: 240_000 },
    );
    assert.equal(r.status, 0, `the supervisor ran: ${r.stderr}`);
    report = JSON.parse(r.stdout.trim().split('\n').pop());
  });
  after(() => {
    if (workDir) fs.rmSync(workDir, { recursive: true, force: true });
    user?.remove();
  });
  test('the supervisor is not root and its children get a user namespace', () => {
    assert.notEqual(report.uid, 0);
    assert.equal(report.isolation.viaUserNamespace, true, JSON.stringify(report.isolation));
  });
  for (const c of cases) {
    test(c.name, () => {
      const r = report.results.find((x) => x.name === c.name);
      assert.ok(r, 'the case ran');
      assert.equal(r.error, null, r.error);
    });
  }
});

describe('isolation: the init and the tree', { skip }, () => {
  let workDir;
  before(() => {
    workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'confine-iso-'));
    fs.chmodSync(workDir, 0o755); // runAs('nobody') enters it
  });
  after(() => {
    fs.rmSync(workDir, { recursive: true, force: true });
    assert.deepEqual(zombieChildren(), []);
  });
  const iso = (file, args, o = {}) => command(file, args, { cwd: workDir, stdio: 'ignore', ...o }).isolate();

  test("wait() reports the program's exit code and signal, not the init's", async () => {
    const a = iso('sh', ['-c', 'exit 42']);
    await a.start();
    assert.equal((await a.wait()).exitCode, 42);
    const b = iso('sh', ['-c', 'kill -SEGV $$']);
    await b.start();
    const st = await b.wait();
    assert.equal(st.exitCode, null);
    assert.equal(st.signal, 'SIGSEGV');
  });

  test("a fresh /proc: the kernel's own files read-only for a root child, and no one else can write them", async () => {
    // Writes the value it reads back (no change), so the control without isolation is harmless.
    const f = '/proc/sys/kernel/printk_ratelimit';
    const script = `v=$(cat ${f}); echo "$v" > ${f} 2>/dev/null && echo WROTE; grep -c ' /proc/sys ' /proc/self/mountinfo; true`;
    const runIt = async (ex) => {
      await ex.start();
      const [out] = await Promise.all([text(ex.stdout), ex.wait()]);
      return out.trim().split('\n');
    };
    const control = await runIt(command('sh', ['-c', script], { cwd: workDir, stdio: ['ignore', 'pipe', 'ignore'] }));
    assert.equal(control[0], 'WROTE', 'control: root writes it without isolation');
    const root = await runIt(command('sh', ['-c', script], { cwd: workDir, stdio: ['ignore', 'pipe', 'ignore'] }).isolate());
    assert.deepEqual(root, ['1'], `root child: read-only bind over /proc/sys (${root})`);
    const nobody = await runIt(
      command('sh', ['-c', script], { cwd: workDir, stdio: ['ignore', 'pipe', 'ignore'] })
        .runAs('nobody')
        .isolate(),
    );
    assert.deepEqual(nobody, ['0'], `nobody: no bind needed, and no write (${nobody})`);
  });

  test('a sized tmp: ENOSPC past its size (issue 20), an unsized one takes more', async () => {
    const MiB = 2 ** 20;
    const script = 'dd if=/dev/zero of=/tmp/fill bs=1M count=3 2>/dev/null; echo "dd $?"; stat -c %s /tmp/fill';
    const runIt = async (tmp) => {
      const ex = command('sh', ['-c', script], { cwd: workDir, stdio: ['ignore', 'pipe', 'ignore'] }).isolate({
        filesystem: {
          read: ['/usr', '/etc', '/bin', '/lib', '/lib64'].filter((p) => fs.existsSync(p)),
          write: [workDir],
          tmp: [tmp],
        },
      });
      await ex.start();
      const [out] = await Promise.all([text(ex.stdout), ex.wait()]);
      return out.trim().split('\n');
    };
    const [sized, sizedBytes] = await runIt({ path: '/tmp', sizeBytes: MiB });
    assert.notEqual(sized, 'dd 0', 'the write past the size failed');
    assert.ok(Number(sizedBytes) <= MiB, `at most the size was written: ${sizedBytes}`);
    const [plain, plainBytes] = await runIt('/tmp');
    assert.equal(plain, 'dd 0', 'control: without a size the same write succeeds');
    assert.equal(Number(plainBytes), 3 * MiB);
    assert.throws(() => command('true').isolate({ filesystem: { tmp: [{ path: '/tmp', sizeBytes: 0 }] } }), /sizeBytes/);
  });

  test('the program starts clean: nothing blocked or ignored, no_new_privs, only fds 0-2', async () => {
    const ex = command('sh', ['-c', 'grep -E "^(SigBlk|SigIgn|NoNewPrivs)" /proc/self/status; exec ls /proc/self/fd'], {
      cwd: workDir,
      stdio: ['ignore', 'pipe', 'ignore'],
    })
      .runAs('nobody')
      .isolate();
    await ex.start();
    const [out] = await Promise.all([text(ex.stdout), ex.wait()]);
    assert.match(out, /SigBlk:\s+0000000000000000/);
    assert.match(out, /SigIgn:\s+0000000000000000/);
    assert.match(out, /NoNewPrivs:\s+1/);
    assert.match(out, /\n0\n1\n2\n3\n$/, `fds: ${out}`);
  });

  test('shutdown() signals each process once, through the init; SIGTERM ends a plain sleep', async () => {
    // A process of the tree (the program's child) blocks SIGUSR2, waits until it is pending,
    // then unblocks it and prints who sent it (siginfo si_pid as its pid namespace sees the
    // sender): 1 is the init, which sends a tree-wide signal to every process of the namespace;
    // 0 a sender outside it: the supervisor signalling the tree's processes directly, which
    // would hand the program a second copy through the init (a second SIGTERM is "force quit"
    // to many programs).
    const hasPerl = spawnSync('perl', ['-MPOSIX', '-e', '1']).status === 0;
    if (hasPerl) {
      const script = [
        'use POSIX; $| = 1; $SIG{USR2} = sub {};',
        'if (fork() == 0) { my @from;',
        '  sigprocmask(SIG_BLOCK, POSIX::SigSet->new(SIGUSR2));',
        '  sigaction(SIGUSR2, POSIX::SigAction->new(sub { push @from, $_[1]{pid} }, POSIX::SigSet->new, SA_SIGINFO));',
        '  print "ready\\n"; my $go = <STDIN>;',
        '  sigprocmask(SIG_UNBLOCK, POSIX::SigSet->new(SIGUSR2)); my $x = 1; print "from @from\\n"; exit 0; }',
        'wait; exit 0;',
      ].join(' ');
      const ex = iso('perl', ['-e', script], { stdio: ['pipe', 'pipe', 'ignore'] });
      await ex.start();
      let out = '';
      ex.stdout.setEncoding('utf8');
      await new Promise((r) => ex.stdout.on('data', (d) => (out += d).includes('ready') && r()));
      const childOf = (pid) => Number(fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim());
      const inner = childOf(childOf(ex.pid)); // init -> program -> its child
      const stopped = ex.shutdown({ signal: 'SIGUSR2', graceMs: 20_000 });
      const usr2 = 1n << BigInt(os.constants.signals.SIGUSR2 - 1);
      const pending = () => BigInt(`0x${/ShdPnd:\s*(\w+)/.exec(fs.readFileSync(`/proc/${inner}/status`, 'utf8'))[1]}`) & usr2;
      assert.ok(await until(() => pending() !== 0n, 20_000), 'the signal reached every process');
      ex.stdin.end('go\n');
      const st = await stopped;
      assert.equal(st.exitCode, 0, out);
      assert.match(out, /^from 1$/m, `the copy came from the init: ${out}`);
    }
    const sleeper = iso('sleep', ['600']);
    await sleeper.start();
    const s2 = await sleeper.shutdown({ signal: 'SIGTERM', graceMs: 20_000 });
    assert.equal(s2.signal, 'SIGTERM');
  });

  test('kill(signal) reaches the program through the init', async () => {
    const ex = iso('sh', ['-c', 'trap "exit 9" USR1; echo ready; while :; do sleep 0.05; done'], {
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    await ex.start();
    await new Promise((r) => ex.stdout.once('data', r));
    assert.equal(ex.kill('SIGUSR1'), true);
    assert.equal((await ex.wait()).exitCode, 9);
  });

  test('a daemon that double-forked inside dies with the tree', async () => {
    const pidFile = path.join(workDir, 'daemon.pid');
    const forever = `600.${process.pid}`; // a command line no other process has
    const ex = iso('sh', [
      '-c',
      `(setsid sh -c 'echo $$ > ${pidFile}; exec sleep ${forever}' &) ; while [ ! -s ${pidFile} ]; do sleep 0.01; done; exit 3`,
    ]);
    await ex.start();
    assert.equal((await ex.wait()).exitCode, 3);
    assert.ok(fs.existsSync(pidFile), 'the daemon started');
    // Nothing of the tree is left: no process runs that sleep in a pid namespace other than ours
    // (the daemon's pid file holds its pid inside the namespace, which the host does not know).
    const own = fs.readlinkSync('/proc/self/ns/pid');
    const left = await until(
      () =>
        fs
          .readdirSync('/proc')
          .filter((p) => /^\d+$/.test(p))
          .filter((p) => {
            try {
              return (
                fs.readFileSync(`/proc/${p}/cmdline`, 'utf8') === `sleep\0${forever}\0` &&
                fs.readlinkSync(`/proc/${p}/ns/pid`) !== own
              );
            } catch {
              return false;
            }
          }).length === 0,
      10_000,
    );
    assert.ok(left, 'the double-forked daemon died with the tree');
  });

  test('an orphan inside the namespace is reaped by the init while the tree runs: no zombie', async () => {
    // The subshell starts a sleep and ends: the sleep is orphaned and the kernel hands it to the
    // namespace's pid 1, the init. Killed from here, it must not stay a zombie of the init.
    const marker = `sleep\0${601 + process.pid / 1e7}\0`; // a command line no other process has
    const ex = iso('sh', ['-c', `(${marker.replaceAll('\0', ' ')}&); echo ready; exec sleep 600`], {
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    await ex.start();
    try {
      await new Promise((r) => ex.stdout.once('data', r));
      const children = () =>
        fs.readFileSync(`/proc/${ex.pid}/task/${ex.pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
      const cmdline = (pid) => {
        try {
          return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
        } catch {
          return null;
        }
      };
      let orphan;
      assert.ok(
        await until(() => (orphan = children().find((p) => cmdline(p) === marker)) !== undefined, 20_000),
        `the orphan is the init's child: ${children()}`,
      );
      process.kill(orphan, 'SIGKILL');
      const state = (pid) => /^\d+ \(.*\) (\S)/.exec(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'))?.[1];
      assert.ok(
        await until(() => !children().includes(orphan), 20_000),
        `the orphan was reaped; the init's children: ${children().map((p) => `${p} ${state(p)}`)}`,
      );
      assert.equal(children().length, 1, 'the program alone is left');
      assert.equal(alive(ex.pid), true, 'the tree still runs');
    } finally {
      await ex.forceStop();
    }
  });

  test("kill(), shutdown() and forceStop() called before start() settles (the program may not have exec'd yet)", async () => {
    // The addon returns once the init runs; the program's exec comes later. Each stop, called in
    // the same turn as start(), ends the tree as it does once started, and start() still resolves
    // (a hang here is the failure).
    const stops = {
      kill: (ex) => {
        assert.equal(ex.kill('SIGTERM'), true);
        return ex.wait();
      },
      shutdown: (ex) => ex.shutdown({ signal: 'SIGTERM', graceMs: 20_000 }),
      forceStop: (ex) => ex.forceStop(),
    };
    for (const [name, stop] of Object.entries(stops)) {
      const ex = iso('sleep', ['600']);
      const started = ex.start();
      const st = await stop(ex);
      await started;
      assert.equal(st.signal, name === 'forceStop' ? 'SIGKILL' : 'SIGTERM', name);
      assert.equal((await ex.wait()).signal, st.signal);
    }
    assert.deepEqual(zombieChildren(), []);
  });

  test('forceStop() kills the whole tree; stats() counts it', async () => {
    const ex = iso('sh', ['-c', 'sleep 600 & sleep 600 & echo ready; wait'], { stdio: ['ignore', 'pipe', 'ignore'] });
    await ex.start();
    await new Promise((r) => ex.stdout.once('data', r));
    const s = await ex.stats();
    assert.ok(s.processes === null || s.processes >= 4, `init, sh and two sleeps: ${s.processes}`);
    const st = await ex.forceStop();
    assert.equal(st.signal, 'SIGKILL');
    assert.equal(alive(ex.pid), false);
  });

  test('handle and openPid(): a reattached tree is stopped through its init', async () => {
    const ex = iso('sleep', ['600']);
    await ex.start();
    const again = await openPid(ex.handle);
    const st = await again.shutdown({ signal: 'SIGTERM', graceMs: 20_000 });
    assert.equal(st.reattached, true);
    await ex.wait();
    assert.equal(alive(ex.pid), false);
  });

  test('timeout ends the tree', async () => {
    const ex = command('sleep', ['600'], { cwd: workDir, stdio: 'ignore', timeout: 200 }).isolate();
    await ex.start();
    const st = await ex.wait();
    assert.equal(st.timedOut, true);
    assert.equal(st.signal, 'SIGTERM');
  });

  test('an output the program closed before start() settled still ends and closes after it, where the caller listens', async () => {
    // On the init path start() settles on a later turn of the loop. The loop is held here (a
    // synchronous wait for the program's marker) until the program has exec'd and closed its
    // stderr: when the loop next polls, the start's pipe and stderr's EOF are ready together, and
    // stderr's pipe was made first (under load the init, which holds the start's pipe until it
    // resumes, can even come turns later). Its 'end' and 'close' must come after start() resolved.
    const ready = path.join(workDir, `stderr-closed-${process.pid}`);
    const ex = iso('sh', ['-c', `exec 2>&-; : > ${ready}; read go; exit 3`], { stdio: 'pipe' });
    const started = ex.start();
    try {
      const deadline = Date.now() + 60_000;
      while (!fs.existsSync(ready)) if (Date.now() > deadline) throw new Error('the program never closed its stderr');
      await started;
      const ended = once(ex.stderr, 'end');
      const closed = once(ex.stderr, 'close');
      ex.stderr.resume();
      ex.stdin.end('go\n');
      await within(ended, 30_000, "stderr's 'end' after start() resolved");
      await within(closed, 30_000, "stderr's 'close' after start() resolved");
      assert.equal((await ex.wait()).exitCode, 3);
    } finally {
      fs.rmSync(ready, { force: true });
      if (!ex.exitStatus) await ex.forceStop().catch(() => {});
    }
  });

  test('OOM inside the tree is reported', { skip: !caps.resources.memoryBytes?.enforced && 'no memory cgroup' }, async () => {
    const ex = command(process.execPath, ['-e', 'const a = []; for (;;) a.push(Buffer.alloc(1 << 20, 1));'], {
      cwd: workDir,
      stdio: 'ignore',
    })
      .limit({ memoryBytes: 64 * 2 ** 20 })
      .isolate();
    await ex.start();
    const st = await ex.wait();
    assert.equal(st.oomKilled, true);
  });
});

/** Whether this kernel mounts a procfs with subset=pid (Linux 5.8+), tried in a mount namespace of its own. */
function procSubsetPidReason() {
  if (skip) return skip;
  const r = spawnSync(
    'unshare',
    ['--mount', '--propagation', 'private', 'mount', '-t', 'proc', '-o', 'subset=pid', 'proc', '/proc'],
    { encoding: 'utf8' },
  );
  return r.status === 0
    ? false
    : `a procfs with subset=pid cannot be mounted here (Linux 5.8+): ${(r.stderr || r.error?.message || '').trim()}`;
}

describe("isolation: a supervisor whose own /proc hides the kernel's files (subset=pid)", {
  skip: procSubsetPidReason() || (!haveCc() && 'no C compiler for test/fixtures/no-mount-setattr.c'),
}, () => {
  // The supervisor runs in a mount namespace of its own whose /proc shows only processes, as in
  // some hardened containers. Which of /proc's kernel files a root child's fresh /proc covers
  // read-only is that /proc's answer, not the supervisor's: the child must find all it has.
  const entries = ['sys', 'sysrq-trigger', 'irq', 'bus'];
  // Each entry: absent, or present with the mount at it ro/rw; then an open for writing that
  // writes nothing (harmless where it succeeds).
  const childScript = [
    `for e in ${entries.join(' ')}; do`,
    '  if [ -e /proc/$e ]; then echo "$e $(awk -v m=/proc/$e \'$5 == m { split($6, o, ","); print o[1] }\' /proc/self/mountinfo)"; else echo "$e absent"; fi',
    'done',
    'err=$({ true >> /proc/sys/kernel/printk_ratelimit; } 2>&1) && echo "write opened" || echo "write refused: ${err##*: }"',
  ].join('\n');
  let dir;
  let noMountSetattr;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'confine-procsubset-'));
    fs.chmodSync(dir, 0o755); // the child's cwd
    noMountSetattr = path.join(dir, 'no-mount-setattr');
    execFileSync('cc', ['-O1', '-Wall', '-o', noMountSetattr, path.join(ROOT, 'test', 'fixtures', 'no-mount-setattr.c')]);
  });
  after(() => {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
    assert.deepEqual(zombieChildren(), []);
  });

  /** Runs the supervisor (prefix: a command it runs under) there; returns its report. */
  async function superviseUnderSubsetPid(prefix) {
    const supervisor = `
      const fs = await import('node:fs');
      const { command, capabilities } = await import(${JSON.stringify(path.join(ROOT, 'dist', 'index.mjs'))});
      const ex = command('sh', ['-c', ${JSON.stringify(childScript)}], { cwd: ${JSON.stringify(dir)}, stdio: ['ignore', 'pipe', 'inherit'] }).isolate();
      await ex.start();
      let out = '';
      for await (const chunk of ex.stdout) out += chunk;
      const st = await ex.wait();
      console.log(JSON.stringify({
        own: ${JSON.stringify(entries)}.filter((e) => fs.existsSync('/proc/' + e)),
        recursiveReadOnly: capabilities().isolation.recursiveReadOnly,
        exitCode: st.exitCode,
        child: out.trim().split('\\n'),
      }));`;
    const before_ = mountinfo();
    const r = spawnSync(
      'unshare',
      [
        ...['--mount', '--propagation', 'private', 'sh', '-c', 'mount -t proc -o subset=pid proc /proc && exec "$@"', 'sh'],
        ...prefix,
        ...[process.execPath, '--input-type=module', '-e', supervisor],
      ],
      // Without the Landlock layer, which refuses the write on its own (EACCES): the mounts
      // alone are under test.
      { cwd: '/', encoding: 'utf8', timeout: 60_000, env: { ...envWithout('NODE_TEST_CONTEXT'), CONFINE_LANDLOCK_LAYER: '0' } },
    );
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout.trim().split('\n').pop());
    assert.deepEqual(out.own, [], "the supervisor's /proc shows none of them");
    assert.equal(out.exitCode, 0, `the child: ${out.child} ${r.stderr}`);
    assert.equal(mountinfo(), before_, "nothing mounted in the test process's namespace");
    assert.deepEqual(await cgroupsLeft(), []);
    return out;
  }
  // This kernel decides which exist: this test process's /proc is a full one.
  const expected = () => [
    ...entries.map((e) => `${e} ${fs.existsSync(`/proc/${e}`) ? 'ro' : 'absent'}`),
    'write refused: Read-only file system',
  ];

  test("a root child's fresh /proc has each of them that exists, read-only (mount_setattr)", async (t) => {
    if (!support.recursiveReadOnly) return t.skip('no mount_setattr on this kernel: the next case is its path');
    const out = await superviseUnderSubsetPid([]);
    assert.equal(out.recursiveReadOnly, true);
    assert.ok(expected().includes('sys ro'), 'this kernel has /proc/sys');
    assert.deepEqual(out.child, expected(), `the child's /proc: ${out.child}`);
  });

  test('the same where the kernel has no mount_setattr (before Linux 5.12): a remount makes them read-only', async () => {
    const out = await superviseUnderSubsetPid([noMountSetattr]);
    assert.equal(out.recursiveReadOnly, false, 'the supervisor took the path of a kernel without mount_setattr');
    assert.deepEqual(out.child, expected(), `the child's /proc: ${out.child}`);
  });
});

describe('isolation: the executor and lifecycle suites, isolated', {
  skip:
    skip ||
    (inVm &&
      'nested under software emulation the two suites take over 10 minutes and meet their deadlines by luck; test:cgroup2 runs lifecycle itself'),
}, () => {
  // Every tree those suites start is isolated (test/helpers.mjs, CONFINE_TEST_ISOLATE=1): exit
  // codes, signals, OOM, stats, timeout and tree kill behave as without isolation.
  for (const file of ['executor', 'lifecycle']) {
    test(`test/${file}.test.mjs with every tree isolated`, () => {
      // --test-force-exit: a failed case that leaves a tree running must end the run with its
      // report, not keep the file's process alive until our own deadline hides which case it was.
      const r = spawnSync(
        process.execPath,
        ['--test', '--test-force-exit', '--test-reporter=tap', path.join(ROOT, 'test', `${file}.test.mjs`)],
        {
          cwd: ROOT,
          encoding: 'utf8',
          // A test runner of its own (NODE_TEST_CONTEXT would route its report to ours), and its
          // own cgroup parent (its orphan checks look at everything under it).
          env: { ...envWithout('NODE_TEST_CONTEXT', 'CONFINE_CGROUP_PARENT'), CONFINE_TEST_ISOLATE: '1' },
          // Both runs inside the runner's own 15 minutes per file (package.json's --test-timeout;
          // here ~10 s and ~40 s), so that a hang still reports what it was.
          timeout: 300_000,
        },
      );
      const failed = r.stdout.split('\n').filter((l) => /^\s*not ok /.test(l));
      assert.equal(
        r.status,
        0,
        `failed: ${failed.join('; ')}\n${r.error ? `${r.error.message}\n${r.stdout.slice(-4000)}\n` : ''}${r.stderr.slice(-2000)}`,
      );
      assert.match(r.stdout, /^# pass [1-9]/m);
    });
  }
});

describe('isolation: bad input is refused before anything starts', { skip }, () => {
  let workDir;
  before(() => {
    workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'confine-iso-'));
    fs.writeFileSync(path.join(workDir, 'file'), 'x');
  });
  after(() => fs.rmSync(workDir, { recursive: true, force: true }));

  test('at isolate(): a relative path, an unknown key, overlapping read and write, a bad value', () => {
    const ex = () => command('true', [], { cwd: workDir });
    assert.throws(() => ex().isolate({ filesystem: { read: ['usr'] } }), ConfineArgumentError);
    assert.throws(() => ex().isolate({ filesystem: { read: ['/usr'], writ: ['/tmp'] } }), /unknown key "writ"/);
    assert.throws(() => ex().isolate({ network: 'none', proc: 'private' }), /unknown key "proc"/);
    assert.throws(() => ex().isolate({ filesystem: { read: [workDir], write: [workDir] } }), /listed in both/);
    assert.throws(() => ex().isolate({ filesystem: { read: [`${workDir}/file`], write: [workDir] } }), /inside the write path/);
    assert.throws(() => ex().isolate({ network: 'off' }), /network must be one of/);
    assert.throws(() => ex().isolate({ hostname: 'a b' }), /hostname/);
    assert.throws(() => ex().isolate({ filesystem: { read: ['/usr\0x'] } }), /NUL/);
  });

  test('at start(): a missing path, a file where a directory is needed, a program or cwd outside the view', async () => {
    const mounts = mountinfo();
    const fds = openFds();
    const attempts = [
      [
        command('true', [], { cwd: workDir }).isolate({
          filesystem: { read: ['/usr', '/confine-no-such-dir'], write: [workDir] },
        }),
        /does not exist/,
      ],
      [
        command('true', [], { cwd: workDir }).isolate({
          filesystem: { read: ['/usr'], write: [workDir], tmp: [`${workDir}/file`] },
        }),
        /not a directory/,
      ],
      [
        command('/usr/bin/true', [], { cwd: workDir }).isolate({ filesystem: { read: ['/etc'], write: [workDir] } }),
        /program \/usr\/bin\/true is not in the isolated view/,
      ],
      [
        command('true', [], { cwd: workDir }).isolate({
          filesystem: { read: ['/usr', '/lib', '/lib64', '/bin'], write: ['/var/tmp'] },
        }),
        /working directory .* is not in the isolated view/,
      ],
      // The program is in the view but its ELF interpreter is not.
      [
        command('/usr/bin/true', [], { cwd: workDir }).isolate({ filesystem: { read: ['/usr/bin'], write: [workDir] } }),
        /needs \/lib64\/ld-linux|needs \/lib\/ld-linux/,
      ],
    ];
    for (const [ex, message] of attempts) {
      const err = await ex.start().then(
        () => null,
        (e) => e,
      );
      assert.ok(err instanceof IsolationError, `${message}: got ${err}`);
      assert.match(err.message, message);
      assert.equal(err.code, 'ERR_CONFINE_ISOLATION');
    }
    assert.equal(mountinfo(), mounts, 'no mount left');
    assert.ok(await until(() => openFds() <= fds), `no fd left: ${openFds()} > ${fds}`);
    assert.deepEqual(zombieChildren(), []);
    assert.deepEqual(leftoverTestCgroups(), [], 'no cgroup left');
  });

  test('an unenforceable key without strict: one ConfineWarning per key, and the tree runs', async () => {
    const warnings = [];
    const onWarning = (w) => warnings.push(w);
    process.on('warning', onWarning);
    // Without namespaces (forced here), IPC and the hostname have no mechanism (issue 17).
    process.env.CONFINE_ISOLATION = 'landlock';
    try {
      const ex = command('true', [], { cwd: workDir, stdio: 'ignore' }).isolate({ ipc: 'private', hostname: 'box' });
      await ex.start();
      assert.equal((await ex.wait()).exitCode, 0);
      // Emitted on the next tick: wait for both rather than guess.
      await until(() => warnings.length >= 2, 10_000);
    } finally {
      process.off('warning', onWarning);
      delete process.env.CONFINE_ISOLATION;
    }
    const ours = warnings.filter((w) => w.name === 'ConfineWarning' && w.code === 'CONFINE_UNENFORCED');
    assert.deepEqual(ours.map((w) => w.message.split(' ')[0]).sort(), ['hostname', 'ipc'], ours.map((w) => w.message).join('\n'));
  });

  test('an unenforceable key with strict rejects before anything runs', async () => {
    // Capabilities can be kept only by a uid-0 child (issue 17): strict refuses keeping one for nobody.
    const ex = command('true', [], { cwd: workDir, strict: true })
      .runAs('nobody')
      .isolate({ capabilities: ['net_admin'] });
    assert.equal(ex.enforced.capabilities.enforced, false);
    await assert.rejects(ex.start(), UnenforcedError);
    assert.equal(ex.pid, undefined);
    assert.deepEqual(leftoverTestCgroups(), []);
  });
});

describe('isolation: reporting', { skip }, () => {
  test('ex.enforced names each mechanism; capabilities() lists the namespaces', () => {
    const ex = command('true').isolate({
      filesystem: { read: ['/usr'], write: [], tmp: ['/tmp'] },
      network: 'loopback',
      processes: 'private',
      ipc: 'private',
      hostname: 'box',
      syscalls: 'default',
      capabilities: [],
    });
    const e = ex.enforced;
    assert.equal(e.filesystem.mechanism, 'mount-namespace');
    assert.equal(e.network.mechanism, 'net-namespace');
    assert.equal(e.processes.mechanism, 'pid-namespace');
    assert.equal(e.ipc.mechanism, 'ipc-namespace');
    assert.equal(e.hostname.mechanism, 'uts-namespace');
    for (const k of ['filesystem', 'network', 'processes', 'ipc', 'hostname']) assert.equal(e[k].enforced, true, k);
    // The kernel guards (issue 17; test/guards.test.mjs): the filter, and the root child's capabilities.
    assert.deepEqual(
      [e.syscalls.enforced, e.syscalls.mechanism],
      [caps.isolation.seccomp.available, caps.isolation.seccomp.available ? 'seccomp' : 'none'],
    );
    assert.deepEqual([e.capabilities.enforced, e.capabilities.mechanism], [true, 'capabilities']);
    assert.equal(command('true').isolate({ network: 'host' }).enforced.network.enforced, true);
    for (const n of ['mount', 'pid', 'net', 'ipc', 'uts']) assert.equal(support.namespaces[n].ok, true, n);
    assert.equal(typeof support.userNamespaces.ok, 'boolean');
    // A field per mechanism; Landlock and seccomp from the addon's own probe.
    assert.ok(caps.isolation.landlock.abi > 0 || caps.isolation.landlock.reason, JSON.stringify(caps.isolation.landlock));
    assert.equal(typeof caps.isolation.seccomp.available, 'boolean', JSON.stringify(caps.isolation.seccomp));
  });

  test('the preset reused start after start: each cwd gets its own view; the rows follow CONFINE_ISOLATION and CONFINE_LANDLOCK_LAYER', async () => {
    // The preset's spec, rows, mounts and Landlock rules are made once and reused (lib/isolation):
    // back to back, nothing made for one start may serve another that differs.
    const dirs = [0, 1].map(() => fs.mkdtempSync(path.join(os.tmpdir(), 'confine-iso-reuse-')));
    const saved = { isolation: process.env.CONFINE_ISOLATION, layer: process.env.CONFINE_LANDLOCK_LAYER };
    const restore = (k, v) => {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    };
    try {
      for (const [mine, other] of [dirs, [...dirs].reverse(), dirs]) {
        const ex = command('/bin/sh', ['-c', `echo x > ${mine}/own && ! (echo x > ${other}/leak) 2>/dev/null`], {
          cwd: mine,
          stdio: 'ignore',
        }).isolate();
        await ex.start();
        assert.equal((await ex.wait()).exitCode, 0, `in ${mine}: its own cwd writable, the other's not in the view`);
        assert.ok(!fs.existsSync(path.join(other, 'leak')));
      }
      const preset = () => command('true', [], { cwd: dirs[0] }).isolate().enforced.filesystem;
      const layered = (f) => f.note.includes('second layer');
      const abi = caps.isolation.landlock.abi ?? 0;
      assert.equal(preset().mechanism, 'mount-namespace');
      assert.equal(layered(preset()), abi > 0);
      process.env.CONFINE_LANDLOCK_LAYER = '0';
      assert.equal(layered(preset()), false, 'CONFINE_LANDLOCK_LAYER=0 is read at each plan');
      process.env.CONFINE_ISOLATION = 'landlock';
      assert.equal(preset().mechanism, abi > 0 ? 'landlock' : 'none', 'CONFINE_ISOLATION is read at each plan');
      restore('CONFINE_ISOLATION', saved.isolation);
      restore('CONFINE_LANDLOCK_LAYER', saved.layer);
      assert.equal(preset().mechanism, 'mount-namespace');
      assert.equal(layered(preset()), abi > 0);
      // A started preset's own rows too (the plan of its concrete spec).
      const ex = command('true', [], { cwd: dirs[1], stdio: 'ignore' }).isolate();
      process.env.CONFINE_LANDLOCK_LAYER = '0';
      await ex.start();
      assert.equal(layered(ex.enforced.filesystem), false);
      assert.equal((await ex.wait()).exitCode, 0);
    } finally {
      restore('CONFINE_ISOLATION', saved.isolation);
      restore('CONFINE_LANDLOCK_LAYER', saved.layer);
      for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
    }
  });

  test('the universal backend reports every key unenforced', () => {
    const e = command('true', [], { executor: 'universal' }).isolate().enforced;
    for (const k of ['filesystem', 'network', 'processes', 'ipc', 'hostname']) assert.equal(e[k].enforced, false, k);
  });
});

describe('isolation: no leak', { skip }, () => {
  test(`${inVm ? 200 : '2,000'} isolated spawns: no mount in the supervisor namespace, no fd, no zombie`, async () => {
    const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'confine-iso-'));
    try {
      const ctx = { command, workDir };
      await run(ctx, ['/bin/true']); // warm: the probe, the init fd, the spare pool
      const mounts = mountinfo();
      const fds = openFds();
      // 2,000 here; in the cgroup v2 VM, under software emulation, 2,000 take half an hour.
      const N = inVm ? 200 : 2000;
      let inFlight = [];
      for (let i = 0; i < N; i++) {
        inFlight.push(
          (async () => {
            const ex = command('/bin/true', [], { cwd: workDir, stdio: 'ignore' }).isolate();
            await ex.start();
            const st = await ex.wait();
            assert.equal(st.exitCode, 0);
          })(),
        );
        if (inFlight.length >= 16) {
          await Promise.all(inFlight);
          inFlight = [];
        }
      }
      await Promise.all(inFlight);
      assert.equal(mountinfo(), mounts);
      await until(() => openFds() <= fds, 5000);
      assert.ok(openFds() <= fds, `fds: ${openFds()} > ${fds}`);
      assert.deepEqual(zombieChildren(), []);
      assert.deepEqual(await cgroupsLeft(), []);
    } finally {
      fs.rmSync(workDir, { recursive: true, force: true });
    }
  });
});

describe('isolation: user namespaces off (the VM kernel)', {
  skip: skip || (!inVm && 'changes a kernel-wide sysctl: runs in the cgroup v2 VM only'),
}, () => {
  test('a supervisor that is not root: Landlock and the filter where they can, the rest unenforced with the reason; strict rejects', () => {
    const user = createUser();
    const sysctl = '/proc/sys/user/max_user_namespaces';
    const saved = fs.readFileSync(sysctl, 'utf8').trim();
    try {
      fs.writeFileSync(sysctl, '0');
      const script = `
        const { command } = await import(${JSON.stringify(path.join(ROOT, 'dist', 'index.mjs'))});
        const ex = command('true', [], { cwd: '/', strict: true }).isolate({ network: 'none', processes: 'private', ipc: 'private', hostname: 'x', filesystem: { read: ['/usr'] } });
        const enforced = ex.enforced;
        let rejected = null;
        await ex.start().catch((e) => { rejected = e.code; });
        // Without strict, the Landlock path runs it: /etc is outside the view (issue 17).
        const read = async (iso) => {
          // posix: the test user has no delegated cgroup to write.
          const c = command('/usr/bin/cat', ['/etc/passwd'], { cwd: '/', stdio: ['ignore', 'ignore', 'ignore'], executor: 'posix' });
          if (iso) c.isolate({ filesystem: { read: ['/usr', '/lib', '/lib64'].filter((p) => fs.existsSync(p)) } });
          await c.start();
          return (await c.wait()).exitCode;
        };
        const fs = await import('node:fs');
        const control = await read(false);
        const guarded = await read(true);
        console.log(JSON.stringify({ enforced, rejected, pid: ex.pid ?? null, control, guarded }));`;
      const r = spawnSync(
        'setpriv',
        [`--reuid=${user.uid}`, `--regid=${user.gid}`, '--init-groups', process.execPath, '--input-type=module', '-e', script],
        // Not this run's test cgroup parent: a supervisor that is not root cannot use it (#18).
        { cwd: '/', encoding: 'utf8', timeout: 60_000, env: envWithout('CONFINE_CGROUP_PARENT') },
      );
      assert.equal(r.status, 0, r.stderr);
      const out = JSON.parse(r.stdout.trim().split('\n').pop());
      // Issue 17: Landlock takes the files, the filter (and from ABI 4 Landlock) the network.
      const abi = caps.isolation.landlock.abi ?? 0;
      const fallback = abi > 0 && caps.isolation.seccomp.available;
      for (const k of fallback ? ['processes', 'ipc', 'hostname'] : ['filesystem', 'network', 'processes', 'ipc', 'hostname']) {
        assert.equal(out.enforced[k].enforced, false, k);
        assert.match(out.enforced[k].note, /max_user_namespaces = 0/, k);
      }
      if (fallback) {
        assert.deepEqual([out.enforced.filesystem.enforced, out.enforced.filesystem.mechanism], [true, 'landlock']);
        assert.match(
          out.enforced.filesystem.note,
          new RegExp(`Landlock ABI ${abi} \\(no mount namespace: .*max_user_namespaces = 0`),
        );
        if (abi < 3) assert.match(out.enforced.filesystem.note, /truncate is not controlled before ABI 3/);
        assert.deepEqual(
          [out.enforced.network.enforced, out.enforced.network.mechanism],
          [true, abi >= 4 ? 'landlock-tcp' : 'seccomp'],
        );
        if (abi < 6) assert.match(out.enforced.network.note, /abstract unix sockets stay reachable \(scopes need Landlock ABI 6/);
        assert.equal(out.control, 0, 'cat /etc/passwd without isolation');
        assert.notEqual(out.guarded, 0, 'cat /etc/passwd outside the Landlock view');
      }
      assert.equal(out.rejected, 'ERR_CONFINE_UNENFORCED');
      assert.equal(out.pid, null, 'nothing ran');
    } finally {
      fs.writeFileSync(sysctl, saved);
      user.remove();
    }
  });
});

describe('isolation: the CLI', { skip }, () => {
  test('confine run --isolate and the single flags', () => {
    const cli = path.join(ROOT, 'dist', 'cli.js');
    const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'confine-iso-'));
    try {
      const out = execFileSync(
        process.execPath,
        [cli, 'run', '--isolate', '--cwd', workDir, '--', 'sh', '-c', 'hostname; ls /'],
        { encoding: 'utf8' },
      );
      assert.match(out, /^sandbox\n/);
      assert.doesNotMatch(out, /\bvar\b|\bhome\b/);
      // The single flags, each checked for its effect. Paths the host has that no flag lists.
      const absent = ['/home', '/root', '/opt', '/srv', '/boot', '/work', '/var/lib'].filter((p) => fs.existsSync(p));
      assert.ok(absent.length > 0, 'the host has a directory outside the listed paths');
      // The host's /tmp holds more than the work dir (a clean VM's holds nothing else): a --tmpfs
      // that showed the host's /tmp would show this file.
      const hostMarker = `/tmp/confine-cli-marker-${process.pid}`;
      fs.writeFileSync(hostMarker, '');
      const hostRoutes = fs.readFileSync('/proc/net/route', 'utf8').trim().split('\n').length - 1;
      const queue = /(\d+)\s*$/.exec(execFileSync('ipcmk', ['-Q'], { encoding: 'utf8' }).trim())[1];
      // What the tree sees (also run on the host, the control), then what it writes (only inside).
      const tmpFile = `/tmp/confine-cli-${process.pid}`; // on the host only if --tmpfs failed
      const look = [
        ...absent.map((p) => `test -e ${p} && echo "present ${p}"`),
        "echo \"queues $(awk 'NR > 1 { print $2 }' /proc/sysvipc/msg | tr '\\n' ' ')\"",
        'echo "interfaces $(tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d " " | tr "\\n" " ")"',
        'echo "routes $(tail -n +2 /proc/net/route | wc -l)"',
        'echo "lo addresses $(grep -c "127.0.0.1" /proc/net/fib_trie)"',
      ];
      const probe = [
        'hostname',
        'echo "pid $$"',
        ...look,
        'test -r /etc/passwd && echo "etc readable"',
        'touch /usr/confine-cli-x 2>/dev/null && echo "wrote /usr"',
        'echo rw > rw-file && echo "rw written"',
        'echo "tmp $(stat -f -c %T /tmp) $(ls -A /tmp | tr "\\n" " ")"',
        `echo t > ${tmpFile} && echo "tmp written $(cat ${tmpFile})"`,
        'true',
      ].join('; ');
      const flags = (network) => [
        cli,
        'run',
        '--ro',
        '/usr',
        '--ro',
        '/etc',
        '--rw',
        workDir,
        '--tmpfs',
        '/tmp',
        '--network',
        network,
        '--private-pids',
        '--private-ipc',
        '--hostname',
        'cli-box',
        '--cwd',
        workDir,
        '--',
        '/usr/bin/sh',
        '-c',
        probe,
      ];
      try {
        const lines = (network) => execFileSync(process.execPath, flags(network), { encoding: 'utf8' }).split('\n');
        const lo = lines('loopback');
        assert.deepEqual(lo.slice(0, 2), ['cli-box', 'pid 2'], lo.join('\n'));
        assert.deepEqual(
          lo.filter((l) => /^(present|wrote) /.test(l)),
          [],
          'outside --ro nothing is there; --ro is read-only',
        );
        assert.ok(lo.includes('etc readable'));
        assert.ok(lo.includes('rw written'));
        assert.equal(fs.readFileSync(path.join(workDir, 'rw-file'), 'utf8'), 'rw\n', '--rw writes to the host');
        const tmp = lo.find((l) => l.startsWith('tmp ')) ?? '';
        assert.equal(
          tmp,
          `tmp tmpfs ${path.basename(workDir)} `,
          `--tmpfs: a fresh tmpfs, empty but for the --rw mount: ${tmp.slice(0, 200)}`,
        );
        assert.ok(lo.includes('tmp written t'));
        assert.ok(lo.includes('queues '), `--private-ipc: the host's queue ${queue} out of sight: ${lo}`);
        assert.ok(lo.includes('interfaces lo '), `--network loopback: lo alone: ${lo}`);
        assert.ok(Number(lo.find((l) => l.startsWith('lo addresses ')).split(' ')[2]) > 0, 'loopback: lo is up');
        const none = lines('none');
        assert.ok(none.includes('interfaces lo '), `--network none: lo alone: ${none}`);
        assert.ok(none.includes('lo addresses 0'), `--network none: lo down, no address: ${none}`);
        assert.ok(none.includes('routes 0'), `--network none: no route (the host has ${hostRoutes}): ${none}`);
        // The control: without the flags the same probe sees the host.
        const host = execFileSync('/usr/bin/sh', ['-c', `${look.join('; ')}; true`], { encoding: 'utf8' }).split('\n');
        assert.ok(host.includes(`present ${absent[0]}`));
        assert.ok(
          host.some((l) => l.startsWith('queues ') && l.split(' ').includes(queue)),
          'the host lists its queue',
        );
        // The host's lo is up with 127.0.0.1 (also in the VM, which has no other interface).
        assert.ok(
          host.some((l) => /^lo addresses [1-9]/.test(l)),
          `the host's lo has its address: ${host}`,
        );
      } finally {
        execFileSync('ipcrm', ['-q', queue]);
        fs.rmSync(tmpFile, { force: true });
        fs.rmSync(hostMarker, { force: true });
      }
      const r = spawnSync(process.execPath, [cli, 'run', '--network', 'nowhere', '--', 'true'], { encoding: 'utf8' });
      assert.equal(r.status, 2, r.stderr);
      // confine doctor: a line per mechanism, and the same as capabilities().isolation in --json.
      const doctor = execFileSync(process.execPath, [cli, 'doctor'], { encoding: 'utf8' });
      const section = doctor.slice(doctor.indexOf('\nisolation:\n'));
      assert.match(section, new RegExp(`^  mechanism +${support.mechanism}\\b`, 'm'), doctor);
      for (const n of ['mount', 'pid', 'net', 'ipc', 'uts'])
        assert.match(section, new RegExp(`^  ${n} namespace +(yes|no: )`, 'm'));
      assert.match(section, /^ {2}landlock +(ABI \d+|no: )/m);
      assert.match(section, /^ {2}seccomp +(yes|no: )/m);
      const json = JSON.parse(execFileSync(process.execPath, [cli, 'doctor', '--json'], { encoding: 'utf8' }));
      assert.equal(json.isolation.mechanism, support.mechanism);
    } finally {
      fs.rmSync(workDir, { recursive: true, force: true });
    }
  });
});
