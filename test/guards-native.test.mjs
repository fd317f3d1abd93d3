// The addon's kernel guards (issue 17's native half) against real processes: the system call
// filter, Landlock and capability sets, each as root and as a test user (createUser()). The child
// is test/fixtures/adversarial/guards.c, compiled here: it tries one thing per argument and
// prints `<attempt> allowed` or `<attempt> denied <ERRNO>`. Every attack runs twice, without the
// guard (the control: it works there, or the kernel refuses it on its own) and with it (the
// guard's own answer), so a guard that stopped working fails the test instead of passing
// unnoticed.
//
// In the cgroup v2 VM (npm run test:cgroup2 -- test/guards-native.test.mjs) the older kernel has
// an older Landlock ABI: each case that needs a newer one is skipped with the ABI in the reason.

import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { addonExitOf, alive, createUser, haveCc, until, zombieChildren } from './helpers.mjs';

const require = createRequire(import.meta.url);
const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const FIXTURE = path.join(ROOT, 'test', 'fixtures', 'adversarial', 'guards.c');
const addon = process.platform === 'linux' ? require('node-gyp-build')(ROOT) : null;
const probe = addon?.probe();
const abi = probe?.features.landlockAbi ?? 0;

const skip =
  process.platform !== 'linux'
    ? 'Linux only'
    : process.getuid() !== 0
      ? 'needs root: creates a user, drops capabilities'
      : !haveCc()
        ? 'no C compiler (cc) for the fixture'
        : false;
const skipSeccomp = skip || (!probe.features.seccompFilter && 'this kernel cannot install a seccomp filter');
const skipLandlock = skip || (abi === 0 && 'this kernel has no Landlock (ABI 0)');
const needAbi = (n, what) => skipLandlock || (abi < n && `${what} needs Landlock ABI ${n}; this kernel has ABI ${abi}`);

let dir; // everything the test makes: the fixture, a work dir, an outside dir
let binDir; // the fixture's own directory (a Landlock read rule)
let bin; // the compiled fixture
let work; // writable by both identities; the Landlock policy's write rule
let outside; // no rule covers it: a secret file, an executable, a writable place
let user;
const identities = {}; // root: {}, user: { uid, gid, groups }

before(() => {
  if (skip) return;
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'confine-guards-'));
  fs.chmodSync(dir, 0o755);
  binDir = path.join(dir, 'bin');
  fs.mkdirSync(binDir, { mode: 0o755 });
  bin = path.join(binDir, 'guards');
  execFileSync('cc', ['-O1', '-o', bin, FIXTURE]);
  user = createUser();
  identities.root = {};
  identities.user = { uid: user.uid, gid: user.gid, groups: user.groups };
  work = path.join(dir, 'work');
  outside = path.join(dir, 'outside');
  for (const d of [work, outside]) {
    fs.mkdirSync(d);
    fs.chmodSync(d, 0o777);
  }
  fs.writeFileSync(path.join(outside, 'secret'), 'secret\n', { mode: 0o644 });
  fs.copyFileSync('/usr/bin/true', path.join(outside, 'true'));
  fs.chmodSync(path.join(outside, 'true'), 0o755);
  fs.writeFileSync(path.join(work, 'data'), 'data\n', { mode: 0o666 });
});

after(() => {
  if (skip) return;
  user?.remove();
  fs.rmSync(dir, { recursive: true, force: true });
});

// ---- running a child through the addon ----

const exitOf = (child) => addonExitOf(addon, child);

/** Runs file with argv through addon.spawn with the given request fields; stdout+stderr in `out`. */
async function run(file, argv, req = {}) {
  const outPath = path.join(dir, `out-${Math.random().toString(36).slice(2)}`);
  const out = fs.openSync(outPath, 'w+');
  const nul = addon.openDevNull(fs.constants.O_RDONLY);
  try {
    const child = addon.spawn({
      file,
      argv: [path.basename(file), ...argv],
      envp: ['PATH=/usr/bin:/bin', `HOME=${work}`, 'LANG=C'],
      stdio: [nul, out, out],
      cwd: work,
      ...req,
    });
    const st = await exitOf(child);
    return { ...st, out: fs.readFileSync(outPath, 'utf8') };
  } finally {
    fs.closeSync(out);
    addon.close(nul);
    fs.rmSync(outPath, { force: true });
  }
}

/** The fixture's answer per attempt: Map(name -> 'allowed' | 'denied EPERM' | ...). */
async function attempts(list, req = {}) {
  const r = await run(bin, list, req);
  assert.equal(r.exitCode, 0, `fixture failed: ${JSON.stringify(r)}`);
  const answers = new Map();
  for (const line of r.out.trim().split('\n')) {
    const [name, ...rest] = line.split(' ');
    answers.set(name, rest.join(' '));
  }
  return answers;
}

function spawnError(req) {
  const nul = addon.openDevNull(fs.constants.O_RDWR);
  try {
    const child = addon.spawn({ file: bin, argv: ['guards'], envp: [], stdio: [nul, nul, nul], ...req });
    addon.signal(child.pid, child.pidfd, 9);
    return exitOf(child).then(() => assert.fail('spawn succeeded'));
  } catch (e) {
    return e;
  } finally {
    addon.close(nul);
  }
}

/** A process that sleeps as the identity, outside any guard (a sibling to attack). */
function sleeper(identity) {
  const nul = addon.openDevNull(fs.constants.O_RDWR);
  try {
    const child = addon.spawn({
      file: '/usr/bin/sleep',
      argv: ['sleep', '600'],
      envp: [],
      stdio: [nul, nul, nul],
      ...identity,
    });
    const exited = exitOf(child);
    return {
      pid: child.pid,
      async stop() {
        addon.signal(child.pid, child.pidfd, 9);
        await exited;
      },
    };
  } finally {
    addon.close(nul);
  }
}

function identityOf(p) {
  const st = fs.statSync(p, { bigint: true });
  return { dev: st.dev, ino: st.ino };
}

const filter = { noNewPrivs: true, seccomp: { denyIoUring: true } };

// ---- probe and names ----

test('probe reports the guards this kernel has and the names the addon knows', { skip: process.platform !== 'linux' }, () => {
  const { features, names } = addon.probe();
  assert.equal(typeof features.seccompFilter, 'boolean');
  assert.ok(Number.isInteger(features.landlockAbi) && features.landlockAbi >= 0);
  assert.ok(Number.isInteger(features.capLastCap) && features.capLastCap >= 36, `capLastCap ${features.capLastCap}`);
  assert.equal(features.capLastCap, Number(fs.readFileSync('/proc/sys/kernel/cap_last_cap', 'utf8')));
  for (const n of ['mount', 'clone3', 'io_uring_setup', 'keyctl', 'open_by_handle_at', 'listns'])
    assert.ok(names.syscalls.includes(n), n);
  assert.ok(!names.syscalls.includes('nosuchcall'));
  assert.equal(names.capabilities[0], 'chown');
  assert.equal(names.capabilities[10], 'net_bind_service');
  assert.equal(names.capabilities.length, 41);
  // The kernel's own answer for the Landlock ABI, asked without the addon: a Landlock-less
  // kernel has no /sys/kernel/security/landlock... so compare with the LSM list where it is shown.
  const lsm = (() => {
    try {
      return fs.readFileSync('/sys/kernel/security/lsm', 'utf8');
    } catch {
      return null;
    }
  })();
  if (lsm) assert.equal(lsm.includes('landlock'), features.landlockAbi > 0);
});

test('unknown system call and capability names are TypeErrors before anything starts', { skip }, () => {
  const before = zombieChildren().length;
  assert.throws(() => addon.spawn({ file: bin, argv: ['guards'], envp: [], stdio: [], seccomp: { deny: ['nosuchcall'] } }), {
    name: 'TypeError',
    message: /unknown system call 'nosuchcall'/,
  });
  assert.throws(() => addon.spawn({ file: bin, argv: ['guards'], envp: [], stdio: [], capabilities: ['CAP_NOSUCH'] }), {
    name: 'TypeError',
    message: /unknown capability 'CAP_NOSUCH'/,
  });
  assert.throws(
    () =>
      addon.spawn({
        file: bin,
        argv: ['guards'],
        envp: [],
        stdio: [],
        landlock: { rules: [{ path: '/usr', access: 'exec', dev: 1, ino: 1 }] },
      }),
    { name: 'TypeError', message: /access must be 'read' or 'write'/ },
  );
  assert.equal(zombieChildren().length, before);
});

// ---- the system call filter ----

describe('seccomp default filter', { skip: skipSeccomp }, () => {
  // The attacks, each with the answer the filter gives.
  const attacks = {
    bpf: 'denied EPERM',
    keyctl: 'denied EPERM',
    perf: 'denied EPERM',
    userfaultfd: 'denied EPERM',
    io_uring: 'denied EPERM',
    personality: 'denied EPERM',
    'socket-alg': 'denied EPERM',
  };

  const userns = {
    userns: 'denied EPERM',
    'userns-clone': 'denied EPERM',
    'clone3-userns': 'denied ENOSYS', // glibc falls back to clone, which the filter checks
  };

  for (const who of ['root', 'user']) {
    test(`as ${who}: new user namespaces are denied (unshare, clone; clone3 answers ENOSYS)`, async (t) => {
      const id = identities[who];
      const control = await attempts(Object.keys(userns), id);
      if (control.get('userns') !== 'allowed') {
        // The cgroup v2 VM runs the tests in a chroot, where the kernel refuses them anyway.
        t.skip(`this kernel refuses new user namespaces here without any filter (${control.get('userns')})`);
        return;
      }
      for (const name of Object.keys(userns)) assert.equal(control.get(name), 'allowed', `${who} ${name} without the filter`);
      const guarded = await attempts(Object.keys(userns), { ...id, ...filter });
      for (const [name, answer] of Object.entries(userns)) assert.equal(guarded.get(name), answer, `${who} ${name}`);
      const cli = await run('/usr/bin/unshare', ['-U', '-r', 'true'], id);
      assert.equal(cli.exitCode, 0, cli.out);
      const r = await run('/usr/bin/unshare', ['-U', '-r', 'true'], { ...id, ...filter });
      assert.notEqual(r.exitCode, 0);
      assert.match(r.out, /unshare failed: Operation not permitted/);
    });

    test(`as ${who}: mount, ptrace of a sibling, bpf, keyctl, perf_event_open, userfaultfd, io_uring, open_by_handle_at are denied`, async () => {
      const id = identities[who];
      const sibling = sleeper(id);
      const mnt = fs.mkdtempSync(path.join(dir, 'mnt-'));
      try {
        const list = [
          ...Object.keys(attacks),
          `mount:${mnt}`,
          `ptrace:${sibling.pid}`,
          `open_by_handle:${path.join(work, 'data')}`,
        ];
        const control = await attempts(list, id);
        const guarded = await attempts(list, { ...id, ...filter });
        for (const [name, answer] of Object.entries(attacks)) assert.equal(guarded.get(name), answer, `${who} ${name}`);
        for (const name of ['mount', 'ptrace', 'open_by_handle'])
          assert.equal(guarded.get(name), 'denied EPERM', `${who} ${name}`);
        // Without the filter: what needs no privilege works for both; root can do all of it.
        for (const name of ['keyctl', 'io_uring', 'ptrace'])
          assert.equal(control.get(name), 'allowed', `${who} ${name} without the filter`);
        if (who === 'root') {
          for (const name of ['mount', 'bpf', 'perf', 'userfaultfd', 'open_by_handle', 'personality'])
            assert.equal(control.get(name), 'allowed', `root ${name} without the filter`);
        }
      } finally {
        await sibling.stop();
        fs.rmSync(mnt, { recursive: true, force: true });
      }
      assert.ok(!fs.readFileSync('/proc/self/mountinfo', 'utf8').includes(mnt), 'no mount left');
    });

    test(`as ${who}: plain fork and clone, AF_UNIX sockets and the personality query still work`, async () => {
      const a = await attempts(['fork', 'socket-unix', 'socket-inet'], { ...identities[who], ...filter });
      assert.equal(a.get('fork'), 'allowed');
      assert.equal(a.get('socket-unix'), 'allowed');
      assert.equal(a.get('socket-inet'), 'allowed');
      // setarch linux32 asks for PER_LINUX32, which the filter lets by; -R (ADDR_NO_RANDOMIZE)
      // it does not.
      const r = await run('/usr/bin/setarch', ['linux32', 'uname', '-m'], { ...identities[who], ...filter });
      assert.equal(r.exitCode, 0, r.out);
      assert.match(r.out, /^i686\n$/);
      const control = await run('/usr/bin/setarch', ['-R', 'true'], identities[who]);
      assert.equal(control.exitCode, 0, control.out);
      const norandom = await run('/usr/bin/setarch', ['-R', 'true'], { ...identities[who], ...filter });
      assert.notEqual(norandom.exitCode, 0);
      assert.match(norandom.out, /Operation not permitted/);
    });
  }

  test("calls Docker's profile leaves out that no kernel of today implements, and listns, are denied", async () => {
    // By number: the kernel's own answer is ENOSYS (no implementation, or a kernel older than
    // listns) or an argument error (listns with none); the filter's is EPERM.
    const numbers =
      process.arch === 'x64'
        ? {
            create_module: 174,
            get_kernel_syms: 177,
            query_module: 178,
            nfsservctl: 180,
            getpmsg: 181,
            putpmsg: 182,
            afs_syscall: 183,
            tuxcall: 184,
            security: 185,
            vserver: 236,
            listns: 470,
          }
        : { nfsservctl: 42, listns: 470 };
    const list = Object.values(numbers).map((n) => `call:${n}`);
    const control = await attempts(list);
    for (const [name, n] of Object.entries(numbers))
      assert.notEqual(control.get(`call:${n}`), 'denied EPERM', `${name} without the filter: ${control.get(`call:${n}`)}`);
    for (const who of ['root', 'user']) {
      const a = await attempts(list, { ...identities[who], ...filter });
      for (const [name, n] of Object.entries(numbers)) assert.equal(a.get(`call:${n}`), 'denied EPERM', `${who} ${name}`);
    }
  });

  test('x32 system calls are denied on x86-64', { skip: process.arch !== 'x64' && 'x86-64 only' }, async () => {
    const control = await attempts(['x32']);
    // Without the filter the kernel answers ENOSYS where it has no x32 ABI (this machine) and
    // runs the call where it has: the filter's EPERM is its own either way.
    assert.notEqual(control.get('x32'), 'denied EPERM');
    for (const who of ['root', 'user']) {
      const a = await attempts(['x32'], { ...identities[who], ...filter });
      assert.equal(a.get('x32'), 'denied EPERM', who);
    }
  });

  test('i386 system calls (int 0x80) are denied on x86-64', { skip: process.arch !== 'x64' && 'x86-64 only' }, async (t) => {
    const control = await attempts(['i386', 'i386-unshare']);
    if (control.get('i386') !== 'allowed') {
      // int 0x80 faults before any system call: the kernel runs no i386 calls here at all.
      t.skip(`this kernel runs no i386 system calls (int 0x80: ${control.get('i386')})`);
      return;
    }
    for (const who of ['root', 'user']) {
      const a = await attempts(['i386', 'i386-unshare'], { ...identities[who], ...filter });
      assert.equal(a.get('i386'), 'denied EPERM', who);
      assert.equal(a.get('i386-unshare'), 'denied EPERM', who); // a new user namespace, through i386
    }
  });

  test('unixSocketsOnly: socket() of any family but AF_UNIX answers EAFNOSUPPORT', async () => {
    const req = { noNewPrivs: true, seccomp: { denyIoUring: true, unixSocketsOnly: true } };
    for (const who of ['root', 'user']) {
      const a = await attempts(['socket-inet', 'socket-unix', 'socket-alg', 'io_uring'], { ...identities[who], ...req });
      assert.equal(a.get('socket-inet'), 'denied EAFNOSUPPORT', who);
      assert.equal(a.get('socket-alg'), 'denied EAFNOSUPPORT', who);
      assert.equal(a.get('socket-unix'), 'allowed', who);
      assert.equal(a.get('io_uring'), 'denied EPERM', who);
    }
  });

  test('io_uring is denied only when asked (network not host)', async () => {
    const a = await attempts(['io_uring'], { noNewPrivs: true, seccomp: {} });
    assert.equal(a.get('io_uring'), 'allowed');
  });

  test('deny adds to the default table', async () => {
    const control = await run('/usr/bin/uname', ['-s'], { noNewPrivs: true, seccomp: {} });
    assert.equal(control.out.trim(), 'Linux');
    for (const who of ['root', 'user']) {
      const r = await run('/usr/bin/uname', ['-s'], {
        ...identities[who],
        noNewPrivs: true,
        seccomp: { deny: ['uname', 'uname'] },
      });
      assert.notEqual(r.exitCode, 0, who);
      assert.match(r.out, /Operation not permitted/, who);
    }
  });

  describe('everyday programs still work under the filter', () => {
    for (const who of ['root', 'user']) {
      const req = () => ({ ...identities[who], noNewPrivs: true, seccomp: { denyIoUring: true, unixSocketsOnly: true } });
      test(`as ${who}: sh and coreutils`, async () => {
        const d = `tree-${who}`;
        const r = await run(
          '/bin/sh',
          [
            '-c',
            `mkdir -p ${d}/a && echo hello > ${d}/a/f && cp ${d}/a/f ${d}/g && sort ${d}/g | sha256sum | cut -c1-8 && ls ${d} && rm -r ${d} && echo done`,
          ],
          req(),
        );
        assert.equal(r.exitCode, 0, r.out);
        assert.equal(r.out, '5891b5b5\na\ng\ndone\n');
      });
      test(`as ${who}: node reads and writes files in its work directory`, async () => {
        const script = path.join(work, `rw-${who}.cjs`);
        fs.writeFileSync(
          script,
          `const fs = require('fs'); fs.writeFileSync('n-${who}.txt', 'x'.repeat(1000)); const s = fs.readFileSync('n-${who}.txt', 'utf8'); fs.promises.readFile('n-${who}.txt').then((b) => { fs.unlinkSync('n-${who}.txt'); console.log(s.length, b.length); });`,
        );
        const r = await run(process.execPath, [script], req());
        assert.equal(r.exitCode, 0, r.out);
        assert.equal(r.out, '1000 1000\n');
      });
      test(`as ${who}: python3`, { skip: !fs.existsSync('/usr/bin/python3') && 'no /usr/bin/python3' }, async () => {
        const r = await run(
          '/usr/bin/python3',
          ['-c', 'import os, tempfile, json; print(json.dumps({"ok": os.getcwd() != ""}))'],
          {
            ...req(),
            envp: ['PATH=/usr/bin:/bin', `HOME=${work}`, `TMPDIR=${work}`],
          },
        );
        assert.equal(r.exitCode, 0, r.out);
        assert.equal(r.out, '{"ok": true}\n');
      });
      test(`as ${who}: git status`, { skip: !fs.existsSync('/usr/bin/git') && 'no git' }, async () => {
        const repo = path.join(work, `repo-${who}`);
        const r = await run('/bin/sh', ['-c', `git init -q ${repo} && cd ${repo} && echo a > a && git status --short`], req());
        assert.equal(r.exitCode, 0, r.out);
        assert.equal(r.out, '?? a\n');
        fs.rmSync(repo, { recursive: true, force: true });
      });
    }
  });

  test('a filter that cannot be installed is a spawn error with stage seccomp (no child runs unfiltered)', async () => {
    // Without no_new_privs and without CAP_SYS_ADMIN, the kernel refuses the filter.
    const fdsBefore = fs.readdirSync('/proc/self/fd').length;
    const e = await spawnError({ ...identities.user, seccomp: {} });
    assert.equal(e.code, 'ERR_CONFINE_SPAWN');
    assert.equal(e.stage, 'seccomp');
    assert.equal(e.syscall, 'seccomp');
    assert.equal(e.errno, 'EACCES');
    assert.equal(zombieChildren().length, 0);
    assert.equal(fs.readdirSync('/proc/self/fd').length, fdsBefore);
  });
});

// ---- Landlock ----

describe('Landlock', { skip: skipLandlock }, () => {
  // Read: the system, the fixture. Write: the work dir, /dev/null. Nothing covers `outside`.
  const policy = () => ({
    rules: [
      { path: '/usr', access: 'read', ...identityOf('/usr') },
      { path: '/etc', access: 'read', ...identityOf('/etc') },
      { path: binDir, access: 'read', ...identityOf(binDir) },
      { path: work, access: 'write', ...identityOf(work) },
      { path: '/dev/null', access: 'write', ...identityOf('/dev/null') },
    ],
  });
  const req = (who, extra = {}) => ({ ...identities[who], noNewPrivs: true, landlock: { ...policy(), ...extra } });

  for (const who of ['root', 'user']) {
    test(`as ${who}: cannot read, write or execute outside the rules; can inside`, async () => {
      const list = [
        `read:${path.join(outside, 'secret')}`,
        `write:${path.join(outside, `w-${who}`)}`,
        `exec:${path.join(outside, 'true')}`,
        `read:${path.join(work, 'data')}`,
        `exec:/usr/bin/true`,
      ];
      const control = await attempts(list, identities[who]);
      for (const [name, answer] of control) assert.equal(answer, 'allowed', `${who} ${name} without Landlock`);
      fs.rmSync(path.join(outside, `w-${who}`), { force: true });

      const guarded = await run(bin, [...list, `write:${path.join(work, `w-${who}`)}`], req(who));
      assert.equal(
        guarded.out,
        [
          'read denied EACCES',
          'write denied EACCES',
          'exec denied EACCES',
          'read allowed',
          'exec allowed',
          'write allowed',
          '',
        ].join('\n'),
      );
      assert.ok(!fs.existsSync(path.join(outside, `w-${who}`)));
      fs.rmSync(path.join(work, `w-${who}`), { force: true });
    });

    test(`as ${who}: truncating a read-only file is denied (ABI 3)`, { skip: needAbi(3, 'truncate') }, async () => {
      const file = path.join(binDir, `ro-${who}`);
      fs.writeFileSync(file, 'keep\n');
      fs.chmodSync(file, 0o666);
      const control = await attempts([`truncate:${file}`], identities[who]);
      assert.equal(control.get('truncate'), 'allowed');
      fs.writeFileSync(file, 'keep\n');
      const a = await attempts([`truncate:${file}`], req(who));
      assert.equal(a.get('truncate'), 'denied EACCES');
      assert.equal(fs.readFileSync(file, 'utf8'), 'keep\n');
    });

    test(`as ${who}: cannot connect to a TCP listener on 127.0.0.1 nor bind a port (ABI 4)`, {
      skip: needAbi(4, 'TCP rules'),
    }, async () => {
      const server = net.createServer((s) => s.destroy());
      await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
      const port = server.address().port;
      try {
        const control = await attempts([`connect:${port}`, 'bind:0'], identities[who]);
        assert.equal(control.get('connect'), 'allowed');
        assert.equal(control.get('bind'), 'allowed');
        const a = await attempts([`connect:${port}`, 'bind:0'], req(who, { denyTcp: true }));
        assert.equal(a.get('connect'), 'denied EACCES');
        assert.equal(a.get('bind'), 'denied EACCES');
      } finally {
        server.close();
      }
    });

    test(`as ${who}: cannot signal a process outside its domain (ABI 6)`, { skip: needAbi(6, 'signal scoping') }, async () => {
      const sibling = sleeper(identities[who]);
      try {
        const control = await attempts([`kill:${sibling.pid}`], identities[who]);
        assert.equal(control.get('kill'), 'allowed');
        const a = await attempts([`kill:${sibling.pid}`], req(who, { scopeSignals: true }));
        assert.equal(a.get('kill'), 'denied EPERM');
        assert.ok(alive(sibling.pid));
      } finally {
        await sibling.stop();
      }
    });

    test(`as ${who}: cannot reach an abstract unix socket the test opened (ABI 6)`, {
      skip: needAbi(6, 'abstract socket scoping'),
    }, async () => {
      const name = `confine-guards-${process.pid}-${who}`;
      const server = net.createServer((s) => s.destroy());
      await new Promise((resolve) => server.listen({ path: `\0${name}` }, resolve));
      try {
        const control = await attempts([`abstract:${name}`], identities[who]);
        assert.equal(control.get('abstract'), 'allowed');
        const a = await attempts([`abstract:${name}`], req(who, { scopeAbstractUnix: true }));
        assert.equal(a.get('abstract'), 'denied EPERM');
      } finally {
        server.close();
      }
    });

    test(`as ${who}: sh, coreutils and node work inside the rules`, async () => {
      const script = path.join(work, `ll-${who}.cjs`);
      fs.writeFileSync(
        script,
        `require('fs').writeFileSync('ll-${who}.txt', 'ok'); console.log(require('fs').readFileSync('ll-${who}.txt', 'utf8'))`,
      );
      const r = await run(
        '/bin/sh',
        ['-c', `ls ${work} >/dev/null && cat ${path.join(work, 'data')} && ${process.execPath} ${script}`],
        req(who),
      );
      assert.equal(r.exitCode, 0, r.out);
      assert.equal(r.out, 'data\nok\n');
    });
  }

  test('a tree rule (a directory made for one tree) reaches that tree only', async () => {
    const mine = fs.mkdtempSync(path.join(dir, 'tree-'));
    const other = fs.mkdtempSync(path.join(dir, 'tree-'));
    for (const d of [mine, other]) fs.chownSync(d, user.uid, user.gid);
    for (const who of ['root', 'user']) {
      const list = [`write:${path.join(mine, who)}`, `write:${path.join(other, who)}`];
      const r = await run(bin, list, req(who, { treeRules: [{ path: mine, access: 'write' }] }));
      assert.equal(r.out, 'write allowed\nwrite denied EACCES\n', who);
      // The next spawn of the same policy without it: the tree's rule did not stay in the cache.
      const b = await attempts([`write:${path.join(mine, 'g')}`], req(who));
      assert.equal(b.get('write'), 'denied EACCES', who);
    }
    fs.rmSync(mine, { recursive: true });
    fs.rmSync(other, { recursive: true });
  });

  test('a child rule is opened by the child: a path the parent never named', async () => {
    const d = fs.mkdtempSync(path.join(dir, 'child-'));
    fs.chmodSync(d, 0o777);
    for (const who of ['root', 'user']) {
      const a = await attempts([`write:${path.join(d, who)}`], req(who, { childRules: [{ path: d, access: 'write' }] }));
      assert.equal(a.get('write'), 'allowed', who);
    }
    const e = await spawnError(req('user', { childRules: [{ path: path.join(d, 'missing'), access: 'read' }] }));
    assert.equal(e.stage, 'landlock');
    assert.equal(e.syscall, 'open');
    assert.equal(e.errno, 'ENOENT');
    fs.rmSync(d, { recursive: true });
  });

  test('a directory deleted and made again under the same path gets its rule (the cache key holds the inode)', async () => {
    const d = path.join(dir, 'again');
    const rules = () => [...policy().rules, { path: d, access: 'write', ...identityOf(d) }];
    for (let round = 0; round < 2; round++) {
      fs.rmSync(d, { recursive: true, force: true });
      fs.mkdirSync(d, { mode: 0o777 });
      fs.chmodSync(d, 0o777);
      const a = await attempts([`write:${path.join(d, 'f')}`], {
        ...identities.user,
        noNewPrivs: true,
        landlock: { rules: rules() },
      });
      assert.equal(a.get('write'), 'allowed', `round ${round}`);
    }
    fs.rmSync(d, { recursive: true, force: true });
  });

  test('a rule whose path now names another file is a spawn error (ESTALE), before any child', async () => {
    const e = await spawnError({
      noNewPrivs: true,
      landlock: { rules: [{ path: '/usr', access: 'read', dev: identityOf('/usr').dev, ino: identityOf('/etc').ino }] },
    });
    assert.equal(e.stage, 'landlock');
    assert.equal(e.syscall, 'fstat');
    assert.equal(e.errno, 'ESTALE');
    assert.equal(zombieChildren().length, 0);
  });

  test('a ruleset that cannot be applied is a spawn error with stage landlock', async () => {
    // As a user without no_new_privs (and without CAP_SYS_ADMIN) restrict_self is refused.
    const e = await spawnError({ ...identities.user, landlock: policy() });
    assert.equal(e.code, 'ERR_CONFINE_SPAWN');
    assert.equal(e.stage, 'landlock');
    assert.equal(e.syscall, 'landlock_restrict_self');
    assert.equal(e.errno, 'EPERM');
  });

  test('repeated spawns leave no fd behind: the policy is built once, per-tree rulesets are closed', async () => {
    const tree = fs.mkdtempSync(path.join(dir, 'tree-'));
    const spawnOnce = () =>
      attempts([`read:${path.join(work, 'data')}`], req('user', { treeRules: [{ path: tree, access: 'write' }] }));
    await spawnOnce(); // the policy's first per-tree spawn opens its O_PATH fds, once
    const fds = fs.readdirSync('/proc/self/fd').length;
    for (let i = 0; i < 20; i++) await spawnOnce();
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(fs.readdirSync('/proc/self/fd').length, fds);
    fs.rmSync(tree, { recursive: true });
  });

  for (const forceNoCloseRange of [false, true]) {
    test(`the ruleset fd survives the child's close step (${forceNoCloseRange ? '/proc/self/fd walk' : 'close_range'}), also when its number is a stdio target`, async () => {
      // Many stdio entries: the child's targets 0..63 may cover the cached ruleset's number; the
      // parent moves it above them.
      const nul = addon.openDevNull(fs.constants.O_RDWR);
      const outPath = path.join(dir, 'many-stdio');
      const out = fs.openSync(outPath, 'w+');
      try {
        const child = addon.spawn({
          file: bin,
          argv: ['guards', `read:${path.join(outside, 'secret')}`, `read:${path.join(work, 'data')}`],
          envp: [],
          stdio: [nul, out, out, ...Array(61).fill(nul)],
          noNewPrivs: true,
          landlock: policy(),
          forceNoCloseRange,
        });
        const st = await exitOf(child);
        assert.equal(st.exitCode, 0);
        assert.equal(fs.readFileSync(outPath, 'utf8'), 'read denied EACCES\nread allowed\n');
      } finally {
        fs.closeSync(out);
        addon.close(nul);
      }
    });
  }
});

// ---- capabilities ----

describe('capabilities of a uid-0 child', { skip }, () => {
  const status = async (req) => {
    const r = await run('/bin/sh', ['-c', 'grep ^Cap /proc/self/status'], req);
    assert.equal(r.exitCode, 0, r.out);
    return Object.fromEntries(
      r.out
        .trim()
        .split('\n')
        .map((l) => l.split(/:\s+/)),
    );
  };

  test('none kept: every set empty, securebits locked, a privileged port refused', async () => {
    const control = await status({});
    assert.notEqual(control.CapEff, '0000000000000000');
    const s = await status({ noNewPrivs: true, capabilities: [] });
    for (const set of ['CapInh', 'CapPrm', 'CapEff', 'CapBnd', 'CapAmb']) assert.equal(s[set], '0000000000000000', set);
    const a = await attempts(['securebits', 'bind:80', `mount:${work}`], { noNewPrivs: true, capabilities: [] });
    // NOROOT, NOROOT_LOCKED, NO_SETUID_FIXUP, NO_SETUID_FIXUP_LOCKED, KEEP_CAPS_LOCKED
    assert.equal(a.get('securebits'), '0x2f');
    assert.equal(a.get('bind'), 'denied EACCES');
    assert.equal(a.get('mount'), 'denied EPERM');
  });

  test('kept ones are in every set, ambient included, and work after execve', async () => {
    const expected = (1 << 10).toString(16).padStart(16, '0'); // CAP_NET_BIND_SERVICE
    for (const names of [['net_bind_service'], ['CAP_NET_BIND_SERVICE'], ['Cap_Net_Bind_Service']]) {
      const s = await status({ noNewPrivs: true, capabilities: names });
      for (const set of ['CapInh', 'CapPrm', 'CapEff', 'CapBnd', 'CapAmb']) assert.equal(s[set], expected, `${names} ${set}`);
    }
    const a = await attempts(['bind:80', 'securebits'], { noNewPrivs: true, capabilities: ['net_bind_service'] });
    assert.equal(a.get('bind'), 'allowed');
    assert.equal(a.get('securebits'), '0x2f');
  });

  test('a child that is not uid 0 cannot drop the bounding set: stage capabilities', async () => {
    const e = await spawnError({ ...identities.user, noNewPrivs: true, capabilities: [] });
    assert.equal(e.stage, 'capabilities');
    assert.equal(e.syscall, 'prctl');
    assert.equal(e.errno, 'EPERM');
  });
});

// ---- all together ----

test('capabilities, Landlock and the filter together: everyday work runs, the attacks do not', {
  skip: skipSeccomp || skipLandlock,
}, async () => {
  const req = {
    noNewPrivs: true,
    capabilities: [],
    seccomp: { denyIoUring: true, unixSocketsOnly: true },
    landlock: {
      rules: [
        { path: '/usr', access: 'read', ...identityOf('/usr') },
        { path: binDir, access: 'read', ...identityOf(binDir) },
        { path: work, access: 'write', ...identityOf(work) },
        { path: '/dev/null', access: 'write', ...identityOf('/dev/null') },
      ],
      denyTcp: abi >= 4,
      scopeSignals: abi >= 6,
      scopeAbstractUnix: abi >= 6,
    },
  };
  for (const who of ['root', 'user']) {
    const r = await run('/bin/sh', ['-c', `echo ok > f-${who} && cat f-${who} && rm f-${who}`], {
      ...identities[who],
      ...req,
      capabilities: who === 'root' ? [] : undefined,
    });
    assert.equal(r.exitCode, 0, r.out);
    assert.equal(r.out, 'ok\n');
    const a = await attempts(['userns', `read:${path.join(outside, 'secret')}`, 'socket-inet'], {
      ...identities[who],
      ...req,
      capabilities: who === 'root' ? [] : undefined,
    });
    assert.deepEqual([...a.values()], ['denied EPERM', 'denied EACCES', 'denied EAFNOSUPPORT'], who);
  }
  await until(() => zombieChildren().length === 0);
});
