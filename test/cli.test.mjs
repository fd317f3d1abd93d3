// The confine command, run as a user runs it: exit codes by the shell's convention, timeouts that
// stop the tree, signal forwarding, doctor's report on both the native and the pure-JS path.

import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { alive, until, killPids, isLinux } from './helpers.mjs';

const cli = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
const run = (args, env = {}) =>
  spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 120_000 });

describe('confine run', () => {
  test('exits with the program exit code', () => {
    const r = run(['run', '--', 'sh', '-c', 'exit 7']);
    assert.equal(r.status, 7, r.stderr);
  });

  test('passes stdio through', () => {
    const r = spawnSync(process.execPath, [cli, 'run', '--', 'sh', '-c', 'cat; echo err >&2'], {
      input: 'piped',
      encoding: 'utf8',
    });
    assert.equal(r.stdout, 'piped');
    assert.match(r.stderr, /err/);
    assert.equal(r.status, 0);
  });

  test('--timeout stops the tree and exits 128+signal', () => {
    // 143 is SIGTERM's: sleep 300 ends by the timeout's signal, not by itself (no clock needed).
    const r = run(['run', '--timeout', '1s', '--grace', '2s', '--', 'sleep', '300']);
    assert.equal(r.status, 128 + 15, r.stderr);
  });

  test('limits, --report and --json', { skip: !isLinux && 'reads /proc limits' }, () => {
    const r = run(['run', '--nofile', '77', '--report', '--json', '--', 'sh', '-c', 'ulimit -n']);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim(), '77');
    const report = JSON.parse(r.stderr.trim().split('\n').pop());
    assert.equal(report.enforced.openFiles.enforced, true);
    assert.equal(report.status.exitCode, 0);
    const text = run(['run', '--nofile', '64', '--report', '--', 'true']);
    assert.match(text.stderr, /openFiles\s+enforced/);
    assert.match(text.stderr, /exit code 0/);
  });

  test('SIGTERM to confine is a graceful shutdown of the tree', async () => {
    const child = spawn(
      process.execPath,
      [cli, 'run', '--grace', '30s', '--', 'sh', '-c', 'trap "exit 5" TERM; echo up; while :; do sleep 0.05; done'],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    await once(child.stdout, 'data');
    child.kill('SIGTERM');
    const [code] = await once(child, 'exit');
    assert.equal(code, 5);
  });

  test('bad usage: exit 2 and a message', () => {
    const r = run(['run', '--memory', 'lots', '--', 'true']);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /--memory: not a size/);
    assert.equal(run(['run']).status, 2);
    assert.equal(run(['frobnicate']).status, 2);
    assert.equal(run(['run', '--bogus', '--', 'true']).status, 2);
  });

  test('typed failures: 127 not found, 125 confine failed', () => {
    const nf = run(['run', '--', 'confine-no-such-program']);
    assert.equal(nf.status, 127);
    assert.match(nf.stderr, /ERR_CONFINE_COMMAND_NOT_FOUND/);
    const user = run(['run', '--user', 'confine-tnosuchuser', '--', 'true']);
    assert.equal(user.status, 125);
    assert.match(user.stderr, /ERR_CONFINE_UNKNOWN_USER/);
  });

  test('an execve failure that is not "not executable" is confine failing (125), not 126', () => {
    // Under a small stack limit execve takes 128 KiB of arguments at most (ARG_MAX): 150 KB of them,
    // fine for confine's own exec, make the child's execve fail with E2BIG.
    const half = 'x'.repeat(75_000);
    const big = run(['run', '--executor', 'posix', '--stack', '64K', '--', 'true', half, half]);
    assert.equal(big.status, 125, big.stderr);
    assert.match(big.stderr, /E2BIG/);
  });

  test('memory below what any program needs to start is a usage error naming the floor', () => {
    const r = run(['run', '--memory', '4K', '--', 'true']);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /at least 1048576/);
  });

  test('the tree dies with confine when confine is killed (killOnParentExit)', { skip: !isLinux && 'reads /proc' }, async (t) => {
    const caps = JSON.parse(run(['doctor', '--json']).stdout);
    if (!caps.detail.killOnParentExit?.enforced)
      return t.skip(`the ${caps.backend} backend cannot enforce killOnParentExit against SIGKILL`);
    const child = spawn(process.execPath, [cli, 'run', '--', 'sh', '-c', 'sleep 300 & echo $!; wait'], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const [data] = await once(child.stdout, 'data');
    const grandchild = Number(String(data).trim());
    child.kill('SIGKILL');
    await once(child, 'exit');
    const gone = await until(() => !alive(grandchild), 30_000);
    if (!gone) killPids([grandchild]);
    assert.ok(gone, 'the grandchild died with the supervisor');
  });
});

describe('confine doctor', () => {
  test('--json, native path', () => {
    const r = run(['doctor', '--json']);
    assert.equal(r.status, 0);
    const caps = JSON.parse(r.stdout);
    assert.ok(['linux', 'posix', 'windows', 'universal'].includes(caps.backend));
    assert.equal(typeof caps.native, 'boolean');
    assert.ok(Array.isArray(caps.missing));
  });

  test('CONFINE_NATIVE=0: the universal backend, and why', () => {
    const r = run(['doctor', '--json'], { CONFINE_NATIVE: '0' });
    const caps = JSON.parse(r.stdout);
    assert.equal(caps.native, false);
    assert.equal(caps.backend, 'universal');
    assert.match(caps.reason, /CONFINE_NATIVE=0/);
    assert.equal(caps.resources.memoryBytes.enforced, false);
  });

  test('text output names the backend and what is missing', () => {
    const r = run(['doctor'], { CONFINE_NATIVE: '0' });
    assert.match(r.stdout, /^backend:\s+universal \(pure JS\)/m);
    assert.match(r.stdout, /missing:/);
  });
});

// What a new user of the command line tripped over (issue 15, points 11-17): help, what confine
// says when it ends a program, usage errors in the flags' words, exit statuses by convention.
describe('confine speaks the command line', () => {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
  const flagsOfHelp = (out) => [...out.matchAll(/^ {2}(--[a-z][a-z-]*)/gm)].map((m) => m[1]).sort();
  // Help is read in a terminal: no line wider than 80 columns.
  const fitsTerminal = (out, what) => {
    const wide = out.split('\n').filter((l) => l.length > 80);
    assert.deepEqual(wide, [], `${what}: lines wider than 80 columns`);
  };

  test('--help and --version, for confine, run and doctor: stdout, exit 0', () => {
    for (const args of [['--help'], ['-h'], ['help']]) {
      const r = run(args);
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, /^usage: confine <command>/);
      assert.match(r.stdout, /^ {2}run \[options\] \[--\] FILE/m);
      assert.match(r.stdout, /^ {2}doctor \[--json\]/m);
      assert.equal(r.stderr, '');
      fitsTerminal(r.stdout, args.join(' '));
    }
    const v = run(['--version']);
    assert.equal(v.status, 0, v.stderr);
    assert.equal(v.stdout, `confine ${pkg.version}\n`);
    for (const args of [
      ['run', '--help'],
      ['run', '-h'],
      ['help', 'run'],
      ['run', '--memory', 'nonsense', '--help'],
    ]) {
      const r = run(args);
      assert.equal(r.status, 0, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stdout, /^usage: confine run \[options\] \[--\] FILE \[ARGS\.\.\.\]/);
      for (const flag of ['--memory', '--timeout', '--user', '--report', '--no-kill-on-parent-exit'])
        assert.ok(flagsOfHelp(r.stdout).includes(flag), `${flag} in run --help`);
      assert.match(r.stdout, /^ {2}2 {4}bad usage/m);
      assert.equal(r.stderr, '');
      fitsTerminal(r.stdout, args.join(' '));
    }
    for (const args of [
      ['doctor', '--help'],
      ['help', 'doctor'],
    ]) {
      const r = run(args);
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, /^usage: confine doctor \[--json\]/);
      fitsTerminal(r.stdout, args.join(' '));
    }
  });

  test("the program's own --help is the program's: options end at FILE", () => {
    for (const args of [
      ['run', 'sh', '-c', 'printf %s "$0"', '--help'],
      ['run', '--', 'sh', '-c', 'printf %s "$0"', '--help'],
      ['run', '--nofile', '64', 'sh', '-c', 'printf %s "$0"', '--help'],
    ]) {
      const r = run(args);
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stdout, '--help');
      assert.equal(r.stderr, '');
    }
  });

  test('an ordinary run says nothing of its own', () => {
    const r = run(['run', '--', 'sh', '-c', 'exit 3']);
    assert.equal(r.status, 3);
    assert.equal(r.stderr, '');
  });

  test('--timeout: one line says the program timed out, and how it was stopped', () => {
    const r = run(['run', '--timeout', '300ms', '--', 'sleep', '30']);
    assert.equal(r.status, 143, r.stderr);
    assert.equal(
      r.stderr,
      'confine: timed out: --timeout 300ms ran out and the tree was stopped with SIGTERM (exit 143, SIGTERM)\n',
    );
    // A program that ignores SIGTERM is killed after the grace.
    const k = run([
      'run',
      '--timeout',
      '300ms',
      '--grace',
      '200ms',
      '--',
      'sh',
      '-c',
      'trap "" TERM; echo up; while :; do sleep 0.05; done',
    ]);
    assert.equal(k.status, 137, k.stderr);
    assert.match(
      k.stderr,
      /^confine: timed out: --timeout 300ms ran out and the tree was stopped with SIGTERM; it was still running after --grace 200ms and was killed \(exit 137, SIGKILL\)\n$/,
    );
  });

  test('--memory: an OOM kill is said in one line', async (t) => {
    const caps = JSON.parse(run(['doctor', '--json']).stdout);
    if (!caps.resources.memoryBytes?.enforced) return t.skip(`the ${caps.backend} backend does not enforce memoryBytes here`);
    // A 1 GiB string in perl (Debian's perl-base is essential): anonymous memory at full speed,
    // from a program small enough not to thrash its own text under the limit (a node hog did, in
    // the emulated cgroup v2 VM). The deadline is generous: the kernel decides when.
    const perl = ['/usr/bin/perl', '/bin/perl'].find((p) => existsSync(p));
    const hog = perl
      ? [perl, '-e', '$x = "x" x (1 << 30); print length $x']
      : [process.execPath, '-e', 'const a = []; for (;;) a.push(Buffer.alloc(1 << 20, 1));'];
    const r = spawnSync(process.execPath, [cli, 'run', '--memory', '96M', '--', ...hog], { encoding: 'utf8', timeout: 300_000 });
    assert.equal(r.status, 137, r.stderr);
    assert.match(
      r.stderr,
      /^confine: out of memory: the kernel's OOM killer killed a process of the tree at its limit \(--memory 96M\) \(exit 137, SIGKILL\)\n$/,
    );
  });

  test('--cpu-seconds: the kernel signal at the limit is said in one line', {
    skip: !isLinux && 'RLIMIT_CPU via the native backend',
  }, () => {
    const r = run(['run', '--cpu-seconds', '1', '--', 'sh', '-c', 'while :; do :; done']);
    assert.ok(r.status === 137 || r.status === 152, `killed by SIGKILL or SIGXCPU: ${r.status} ${r.stderr}`);
    assert.match(
      r.stderr,
      /^confine: CPU time limit: killed by SIG(KILL|XCPU), as the kernel does at the --cpu-seconds 1 limit \(exit 1(37|52), SIG(KILL|XCPU)\)\n$/,
    );
  });

  test('--fsize: the kernel signal past the limit is said in one line', {
    skip: !isLinux && 'RLIMIT_FSIZE via the native backend',
  }, () => {
    const dir = mkdtempSync(join(tmpdir(), 'confine-cli-'));
    try {
      // exec: head itself is the program, and SIGXFSZ ends it (sh would turn it into exit 153).
      const r = run(['run', '--fsize', '1K', '--', 'sh', '-c', `exec head -c 4096 /dev/zero > ${join(dir, 'big')}`]);
      assert.equal(r.status, 128 + 25, r.stderr);
      assert.equal(r.stderr, 'confine: file size limit: killed by SIGXFSZ on writing past --fsize 1K (exit 153, SIGXFSZ)\n');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('usage errors exit 2, worded in flags, never in API names', () => {
    const cases = [
      [['--memory', '0'], /^confine: --memory must be at least 1048576 \(1 MiB\), got 0: below that no program can even exec/m],
      [['--pids', '99999999'], /^confine: --pids must be between 1 and 4194304 \(processes\), got 99999999$/m],
      [['--cpu', '0'], /^confine: --cpu must be between 0\.001 and \d+ \(cores\), got 0$/m],
      [['--timeout', '0'], /^confine: --timeout must be a positive integer of milliseconds, got 0$/m],
      [['--memory', '64X'], /^confine: --memory: not a size: "64X"/m],
      [['--nofile', '2'], /^confine: --nofile must be between 3 and/m],
      [['--stack', '1K'], /^confine: --stack must be between 16384 and/m],
      [['--cpu-weight', '0'], /^confine: --cpu-weight must be between 1 and 10000/m],
      [['--cpus', 'x'], /^confine: --cpus must be a CPU list/m],
      [['--io-weight', '0'], /^confine: --io-weight must be between 1 and 10000/m],
      [['--io-write-bps', '/:0'], /^confine: --io-write-bps #1: rate must be an integer between 1/m],
      [['--io-read-iops', 'sda'], /^confine: --io-read-iops: expected DEVICE:RATE/m],
      [['--executor', 'vm'], /^confine: --executor must be one of linux, posix, windows, universal, got "vm"$/m],
      [['--cwd', ''], /^confine: --cwd must not be empty$/m],
      [['--user', '1:x'], /^confine: --user: expected a user name, a uid or "uid:gid"/m],
      [['--env', 'NOEQUALS'], /^confine: --env: expected K=V/m],
      [['--grace', 'soon'], /^confine: --grace: not a duration/m],
      [['--timout', '1s'], /^confine: unknown option --timout \(did you mean --timeout\?\)$/m],
      [['--strict=yes'], /^confine: --strict takes no value$/m],
      [['--memory'], /^confine: --memory needs a value \(SIZE\)$/m],
    ];
    for (const [flags, message] of cases) {
      const r = run(['run', ...flags, ...(flags.length === 1 && flags[0] === '--memory' ? [] : ['--', 'true'])]);
      assert.equal(r.status, 2, `${flags.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, message, flags.join(' '));
      assert.match(r.stderr, /^Try 'confine run --help' for more information\.$/m);
      assert.doesNotMatch(
        r.stderr,
        /memoryBytes|maxProcesses|cpuWeight|graceMs|PerSecond|ioWeight|\[\d+\]|options\.|command:|limit:|runAs|ERR_CONFINE/,
        flags.join(' '),
      );
      assert.equal(r.stdout, '');
    }
    for (const args of [['run'], ['frobnicate'], [], ['doctor', '--bogus'], ['doctor', 'extra'], ['help', 'nope']]) {
      const r = run(args);
      assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, /^confine: .+\nTry 'confine( run| doctor)? --help' for more information\.\n$/);
    }
  });

  test('FILE that is a directory or not executable: 126; not found: 127 (the shell convention)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'confine-cli-'));
    try {
      const plain = join(dir, 'plain');
      writeFileSync(plain, 'echo hi\n', { mode: 0o644 });
      for (const file of [dir, plain]) {
        const r = run(['run', '--', file]);
        assert.equal(r.status, 126, `${file}: ${r.stderr}`);
        assert.match(r.stderr, /not executable/);
      }
      assert.equal(run(['run', '--', join(dir, 'missing')]).status, 127);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('--json without --report is a usage error, not ignored', () => {
    const r = run(['run', '--json', '--', 'true']);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /^confine: --json selects the format of --report, which was not given \(add --report\)$/m);
  });

  test("an unenforced limit warns in one line, in flags, without Node's --trace-warnings hint", () => {
    const r = run(['run', '--executor', 'universal', '--memory', '64M', '--', 'true']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /^confine: warning: --memory is not enforced by the universal backend: .+\n$/);
    assert.doesNotMatch(r.stderr, /trace-warnings|\(node:\d+\)/);
  });

  test('start-up: the command is one file; a run initialises what it runs and no more; help and --version none of the library', () => {
    // Start-up time is measured by bench/startup.mjs (issue 15: `confine run -- true` within
    // 20 ms of `node -e 0`); what a run loads is exact, and checked here.
    const dir = mkdtempSync(join(tmpdir(), 'confine-cli-'));
    const preload = fileURLToPath(new URL('./fixtures/loaded-modules.js', import.meta.url));
    const loaded = (args) => {
      const out = join(dir, 'loaded.json');
      // stdout to a file, not a pipe: a pipe's process.stdout is a net.Socket, and node:net must
      // say whether the library was started.
      const r = spawnSync(process.execPath, ['-r', preload, ...args], {
        encoding: 'utf8',
        stdio: ['ignore', 'ignore', 'pipe'],
        env: { ...process.env, CONFINE_TEST_LOADED: out },
      });
      assert.equal(r.status, 0, r.stderr);
      return JSON.parse(readFileSync(out, 'utf8'));
    };
    // Besides the JavaScript: the addon, and package.json, which node-gyp-build reads for the
    // package's name when it finds the addon.
    const addon = (f) => f.endsWith('.node') || f === 'package.json';
    try {
      // The bin is the bundle (scripts/finish-build.js): no other JavaScript file of the package
      // is read, whatever the command.
      for (const args of [['--version'], ['--help'], ['run', '--help'], ['run', '--', 'true']]) {
        const { files, builtins } = loaded([cli, ...args]);
        assert.deepEqual(
          files.filter((f) => !addon(f)),
          ['dist/cli.js'],
          args.join(' '),
        );
        assert.ok(!builtins.includes('child_process') && !builtins.includes('crypto'), args.join(' '));
        // Nor does any command load Node's heavier layers (together about a tenth of a run): no
        // node:net (a run with inherited stdio has no socket: the watchdog's lines go into its
        // pipe by write(2)), no perf_hooks (the clock is process.hrtime), no worker_threads (the
        // addon knows the thread); and a run, which prints nothing, not node:stream either (help
        // and --version do: Node's process.stdout is a stream).
        const heavy = ['net', 'perf_hooks', 'worker_threads', ...(args[1] === '--' ? ['stream'] : [])];
        assert.deepEqual(
          builtins.filter((b) => heavy.includes(b)),
          [],
          args.join(' '),
        );
      }
      // Inside the bundle a module runs on its first require, as a file would load: tsc's own
      // files, driven as the bundle drives them, say which a run needs.
      const run = loaded(['-e', "require('./dist/cli/run.js').run(['--', 'true']).then((c) => { process.exitCode = c; })"]);
      for (const f of ['dist/executor.js', 'dist/cli/run.js']) assert.ok(run.files.includes(f), f);
      // Not a run's business: the package index (openPid, the orphan scan, capabilities()), the
      // backends not in use, isolation (no isolate()), attaching by handle, stats streams, users
      // (no runAs), spawn()'s error shapes, the IO layer and its block-device lookup (no IO
      // limits), joining more cgroup v1 hierarchies (update()); nor node:crypto and
      // node:child_process (the watchdog is started by the addon where it loads).
      const never = [
        'dist/index.js',
        'dist/open-pid.js',
        'dist/capabilities.js',
        'dist/lifecycle/orphans.js',
        'dist/cli/doctor.js',
        'dist/cgroup/index.js',
        'dist/cgroup/orphan-scan.js',
        'dist/attach.js',
        'dist/lifecycle/stats-stream.js',
        'dist/users.js',
        'dist/child-process/errors.js',
        'dist/cgroup/io.js',
        'dist/block-devices.js',
        'dist/cgroup/extend.js',
        'dist/isolation/index.js',
        'dist/isolation/guards.js',
      ];
      if (run.files.includes('dist/backends/native.js')) never.push('dist/backends/universal.js', 'dist/backends/windows.js');
      assert.deepEqual(
        run.files.filter((f) => never.includes(f)),
        [],
      );
      const builtins = run.files.includes('dist/backends/native.js') ? ['crypto', 'child_process'] : ['crypto'];
      assert.deepEqual(
        run.builtins.filter((b) => builtins.includes(b)),
        [],
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("start-up: require('confine') loads what a run needs; spawn(), openPid, capabilities() and the orphan scan on their first call", () => {
    const dir = mkdtempSync(join(tmpdir(), 'confine-cli-'));
    const preload = fileURLToPath(new URL('./fixtures/loaded-modules.js', import.meta.url));
    const out = join(dir, 'loaded.json');
    const load = (code) => {
      const r = spawnSync(process.execPath, ['-r', preload, '-e', code], {
        encoding: 'utf8',
        cwd: fileURLToPath(new URL('..', import.meta.url)),
        stdio: ['ignore', 'ignore', 'pipe'],
        env: { ...process.env, CONFINE_TEST_LOADED: out },
      });
      assert.equal(r.status, 0, r.stderr);
      return JSON.parse(readFileSync(out, 'utf8')).files;
    };
    const later = [
      'dist/child-process/spawn.js',
      'dist/open-pid.js',
      'dist/capabilities.js',
      'dist/lifecycle/orphans.js',
      'dist/cgroup/index.js',
      'dist/cgroup/orphan-scan.js',
      'dist/cgroup/pool.js',
    ];
    try {
      const files = load("require('./dist/index.js')");
      assert.ok(files.includes('dist/executor.js'));
      assert.deepEqual(
        files.filter((f) => later.includes(f)),
        [],
      );
      // Each is the module's own function once called (names kept for stack traces and logs).
      const called = load(`
        const c = require('./dist/index.js');
        const names = ['spawn', 'openPid', 'capabilities', 'autoselectExecutor', 'cleanupOrphans', 'listOrphanCgroups', 'dropSpareCgroups'];
        if (names.some((n) => typeof c[n] !== 'function' || c[n].name !== n)) process.exit(3);
        if (typeof c.capabilities().backend !== 'string' || c.autoselectExecutor() !== c.capabilities().backend) process.exit(4);
        if (!Array.isArray(c.listOrphanCgroups({ under: '/confine-test-absent' }))) process.exit(5);
        c.dropSpareCgroups();
        c.openPid('not a handle').then(() => process.exit(6), (e) => { if (!(e instanceof c.ConfineArgumentError)) process.exit(7); });`);
      for (const f of ['dist/open-pid.js', 'dist/capabilities.js', 'dist/lifecycle/orphans.js', 'dist/cgroup/pool.js'])
        assert.ok(called.includes(f), f);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("the README's synopsis has every flag of confine run --help, and exit status 2", () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    const section = readme.slice(
      readme.indexOf('## The command line'),
      readme.indexOf('\n## ', readme.indexOf('## The command line') + 1),
    );
    const synopsis = section.slice(section.indexOf('```'), section.indexOf('```', section.indexOf('```') + 3));
    const inReadme = [...new Set([...synopsis.matchAll(/--[a-z][a-z-]*/g)].map((m) => m[0]))].sort();
    const help = flagsOfHelp(run(['run', '--help']).stdout);
    assert.deepEqual(
      inReadme.filter((f) => f !== '--help' && f !== '--version'),
      help,
    );
    assert.match(section, /\b2\b[^.]*bad usage/);
  });
});
