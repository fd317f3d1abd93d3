// isolate()'s kernel guards (issue 17) through the public API: the system call filter
// (`syscalls`), the capability sets (`capabilities`) and the Landlock path where namespaces are
// not allowed. Each case runs through both mechanisms (CONFINE_ISOLATION=namespaces and
// =landlock), with a child that runs as root and one that runs as a test user (createUser()),
// and each attack first without the guard (the control: the same isolate() with syscalls 'host'
// or no isolation), so a guard that stopped working fails the test instead of passing unnoticed.
// The attacks are test/fixtures/adversarial/guards.c's (one line per attempt: `<attempt> allowed`
// or `<attempt> denied <ERRNO>`). A non-root supervisor is tested on the Landlock path too.
//
// In the cgroup v2 VM (npm run test:cgroup2 -- test/guards.test.mjs) the older kernel has an
// older Landlock ABI: the cases that need a newer one are skipped with the ABI in the reason,
// and the fallback rows are checked to say what that ABI leaves open.

import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createUser, zombieChildren, until, alive, haveCc, isLinux, isRoot, text } from './helpers.mjs';

const { command, capabilities, ConfineArgumentError } = await import('../dist/index.mjs');

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const FIXTURE = path.join(ROOT, 'test', 'fixtures', 'adversarial', 'guards.c');
const caps = isLinux ? capabilities() : null;
const iso = caps?.isolation;
const abi = iso?.landlock.abi ?? 0;
const skip = !isLinux
  ? 'Linux only'
  : !isRoot
    ? 'needs root: creates a test user, runs children as root and as that user'
    : !caps.backends.includes('linux')
      ? `no linux backend here: ${caps.reason}`
      : !iso.seccomp.available
        ? `no seccomp filters here: ${iso.seccomp.reason}`
        : !haveCc()
          ? 'no C compiler (cc) for the fixture'
          : false;
const MECHANISMS = ['namespaces', 'landlock'];
const skipMechanism = (mech) =>
  mech === 'landlock'
    ? abi === 0 && `no Landlock here: ${iso?.landlock.reason}`
    : iso?.mechanism !== 'namespaces' && `no namespaces here: ${iso?.reason}`;
const needAbi = (n, what) => abi < n && `${what} needs Landlock ABI ${n}; this kernel has ABI ${abi}`;
const SYSTEM = ['/usr', '/etc', ...['/bin', '/sbin', '/lib', '/lib32', '/lib64'].filter((p) => fs.existsSync(p))];

let dir; // everything the test makes
let binDir; // the fixture (a read path of every view)
let bin;
let outside; // no view holds it: a secret, an executable
let user;
const work = {}; // per identity: its cwd, writable, owned by it
let tcp;
let abstract;
const abstractName = `confine-guards-${process.pid}`;

before(async () => {
  if (skip) return;
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'confine-guardsts-'));
  fs.chmodSync(dir, 0o755);
  binDir = path.join(dir, 'bin');
  fs.mkdirSync(binDir, { mode: 0o755 });
  bin = path.join(binDir, 'guards');
  execFileSync('cc', ['-O1', '-o', bin, FIXTURE]);
  outside = path.join(dir, 'outside');
  fs.mkdirSync(outside, { mode: 0o777 });
  fs.chmodSync(outside, 0o777);
  fs.writeFileSync(path.join(outside, 'secret'), 'secret\n', { mode: 0o644 });
  fs.copyFileSync('/usr/bin/true', path.join(outside, 'true'));
  fs.chmodSync(path.join(outside, 'true'), 0o755);
  user = createUser();
  for (const [who, uid, gid] of [
    ['root', 0, 0],
    ['user', user.uid, user.gid],
  ]) {
    const w = path.join(dir, `work-${who}`);
    fs.mkdirSync(w);
    fs.writeFileSync(path.join(w, 'data'), 'data\n');
    fs.chownSync(w, uid, gid);
    fs.chownSync(path.join(w, 'data'), uid, gid);
    work[who] = w;
  }
  tcp = net.createServer((s) => s.destroy()).listen(0, '127.0.0.1');
  abstract = net.createServer((s) => s.destroy()).listen({ path: `\0${abstractName}` });
  await Promise.all([new Promise((r) => tcp.once('listening', r)), new Promise((r) => abstract.once('listening', r))]);
});

after(() => {
  tcp?.close();
  abstract?.close();
  user?.remove();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

/** isolate()'s argument: the system paths and the fixture read, the identity's work dir written. */
function spec(who, extra = {}) {
  return {
    filesystem: { read: [...SYSTEM, binDir], write: [work[who]], tmp: ['/tmp'] },
    network: 'none',
    processes: 'private',
    syscalls: 'default',
    ...extra,
  };
}

/** Runs fn with the supervisor's environment changed by vars (undefined: unset), then restores it. */
async function withEnv(vars, fn) {
  const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  const set = (values) => {
    for (const [k, v] of Object.entries(values)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  };
  set(vars);
  try {
    return await fn();
  } finally {
    set(saved);
  }
}

/**
 * Runs file under CONFINE_ISOLATION=mech (null: no isolate()); stdout and stderr together.
 * `layer: false` leaves out the Landlock second layer over the mount namespace (root only).
 */
async function run(mech, who, file, args, isolation, { limit, env = {}, layer = true } = {}) {
  const vars = { CONFINE_ISOLATION: mech ?? 'namespaces', CONFINE_LANDLOCK_LAYER: layer ? undefined : '0' };
  return withEnv(vars, async () => {
    const ex = command(file, args, {
      cwd: work[who],
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { PATH: '/usr/bin:/bin', HOME: work[who], LANG: 'C', ...env },
    });
    if (who === 'user') ex.runAs(user.name);
    if (limit) ex.limit(limit);
    if (mech !== null) ex.isolate(isolation);
    const warnings = [];
    const onWarning = (w) => warnings.push(w);
    process.on('warning', onWarning);
    try {
      await ex.start();
    } finally {
      process.off('warning', onWarning);
    }
    const [out, err, st] = await Promise.all([text(ex.stdout), text(ex.stderr), ex.wait()]);
    return { ...st, out: out + err, enforced: ex.enforced, ex };
  });
}

/** The fixture's answers: Map(attempt -> 'allowed' | 'denied EPERM' | ...). */
async function attempts(mech, who, list, isolation, options) {
  const r = await run(mech, who, bin, list, isolation, options);
  assert.equal(r.exitCode, 0, `fixture failed: ${r.out}`);
  const answers = new Map();
  for (const line of r.out.trim().split('\n')) {
    const [name, ...rest] = line.split(' ');
    answers.set(name, rest.join(' '));
  }
  return answers;
}

/** A sleeping process of the identity outside every guard: a target outside the tree. */
async function sleeper(who) {
  const ex = command('/usr/bin/sleep', ['600'], { stdio: 'ignore' });
  if (who === 'user') ex.runAs(user.name);
  await ex.start();
  return ex;
}

describe('guards: the system call filter', { skip }, () => {
  // The filter's answers, and which of them the kernel gives on its own to a test user (where
  // the control cannot tell the filter's EPERM from the kernel's).
  const ATTACKS = {
    userns: 'denied EPERM',
    'userns-clone': 'denied EPERM',
    'clone3-userns': 'denied ENOSYS', // glibc falls back to clone, which the filter checks
    keyctl: 'denied EPERM',
    bpf: 'denied EPERM',
    perf: 'denied EPERM',
    userfaultfd: 'denied EPERM',
    io_uring: 'denied EPERM',
    ...(process.arch === 'x64' ? { x32: 'denied EPERM' } : {}),
  };
  const UNPRIVILEGED = ['keyctl', 'io_uring', 'ptrace'];

  for (const mech of MECHANISMS) {
    for (const who of ['root', 'user']) {
      test(`${mech}, as ${who}: user namespaces, mount, ptrace of a sibling, bpf, keyctl, perf_event_open, userfaultfd, io_uring, open_by_handle_at, x32 are denied`, {
        skip: skipMechanism(mech),
      }, async () => {
        // The sibling is the tree's own (a pid namespace hides any other): sh starts it and the
        // fixture attaches to it.
        const list = [
          ...Object.keys(ATTACKS),
          ...(process.arch === 'x64' ? ['i386'] : []),
          'mount:/tmp',
          `open_by_handle:${path.join(work[who], 'data')}`,
        ];
        const script = `/usr/bin/sleep 600 & ${bin} ${list.join(' ')} ptrace:$!; s=$?; kill -9 $!; exit $s`;
        const answers = async (syscalls) => {
          const r = await run(mech, who, '/bin/sh', ['-c', script], spec(who, { syscalls }));
          assert.equal(r.exitCode, 0, r.out);
          return {
            map: new Map(
              r.out
                .trim()
                .split('\n')
                .map((l) => [l.split(' ')[0], l.split(' ').slice(1).join(' ')]),
            ),
            r,
          };
        };
        const control = await answers('host');
        const guarded = await answers('default');
        assert.equal(guarded.r.enforced.syscalls.mechanism, 'seccomp');
        assert.equal(control.r.enforced.syscalls.mechanism, 'none');
        for (const [name, answer] of Object.entries(ATTACKS))
          assert.equal(guarded.map.get(name), answer, `${mech} ${who} ${name}`);
        // i386 system calls (int 0x80), where this kernel runs them at all.
        if (control.map.get('i386') === 'allowed') assert.equal(guarded.map.get('i386'), 'denied EPERM', `${mech} ${who} i386`);
        for (const name of ['mount', 'ptrace', 'open_by_handle'])
          assert.equal(guarded.map.get(name), 'denied EPERM', `${mech} ${who} ${name}`);
        // Without the filter: what needs no privilege works for both (ptrace of one's own child,
        // keyctl, io_uring, a new user namespace); root can do the rest. Mount is refused by
        // Landlock on its own (the Landlock path, and its second layer over the mount namespace)
        // and by the kernel to a test user: its control is below, root in the mount namespace
        // without the second layer.
        for (const name of [...UNPRIVILEGED, 'userns', 'userns-clone', 'clone3-userns'])
          assert.equal(control.map.get(name), 'allowed', `${mech} ${who} ${name} without the filter`);
        if (who === 'root') {
          for (const name of ['bpf', 'perf', 'userfaultfd', 'open_by_handle'])
            assert.equal(control.map.get(name), 'allowed', `${mech} root ${name} without the filter`);
        }
      });

      if (mech === 'namespaces' && who === 'root')
        test('namespaces, as root without the Landlock layer: mount gets past no filter, the filter stops it', async () => {
          const mount = async (syscalls) =>
            (await attempts(mech, who, ['mount:/tmp'], spec(who, { syscalls }), { layer: false })).get('mount');
          assert.equal(await mount('host'), 'allowed', "the control: a tmpfs mounted in the tree's own mount namespace");
          assert.equal(await mount('default'), 'denied EPERM');
        });

      test(`${mech}, as ${who}: unshare -U -r fails under the filter`, { skip: skipMechanism(mech) }, async (t) => {
        // The control makes the namespace without mapping root in it: Landlock keeps /proc/self's
        // files (uid_map) read-only on both paths.
        const control = await run(mech, who, '/usr/bin/unshare', ['-U', 'true'], spec(who, { syscalls: 'host' }));
        if (control.exitCode !== 0) {
          t.skip(`this kernel refuses new user namespaces here without any filter: ${control.out.trim()}`);
          return;
        }
        const r = await run(mech, who, '/usr/bin/unshare', ['-U', '-r', 'true'], spec(who));
        assert.notEqual(r.exitCode, 0);
        assert.match(r.out, /unshare failed: Operation not permitted/);
      });

      test(`${mech}, as ${who}: everyday programs still work (sh, coreutils, node, python, git status)`, {
        skip: skipMechanism(mech),
      }, async () => {
        const w = work[who];
        const sh = await run(
          mech,
          who,
          '/bin/sh',
          ['-c', 'echo hi > f && cat f | tr a-z A-Z && ls -l f | wc -l && rm f && date +%Y >/dev/null && sort -r data'],
          spec(who),
        );
        assert.equal(sh.exitCode, 0, sh.out);
        assert.equal(sh.out, 'HI\n1\ndata\n');
        const script =
          "const fs=require('fs');fs.writeFileSync('n.txt','node');console.log(fs.readFileSync('n.txt','utf8'));fs.unlinkSync('n.txt')";
        const node = await run(
          mech,
          who,
          process.execPath,
          ['-e', script],
          spec(who, { filesystem: { read: [...SYSTEM, binDir, path.dirname(process.execPath)], write: [w], tmp: ['/tmp'] } }),
        );
        assert.equal(node.exitCode, 0, node.out);
        assert.equal(node.out, 'node\n');
        if (fs.existsSync('/usr/bin/python3')) {
          const py = await run(
            mech,
            who,
            '/usr/bin/python3',
            ['-c', "open('p.txt','w').write('py'); print(open('p.txt').read())"],
            spec(who),
          );
          assert.equal(py.exitCode, 0, py.out);
          assert.equal(py.out, 'py\n');
          fs.rmSync(path.join(w, 'p.txt'), { force: true });
        }
        if (fs.existsSync('/usr/bin/git')) {
          const g = await run(mech, who, '/bin/sh', ['-c', 'git init -q . && git status --short && rm -rf .git'], spec(who), {
            env: { GIT_CONFIG_NOSYSTEM: '1' },
          });
          assert.equal(g.exitCode, 0, g.out);
          assert.match(g.out, /\?\? data/);
        }
      });
    }

    test(`${mech}: exit codes, OOM, stats and tree kill work as without the filter`, { skip: skipMechanism(mech) }, async () => {
      const code = await run(mech, 'user', '/bin/sh', ['-c', 'exit 7'], spec('user'));
      assert.equal(code.exitCode, 7);
      const oom = await run(mech, 'user', '/usr/bin/tail', ['/dev/zero'], spec('user'), { limit: { memoryBytes: 32 * 2 ** 20 } });
      assert.equal(oom.oomKilled, true, JSON.stringify(oom));
      const ex = command('/bin/sh', ['-c', 'sleep 600 & sleep 600 & wait'], { cwd: work.user, stdio: 'ignore' });
      ex.runAs(user.name).isolate(spec('user'));
      await withEnv({ CONFINE_ISOLATION: mech }, () => ex.start());
      assert.ok(await until(async () => (await ex.stats()).processes >= 3, 30_000), 'the tree is up');
      await ex.forceStop();
      const st = await ex.wait();
      assert.equal(st.signal, 'SIGKILL');
      assert.equal((await ex.stats()).processes, 0);
    });
  }

  test('{ deny } adds to the default filter; an unknown name is a typed error before anything runs', async () => {
    const control = await run('namespaces', 'user', '/usr/bin/uname', ['-s'], { syscalls: 'default' });
    assert.equal(control.exitCode, 0, control.out);
    const r = await run('namespaces', 'user', '/usr/bin/uname', ['-s'], { syscalls: { deny: ['uname'] } });
    assert.notEqual(r.exitCode, 0);
    assert.match(r.out, /Operation not permitted/);
    assert.match(r.enforced.syscalls.note, /also denied \(EPERM\): uname/);
    assert.throws(
      () => command('true').isolate({ syscalls: { deny: ['no_such_call'] } }),
      (e) => {
        assert.ok(e instanceof ConfineArgumentError);
        assert.equal(e.code, 'ERR_CONFINE_INVALID_ARGUMENT');
        assert.match(e.message, /no_such_call/);
        return true;
      },
    );
    assert.throws(() => command('true').isolate({ syscalls: 'strict' }), ConfineArgumentError);
  });

  test('CONFINE_ISOLATION other than namespaces or landlock is a typed error from start(), nothing left', async () => {
    await withEnv({ CONFINE_ISOLATION: 'chroot' }, async () => {
      const ex = command('/usr/bin/true', [], { stdio: 'ignore' }).isolate({ syscalls: 'default' });
      await assert.rejects(ex.start(), (e) => e instanceof ConfineArgumentError && /CONFINE_ISOLATION/.test(e.message));
    });
    assert.deepEqual(zombieChildren(), []);
  });
});

describe('guards: capabilities of a uid-0 child', { skip }, () => {
  const capLine = (out, name) => BigInt(`0x${out.match(new RegExp(`^${name}:\\s*([0-9a-f]+)$`, 'm'))[1]}`);
  for (const mech of MECHANISMS) {
    test(`${mech}: none kept by default, the kept ones bounding and ambient, securebits locked`, {
      skip: skipMechanism(mech),
    }, async () => {
      const status = ['/proc/self/status'];
      const control = await run(mech, 'root', '/usr/bin/cat', status, spec('root'));
      assert.notEqual(capLine(control.out, 'CapEff'), 0n, 'root keeps its capabilities without the key');
      const none = await run(mech, 'root', '/usr/bin/cat', status, spec('root', { capabilities: [] }));
      assert.equal(none.exitCode, 0, none.out);
      assert.equal(none.enforced.capabilities.mechanism, 'capabilities');
      for (const set of ['CapInh', 'CapPrm', 'CapEff', 'CapBnd', 'CapAmb']) assert.equal(capLine(none.out, set), 0n, set);
      const kept = await run(
        mech,
        'root',
        '/usr/bin/cat',
        status,
        spec('root', { capabilities: ['CAP_NET_BIND_SERVICE', 'chown'] }),
      );
      const bits = (1n << 10n) | (1n << 0n);
      for (const set of ['CapPrm', 'CapEff', 'CapBnd', 'CapAmb']) assert.equal(capLine(kept.out, set), bits, set);
      const sb = await attempts(mech, 'root', ['securebits'], spec('root', { capabilities: [] }));
      assert.equal(sb.get('securebits'), '0x2f');
    });
  }

  test('a test user child: none to drop (uid row); keeping one is reported unenforced; unknown names are typed errors', async () => {
    const r = await run('namespaces', 'user', '/usr/bin/true', [], { capabilities: [] });
    assert.equal(r.enforced.capabilities.enforced, true);
    assert.equal(r.enforced.capabilities.mechanism, 'uid');
    await withEnv({ CONFINE_ISOLATION: 'namespaces' }, async () => {
      const ex = command('/usr/bin/true', [], { stdio: 'ignore', strict: true })
        .runAs(user.name)
        .isolate({ capabilities: ['net_admin'] });
      await assert.rejects(ex.start(), (e) => e.code === 'ERR_CONFINE_UNENFORCED' && /uid 0/.test(e.message));
    });
    assert.throws(
      () => command('true').isolate({ capabilities: ['CAP_FLY'] }),
      (e) => {
        assert.ok(e instanceof ConfineArgumentError);
        assert.match(e.message, /CAP_FLY/);
        return true;
      },
    );
  });
});

describe('guards: the Landlock path (no namespaces)', { skip: skip || skipMechanism('landlock') }, () => {
  for (const who of ['root', 'user']) {
    test(`as ${who}: cannot read, write or execute outside the view`, async () => {
      const list = [
        `read:${path.join(outside, 'secret')}`,
        `write:${path.join(outside, `w-${who}`)}`,
        `exec:${path.join(outside, 'true')}`,
        `read:${path.join(work[who], 'data')}`,
      ];
      const control = await attempts(null, who, list);
      assert.equal(control.get('read'), 'allowed');
      assert.equal(control.get('write'), 'allowed');
      assert.equal(control.get('exec'), 'allowed');
      fs.rmSync(path.join(outside, `w-${who}`), { force: true });
      const r = await run('landlock', who, bin, list, spec(who));
      assert.equal(r.enforced.filesystem.mechanism, 'landlock');
      const lines = r.out.trim().split('\n');
      assert.deepEqual(lines, ['read denied EACCES', 'write denied EACCES', 'exec denied EACCES', 'read allowed']);
      assert.ok(!fs.existsSync(path.join(outside, `w-${who}`)));
    });

    test(`as ${who}: cannot connect to a TCP listener on 127.0.0.1 nor bind a port`, async () => {
      const list = [`connect:${tcp.address().port}`, 'bind:0'];
      const control = await attempts(null, who, list);
      assert.equal(control.get('connect'), 'allowed');
      assert.equal(control.get('bind'), 'allowed');
      // The socket filter answers first: no socket of any family but AF_UNIX.
      const r = await attempts('landlock', who, list, spec(who));
      assert.equal(r.get('connect'), 'denied EAFNOSUPPORT');
      assert.equal(r.get('bind'), 'denied EAFNOSUPPORT');
    });

    test(`as ${who}: Landlock's own TCP rules hold where no filter is installed (ABI 4)`, {
      skip: needAbi(4, 'TCP rules'),
    }, async () => {
      const r = await run(
        'landlock',
        who,
        bin,
        [`connect:${tcp.address().port}`, 'bind:0', 'socket-inet'],
        spec(who, { syscalls: 'host' }),
      );
      assert.equal(r.enforced.network.mechanism, 'landlock-tcp');
      assert.equal(r.enforced.network.enforced, false, 'UDP stays open: not enforced');
      assert.match(r.enforced.network.note, /UDP/);
      assert.equal(r.out, 'connect denied EACCES\nbind denied EACCES\nsocket-inet allowed\n');
    });

    test(`as ${who}: cannot signal a process outside its tree (ABI 6)`, { skip: needAbi(6, 'signal scoping') }, async () => {
      const s = await sleeper(who);
      try {
        const control = await attempts('landlock', who, [`kill:${s.pid}`], spec(who, { processes: 'host' }));
        assert.equal(control.get('kill'), 'allowed');
        const a = await attempts('landlock', who, [`kill:${s.pid}`], spec(who));
        assert.equal(a.get('kill'), 'denied EPERM');
        assert.ok(alive(s.pid));
      } finally {
        await s.forceStop();
      }
    });

    test(`as ${who}: cannot reach an abstract unix socket the test opened (ABI 6)`, {
      skip: needAbi(6, 'abstract socket scoping'),
    }, async () => {
      const control = await attempts('landlock', who, [`abstract:${abstractName}`], spec(who, { network: 'host' }));
      assert.equal(control.get('abstract'), 'allowed');
      const a = await attempts('landlock', who, [`abstract:${abstractName}`], spec(who));
      assert.equal(a.get('abstract'), 'denied EPERM');
    });

    test(`as ${who}: tmp is a private directory of the tree's own in $TMPDIR, removed with the tree`, async () => {
      const r = await run(
        'landlock',
        who,
        '/bin/sh',
        [
          '-c',
          'echo $TMPDIR; stat -c "%a %u" "$TMPDIR"; echo x > "$TMPDIR/f" && cat "$TMPDIR/f"; echo y > /tmp/confine-guards-tmp-$$',
        ],
        spec(who),
      );
      const [tmpdir, mode, x, ...rest] = r.out.trim().split('\n');
      assert.match(tmpdir, /confine-tmp-/);
      assert.equal(mode, `700 ${who === 'root' ? 0 : user.uid}`);
      assert.equal(x, 'x');
      assert.match(rest.join('\n'), /Permission denied/, 'the host /tmp is not writable');
      assert.notEqual(r.exitCode, 0);
      await r.ex.forceStop(); // release() has run once wait() resolved
      assert.ok(await until(() => !fs.existsSync(tmpdir), 30_000), `${tmpdir} removed with the tree`);
    });
  }

  test('the rows name the mechanism, the ABI, and what stays open', async () => {
    const r = await run('landlock', 'user', '/usr/bin/true', [], spec('user'));
    const e = r.enforced;
    assert.equal(e.filesystem.mechanism, 'landlock');
    assert.match(e.filesystem.note, new RegExp(`Landlock ABI ${abi}`));
    if (abi < 3) assert.match(e.filesystem.note, /truncate is not controlled before ABI 3/);
    assert.equal(e.syscalls.mechanism, 'seccomp');
    assert.equal(e.network.enforced, true);
    assert.equal(e.network.mechanism, abi >= 4 ? 'landlock-tcp' : 'seccomp');
    if (abi < 6)
      assert.match(
        e.network.note,
        new RegExp(`abstract unix sockets stay reachable \\(scopes need Landlock ABI 6; this host has ${abi}\\)`),
      );
    else assert.match(e.network.note, /Landlock scopes keep abstract unix sockets inside the tree/);
    assert.equal(e.processes.enforced, false);
    assert.equal(e.ipc, undefined);
    assert.match(e.processes.note, /CONFINE_ISOLATION=landlock/);
  });

  test('a supervisor that is not root isolates through Landlock', async () => {
    // The test user has no delegated cgroup to write: the posix backend (isolation, no cgroup).
    const script = `
      const { command } = await import(${JSON.stringify(path.join(ROOT, 'dist', 'index.mjs'))});
      const ex = command(${JSON.stringify(bin)}, ${JSON.stringify([`read:${path.join(outside, 'secret')}`, `read:${path.join(work.user, 'data')}`, 'userns', `connect:${tcp.address().port}`])}, { cwd: ${JSON.stringify(work.user)}, stdio: ['ignore', 'pipe', 'inherit'], executor: 'posix' });
      ex.isolate(${JSON.stringify(spec('user'))});
      await ex.start();
      let out = '';
      for await (const c of ex.stdout) out += c;
      const st = await ex.wait();
      process.stdout.write(JSON.stringify({ out, exitCode: st.exitCode, filesystem: ex.enforced.filesystem.mechanism }));`;
    const r = spawnSync(
      'setpriv',
      [`--reuid=${user.uid}`, `--regid=${user.gid}`, '--clear-groups', process.execPath, '--input-type=module', '-e', script],
      {
        encoding: 'utf8',
        env: { ...process.env, CONFINE_ISOLATION: 'landlock' },
        cwd: work.user,
      },
    );
    assert.equal(r.status, 0, r.stderr);
    const res = JSON.parse(r.stdout);
    assert.equal(res.filesystem, 'landlock');
    assert.equal(res.exitCode, 0);
    assert.equal(res.out, `read denied EACCES\nread allowed\nuserns denied EPERM\nconnect denied EAFNOSUPPORT\n`);
  });
});

describe('guards: the Landlock second layer over the mount namespace (root)', {
  skip: skip || skipMechanism('namespaces') || skipMechanism('landlock'),
}, () => {
  // A root child keeps its capabilities unless told (no `capabilities` key). With CAP_SYS_ADMIN and
  // no filter (syscalls: 'host') the view alone does not hold: the child remounts a read path of
  // the view read-write and writes through it to the host. The second layer refuses the mount
  // (Landlock denies every mount to a sandboxed process) and the write (a read rule).
  test('a root child with CAP_SYS_ADMIN and no filter cannot make a read path writable (the view alone lets it)', async () => {
    const escaped = path.join(binDir, 'escaped');
    const list = [`remount:${binDir}`, `write:${escaped}`];
    const isolation = spec('root', { syscalls: 'host' });
    try {
      const alone = await run('namespaces', 'root', bin, list, isolation, { layer: false });
      assert.equal(alone.out, 'remount allowed\nwrite allowed\n', 'the control: the view alone is escaped');
      assert.ok(fs.existsSync(escaped), 'the control wrote to the host');
      assert.doesNotMatch(alone.enforced.filesystem.note, /second layer/);
      fs.rmSync(escaped);
      const layered = await run('namespaces', 'root', bin, list, isolation);
      assert.equal(layered.out, 'remount denied EPERM\nwrite denied EROFS\n');
      assert.ok(!fs.existsSync(escaped));
      assert.equal(layered.enforced.filesystem.mechanism, 'mount-namespace');
      assert.match(
        layered.enforced.filesystem.note,
        new RegExp(
          `; Landlock ABI ${abi} on top as a second layer \\(the same paths on the host's inodes; /proc read-only to it\\)$`,
        ),
      );
    } finally {
      fs.rmSync(escaped, { force: true });
    }
  });
});

describe('guards: the CLI', { skip }, () => {
  const cli = path.join(ROOT, 'dist', 'cli.js');
  const confine = (args) => spawnSync(process.execPath, [cli, 'run', ...args], { encoding: 'utf8', cwd: work.root });

  test('--syscalls, --deny-syscall and --cap reach isolate(), bad ones are refused', () => {
    // Without the flag the same program runs (the control).
    assert.equal(confine(['--user', user.name, '--', 'uname', '-s']).status, 0);
    const denied = confine(['--user', user.name, '--deny-syscall', 'uname', '--report', '--', 'uname', '-s']);
    assert.notEqual(denied.status, 0);
    assert.match(denied.stderr, /Operation not permitted/);
    assert.match(denied.stderr, /syscalls/);
    const control = confine(['--user', user.name, '--syscalls', 'host', '--', 'unshare', '-U', 'true']);
    if (control.status === 0) {
      const r = confine(['--user', user.name, '--syscalls', 'default', '--', 'unshare', '-U', '-r', 'true']);
      assert.notEqual(r.status, 0);
      assert.match(r.stderr, /unshare failed: Operation not permitted/);
    }
    const capEff = (r) => BigInt(`0x${r.stdout.match(/^CapEff:\s*([0-9a-f]+)$/m)[1]}`);
    const kept = confine(['--isolate', '--cap', 'net_bind_service', '--', 'cat', '/proc/self/status']);
    assert.equal(kept.status, 0, kept.stderr);
    assert.equal(capEff(kept), 1n << 10n);
    assert.equal(capEff(confine(['--isolate', '--', 'cat', '/proc/self/status'])), 0n);
    const bad = confine(['--cap', 'fly', '--', 'true']);
    assert.equal(bad.status, 2); // bad usage: a value confine cannot use
    assert.match(bad.stderr, /unknown capability "CAP_FLY"/);
    assert.equal(confine(['--syscalls', 'strict', '--', 'true']).status, 2);
    assert.equal(confine(['--syscalls', 'host', '--deny-syscall', 'uname', '--', 'true']).status, 2);
  });
});
