// Adversarial children, on every backend this machine can run: a fork bomb, a memory hog, a CPU
// hog, a double-forked daemon in its own session, a program that ignores SIGTERM, and a C program
// (test/fixtures/adversarial/attack.c) that, as a non-root user, tries to regain root, leave its
// cgroup, trace, signal and read its supervisor, use a descriptor the supervisor did not pass,
// and find the supervisor's secret environment; plus a setuid-root binary it may exec.
//
// Every case asserts containment where the backend's `enforced` says the limit is held, and that
// `enforced` is honest where it says it is not (a case the backend declares it cannot contain is
// "declared", not an escape). After each case the supervisor and host are checked: it can still
// spawn, no zombie, no process of the test user, no task cgroup left. A summary line per backend
// counts cases and escapes:   adversarial [linux]: 11 cases, 0 escapes, 0 declared
//
// In the cgroup v2 VM (`npm run test:cgroup2 -- test/adversarial.test.mjs`, CONFINE_IN_VM set)
// only the cgroup cases run, on the linux backend.

import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import {
  mkdtempSync,
  rmSync,
  chmodSync,
  copyFileSync,
  openSync,
  closeSync,
  writeFileSync,
  readFileSync,
  readdirSync,
  existsSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { command, capabilities } from '../dist/index.mjs';
import {
  createUser,
  zombieChildren,
  alive,
  until,
  text,
  killPids,
  isLinux,
  isRoot,
  leftoverTestCgroups,
  cgroupMounts,
  testCgroupParent,
  haveCc,
  FORK_BOMB,
  cgroupOf,
  pidsCounters,
  judgeCpuQuota,
  CPU_HOG,
  doomed,
} from './helpers.mjs';

const require = createRequire(import.meta.url);
const fixtures = join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'adversarial');
const inVm = Boolean(process.env.CONFINE_IN_VM);
const caps = capabilities();
const kinds = inVm ? caps.backends.filter((k) => k === 'linux') : caps.backends;

const skip = !isLinux
  ? 'Linux only (reads /proc, compiles C fixtures)'
  : !isRoot
    ? 'needs root: creates users and a setuid binary'
    : !haveCc()
      ? 'no C compiler (cc)'
      : false;

// ---- the score ---------------------------------------------------------------------------------

/** kind -> { cases: Set, escapes: [], declared: [] } */
const score = new Map();
function scoreOf(kind) {
  if (!score.has(kind)) score.set(kind, { cases: new Set(), escapes: [], declared: [] });
  return score.get(kind);
}
/** A case ran: contained, escaped (the backend said it enforces this), or declared (it said it does not). */
function record(kind, name, outcome, detail = '') {
  const s = scoreOf(kind);
  s.cases.add(name);
  if (outcome === 'escaped') s.escapes.push(`${name}: ${detail}`);
  if (outcome === 'declared') s.declared.push(`${name}: ${detail}`);
}

// ---- the host --------------------------------------------------------------------------------

let dir;
let user;
let attackBin;
let suidId;
let cloexec;

/**
 * Pids of every live process of a uid (the test user's processes are the confined trees); with
 * `zombies`, also those dead but not reaped yet (RLIMIT_NPROC still counts them).
 */
function pidsOfUid(uid, { zombies = false } = {}) {
  const out = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const status = readFileSync(`/proc/${name}/status`, 'utf8');
      const m = /^Uid:\s+(\d+)/m.exec(status);
      const state = /^State:\s+(\S)/m.exec(status);
      if (m && Number(m[1]) === uid && (zombies || state?.[1] !== 'Z')) out.push(Number(name));
    } catch {}
  }
  return out;
}

/**
 * After a case: the supervisor can still spawn through this backend, and nothing is left: no
 * zombie, no process of the test user (killed by pid and reported if any), no task cgroup.
 * Returns the leftovers (empty when the host is fine).
 */
async function hostFine(kind) {
  const ex = command('true', [], { executor: kind, stdio: 'ignore' });
  await ex.start();
  const st = await ex.wait();
  assert.equal(st.exitCode, 0, 'the supervisor can still spawn');
  const left = (await until(() => pidsOfUid(user.uid).length === 0, 30_000)) ? [] : pidsOfUid(user.uid);
  killPids(left);
  assert.ok(await until(() => zombieChildren().length === 0, 30_000), `no zombie children: ${zombieChildren()}`);
  assert.ok(await until(() => leftoverTestCgroups().length === 0, 30_000), `no task cgroup left: ${leftoverTestCgroups()}`);
  return left;
}

/** Processes in a tree, by walking /proc children links from the leader (best effort). */
function descendantsOf(pid) {
  const out = [];
  const stack = [pid];
  while (stack.length) {
    const p = stack.pop();
    let kids = [];
    try {
      kids = readFileSync(`/proc/${p}/task/${p}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
    } catch {}
    for (const k of kids) {
      out.push(k);
      stack.push(k);
    }
  }
  return out;
}

/** Every cgroup.procs a confined child might try to move itself into. */
function foreignCgroupProcs(otherCgroupPaths) {
  const mountinfo = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter((l) => / - cgroup2? /.test(l));
  const own = readFileSync('/proc/self/cgroup', 'utf8')
    .trim()
    .split('\n')
    .map((l) => {
      const [id, ctrls, ...rest] = l.split(':');
      return { id, ctrls: ctrls ? ctrls.split(',') : [], path: rest.join(':') };
    });
  const files = new Set();
  for (const line of mountinfo) {
    const mount = line.split(' ')[4];
    const [fstype, , superOpts = ''] = line.split(' - ')[1].split(' ');
    const opts = superOpts.split(',');
    const mine = fstype === 'cgroup2' ? own.find((c) => c.id === '0') : own.find((c) => c.ctrls.some((x) => opts.includes(x)));
    files.add(`${mount}/cgroup.procs`); // the root
    if (mine) files.add(`${mount}${mine.path === '/' ? '' : mine.path}/cgroup.procs`); // the supervisor's own
    files.add(`${mount}${testCgroupParent}/cgroup.procs`); // the parent of every task cgroup here
  }
  for (const p of otherCgroupPaths) files.add(`${p}/cgroup.procs`); // another executor's tree
  return [...files].filter((f) => existsSync(f));
}

function cgroupPathsOf(ex) {
  try {
    const data = JSON.parse(Buffer.from(ex.handle.split('.')[1], 'base64url').toString());
    return Object.values(data.extra?.cgroup ?? {}).filter((p) => typeof p === 'string' && p.startsWith('/'));
  } catch {
    return [];
  }
}

/**
 * Runs attack.c once per backend as the test user, with an explicit env that leaves out the
 * supervisor's secret, while the supervisor holds a secret file open WITHOUT O_CLOEXEC.
 * Returns { lines: Map(name -> {escaped, detail}), whoami }.
 */
const attackRuns = new Map();
function attack(kind) {
  if (!attackRuns.has(kind)) attackRuns.set(kind, runAttack(kind));
  return attackRuns.get(kind);
}
async function runAttack(kind) {
  const secretName = 'CONFINE_ADVERSARIAL_SECRET';
  const secretValue = `s3cret-${randomBytes(8).toString('hex')}`;
  process.env[secretName] = secretValue;
  // Another executor's cgroup to try to join (linux backend only).
  let other = null;
  if (caps.backends.includes('linux')) {
    other = command('sleep', ['60'], { executor: 'linux', stdio: 'ignore' }).limit({
      maxProcesses: 5,
      memoryBytes: 64 * 2 ** 20,
    });
    await other.start();
  }
  const secretFile = join(dir, 'secret.txt');
  writeFileSync(secretFile, secretValue, { mode: 0o600 });
  const fd = openSync(secretFile, 'r');
  try {
    assert.equal(cloexec.clearCloexec(fd), true, 'the secret fd is inheritable');
    const args = [String(process.pid), secretName, secretValue, ...foreignCgroupProcs(other ? cgroupPathsOf(other) : [])];
    const ex = command(attackBin, args, {
      executor: kind,
      env: { PATH: '/usr/bin:/bin', LANG: 'C' },
      cwd: '/',
      stdio: ['ignore', 'pipe', 'pipe'],
    }).runAs(user.name);
    await ex.start();
    closeSync(fd);
    const [out, err, st] = await Promise.all([text(ex.stdout), text(ex.stderr), ex.wait()]);
    assert.equal(st.exitCode, 0, `attack ran to the end: ${err}`);
    const lines = new Map();
    let whoami = '';
    for (const l of out.trim().split('\n')) {
      if (l.startsWith('whoami ')) {
        whoami = l;
        continue;
      }
      const [name, verdict, ...rest] = l.split(' ');
      lines.set(name, { escaped: verdict === 'ESCAPED', detail: rest.join(' ') });
    }
    return { lines, whoami, enforced: ex.enforced };
  } finally {
    try {
      closeSync(fd);
    } catch {}
    delete process.env[secretName];
    if (other) await other.forceStop();
  }
}

/**
 * Judges a group of attack.c lines for one case. `claim` is the Enforcement the backend gives for
 * what the case attacks: an escape it declared (enforced: false) is "declared", not an escape.
 */
async function attackCase(kind, name, pick, claim = null) {
  const { lines, whoami } = await attack(kind);
  const picked = [...lines].filter(([n]) => pick(n));
  assert.ok(picked.length > 0, `attack.c reported on ${name}`);
  const escaped = picked.filter(([, v]) => v.escaped).map(([n, v]) => `${n} (${v.detail})`);
  const declared = escaped.length > 0 && claim && claim.enforced === false;
  record(
    kind,
    name,
    declared ? 'declared' : escaped.length ? 'escaped' : 'contained',
    `${escaped.join('; ')} [${whoami}]${declared ? `: ${claim.note}` : ''}`,
  );
  return { escaped: declared ? [] : escaped, picked };
}

// Escapes found by this suite and not fixed yet: the case still runs and counts the escape in the
// summary, but is marked todo so that `npm test` stays usable until the backend is fixed. Remove
// an entry when its fix lands (the todo then passes, and node:test says so).
const KNOWN_ESCAPES = {};
const known = (kind, name) => KNOWN_ESCAPES[`${kind}:${name}`] ?? false;

// ---- the cases -----------------------------------------------------------------------------------

describe('adversarial', { skip, timeout: 10 * 60_000 }, () => {
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'confine-adv-'));
    chmodSync(dir, 0o755); // the test user runs the fixtures from here
    user = createUser();
    attackBin = join(dir, 'attack');
    execFileSync('cc', ['-O1', '-Wall', '-o', attackBin, join(fixtures, 'attack.c')]);
    const nodeInclude = [join(dirname(process.execPath), '..', 'include', 'node'), '/usr/include/node'].find((d) =>
      existsSync(join(d, 'node_api.h')),
    );
    assert.ok(nodeInclude, 'node_api.h for the cloexec fixture');
    execFileSync('cc', [
      '-shared',
      '-fPIC',
      '-O1',
      '-Wall',
      `-I${nodeInclude}`,
      '-DNODE_GYP_MODULE_NAME=cloexec',
      '-o',
      join(dir, 'cloexec.node'),
      join(fixtures, 'cloexec.c'),
    ]);
    cloexec = require(join(dir, 'cloexec.node'));
    // A setuid-root program: `id -u` prints the effective uid it runs with.
    suidId = join(dir, 'suid-id');
    copyFileSync('/usr/bin/id', suidId);
    chmodSync(suidId, 0o4755);
  });

  after(async () => {
    const stray = user ? pidsOfUid(user.uid) : [];
    killPids(stray);
    // userdel refuses a user that still has processes: wait for the kills to land.
    if (user) await until(() => pidsOfUid(user.uid, { zombies: true }).length === 0, 30_000);
    user?.remove();
    const userLeft = user
      ? (() => {
          try {
            execFileSync('id', [user.name], { stdio: 'ignore' });
            return true;
          } catch {
            return false;
          }
        })()
      : false;
    if (dir) rmSync(dir, { recursive: true, force: true });
    for (const kind of kinds) {
      const s = scoreOf(kind);
      console.log(
        `adversarial [${kind}]: ${s.cases.size} cases, ${s.escapes.length} escapes, ${s.declared.length} declared not enforced`,
      );
      for (const e of s.escapes) console.log(`  ESCAPE [${kind}] ${e}`);
      for (const d of s.declared) console.log(`  declared [${kind}] ${d}`);
    }
    assert.deepEqual(stray, [], 'no process of the test user outlived the suite');
    assert.equal(userLeft, false, `test user ${user?.name} removed`);
    assert.deepEqual(zombieChildren(), []);
    assert.deepEqual(leftoverTestCgroups(), []);
  });

  for (const kind of kinds) {
    const opts = (o = {}) => ({ executor: kind, stdio: 'ignore', ...o });

    describe(`[${kind}]`, () => {
      test('fork bomb: the tree never exceeds maxProcesses', async () => {
        const LIMIT = 20;
        const [bomb, bombArgs] = FORK_BOMB;
        const ex = command(bomb, bombArgs, opts({ cwd: '/', stdio: ['ignore', 'pipe', 'ignore'] }))
          .limit({ maxProcesses: LIMIT })
          .runAs(user.name);
        const e = ex.enforced.maxProcesses;
        if (!e.enforced) {
          // Honest: universal has no cgroup and no rlimits for this. Not run: it would not be contained.
          assert.equal(e.mechanism, 'none');
          record(kind, 'fork-bomb', 'declared', `maxProcesses: ${e.note}`);
          return;
        }
        // RLIMIT_NPROC counts every process of the user, zombies not yet reaped by init included:
        // the trees of earlier cases must be gone for good.
        assert.ok(await until(() => pidsOfUid(user.uid, { zombies: true }).length === 0, 30_000), 'the test user runs nothing');
        await ex.start();
        let refused = 0; // the bomb's own count of refused forks
        ex.stdout.on('data', (d) => (refused += d.length));
        const pidsDir = (() => {
          const cg = cgroupOf(ex);
          return cg ? (cg.pids ?? cg.unified) : null;
        })();
        // Sample while the limit is under pressure: until the kernel (or, without a pids cgroup, the
        // bomb itself) has refused 500 forks and three samples saw the tree at the limit. A count
        // of refusals, not a span of time: on a slow machine it takes longer, and holds the same.
        let max = 0;
        let atLimit = 0;
        const held = await until(
          async () => {
            const n = Math.max(pidsOfUid(user.uid).length, (await ex.stats()).processes ?? 0);
            max = Math.max(max, n);
            if (n === LIMIT) atLimit++;
            if (n > LIMIT) return true; // escaped: no need to go on
            const kernelRefused = pidsDir ? pidsCounters(pidsDir).refused : refused;
            return kernelRefused >= 500 && refused >= 1 && atLimit >= 3;
          },
          120_000,
          5,
        );
        const counters = pidsDir ? pidsCounters(pidsDir) : null;
        await ex.forceStop();
        const contained = max <= LIMIT && (counters?.peak ?? 0) <= LIMIT;
        const detail = `saw ${max} processes (${atLimit} samples at the limit), ${refused} forks refused${counters ? `; kernel: pids.peak ${counters.peak}, pids.events max ${counters.refused}` : ''} (limit ${LIMIT}, ${e.mechanism}/${e.scope})`;
        console.log(`fork bomb [${kind}]: ${detail}`);
        record(kind, 'fork-bomb', contained ? 'contained' : 'escaped', detail);
        assert.ok(contained, `never more than ${LIMIT} processes (saw ${max}, pids.peak ${counters?.peak})`);
        assert.ok(held, `the bomb held the limit under pressure (saw ${max}, at the limit ${atLimit} times, ${refused} refused)`);
        assert.ok(max >= 5, `the bomb did fork (saw ${max})`);
        assert.equal(max, LIMIT, 'the tree reached the limit');
        if (counters?.peak !== null && counters?.peak !== undefined)
          assert.equal(counters.peak, LIMIT, 'pids.peak: the limit, never more');
        if (counters) assert.ok(counters.refused >= 500, `pids.events: ${counters.refused} forks refused`);
        const left = await hostFine(kind);
        assert.deepEqual(left, [], 'forceStop left no bomb process');
      });

      test('memory hog: OOM-killed (cgroup) or refused memory (RLIMIT_AS), and reported', async () => {
        const hog = 'a=xxxxxxxxxxxxxxxx; while :; do a="$a$a"; done';
        const limit = 64 * 2 ** 20;
        const ex = command('sh', ['-c', hog], opts({ cwd: '/' }))
          .limit({ memoryBytes: limit })
          .runAs(user.name);
        if (ex.enforced.memoryBytes.enforced) {
          assert.match(ex.enforced.memoryBytes.mechanism, /^cgroup[12]$/);
          await ex.start();
          const st = await ex.wait();
          const ok = st.oomKilled === true && st.signal === 'SIGKILL';
          record(
            kind,
            'memory-hog',
            ok ? 'contained' : 'escaped',
            JSON.stringify({ oomKilled: st.oomKilled, signal: st.signal, peak: st.memoryPeakBytes }),
          );
          assert.ok(ok, `OOM-killed and reported: ${JSON.stringify(st)}`);
          if (st.memoryPeakBytes !== null)
            assert.ok(st.memoryPeakBytes <= limit + 2 ** 20, `peak ${st.memoryPeakBytes} within the limit`);
        } else {
          assert.equal(ex.enforced.memoryBytes.mechanism, 'none', 'honest: memoryBytes not enforced');
          // The per-process fallback the backend does have: RLIMIT_AS.
          const as = command('sh', ['-c', hog], opts({ cwd: '/' }))
            .limit({ addressSpaceBytes: limit })
            .runAs(user.name);
          if (!as.enforced.addressSpaceBytes?.enforced) {
            record(kind, 'memory-hog', 'declared', `memoryBytes and addressSpaceBytes: ${ex.enforced.memoryBytes.note}`);
            return;
          }
          await as.start();
          const st = await as.wait();
          const ok = st.exitCode !== 0 && (st.memoryPeakBytes === null || st.memoryPeakBytes <= limit);
          record(
            kind,
            'memory-hog',
            ok ? 'contained' : 'escaped',
            `RLIMIT_AS: ${JSON.stringify({ exitCode: st.exitCode, signal: st.signal, peak: st.memoryPeakBytes })}`,
          );
          assert.ok(ok, `the hog was refused memory: ${JSON.stringify(st)}`);
        }
        assert.deepEqual(await hostFine(kind), []);
      });

      test('CPU hog: cpu quota (cgroup) and cpuSeconds (rlimit) hold', async () => {
        const spin = 'while :; do :; done';
        const details = [];
        let escaped = false;
        let ran = false;
        // Spinners: unlimited, they would take every core.
        const q = command('sh', ['-c', CPU_HOG], opts({ cwd: '/' }))
          .limit({ cpu: 0.5 })
          .runAs(user.name);
        if (q.enforced.cpu.enforced) {
          ran = true;
          await q.start();
          const cg = cgroupOf(q);
          const usage = async () => {
            const s = await q.stats();
            return s.cpuUserMicros + s.cpuSystemMicros;
          };
          // From the kernel's counters: CPU used per CFS period, and throttled (no wall clock).
          const j = await judgeCpuQuota({ cpuDir: cg.cpu ?? cg.unified, usage, cores: 0.5 });
          await q.forceStop();
          details.push(`cpu 0.5 → ${j.figures}${j.held ? '' : ', not throttled 10 times'} ${j.failures.join('; ')}`);
          if (!j.held || j.failures.length > 0) escaped = true;
        } else {
          details.push(`cpu not enforced (${q.enforced.cpu.mechanism}): ${q.enforced.cpu.note}`);
        }
        const r = command('sh', ['-c', spin], opts({ cwd: '/' }))
          .limit({ cpuSeconds: 1 })
          .runAs(user.name);
        if (r.enforced.cpuSeconds?.enforced) {
          ran = true;
          await r.start();
          // A safety net only: RLIMIT_CPU ends it after 1 s of CPU, however long that takes here.
          const timer = setTimeout(() => r.forceStop(), 120_000);
          const st = await r.wait();
          clearTimeout(timer);
          details.push(
            `cpuSeconds 1 → ${st.signal} after ${st.durationMs} ms, ${((st.cpuUserMicros ?? 0) + (st.cpuSystemMicros ?? 0)) / 1000} ms CPU`,
          );
          if (!['SIGXCPU', 'SIGKILL'].includes(st.signal) || st.stopped) escaped = true;
        } else {
          details.push(`cpuSeconds not enforced: ${r.enforced.cpuSeconds?.note}`);
        }
        record(kind, 'cpu-hog', !ran ? 'declared' : escaped ? 'escaped' : 'contained', details.join('; '));
        assert.ok(!escaped, details.join('; '));
        assert.deepEqual(await hostFine(kind), []);
      });

      test('double-forked daemon in its own session: stopped with the tree, or declared', async () => {
        // The daemon: forked twice, in a new session, its parent gone before the stop.
        const script = '(setsid sh -c "sleep 300 & echo \\$!" &); sleep 300';
        const ex = command('sh', ['-c', script], opts({ cwd: '/', stdio: ['ignore', 'pipe', 'ignore'] })).runAs(user.name);
        const claim = ex.enforced.treeStop;
        await ex.start();
        const [line] = await once(ex.stdout, 'data');
        const daemon = Number(String(line).trim());
        assert.ok(daemon > 0 && alive(daemon), 'the daemon runs');
        assert.ok(
          await until(() => {
            const s = readFileSync(`/proc/${daemon}/stat`, 'utf8');
            return Number(s.slice(s.lastIndexOf(')') + 2).split(' ')[1]) !== ex.pid; // reparented away
          }, 30_000),
          'the daemon was reparented away from the tree',
        );
        const st = await ex.forceStop();
        assert.equal(st.signal, 'SIGKILL');
        // Every kill was sent once forceStop() resolved: the daemon is dying now, or was spared.
        const gone = doomed(daemon) && (await until(() => !alive(daemon), 30_000));
        if (!gone) killPids([daemon]);
        if (claim.enforced)
          record(
            kind,
            'daemon',
            gone ? 'contained' : 'escaped',
            `daemon ${daemon} ${gone ? 'killed' : 'survived'} (${claim.mechanism})`,
          );
        else
          record(
            kind,
            'daemon',
            gone ? 'contained' : 'declared',
            `treeStop ${claim.mechanism}: daemon ${gone ? 'killed anyway' : 'survived'}: ${claim.note}`,
          );
        if (claim.enforced) assert.ok(gone, `daemon ${daemon} survived forceStop`);
        assert.deepEqual(await hostFine(kind), []);
      });

      test('ignoring SIGTERM: shutdown still ends the whole tree', { skip: inVm && 'not cgroup-specific' }, async () => {
        const script = 'trap "" TERM; sleep 300 & echo $!; while :; do sleep 0.1; done';
        const ex = command('sh', ['-c', script], opts({ cwd: '/', stdio: ['ignore', 'pipe', 'ignore'] })).runAs(user.name);
        await ex.start();
        const [line] = await once(ex.stdout, 'data');
        const kid = Number(String(line).trim());
        const tree = [ex.pid, kid, ...descendantsOf(ex.pid)];
        const st = await ex.shutdown({ signal: 'SIGTERM', graceMs: 300 });
        // Every kill was sent once shutdown() resolved.
        const spared = tree.filter((p) => !doomed(p));
        const survivors = (await until(() => tree.every((p) => !alive(p)), 30_000)) ? [] : tree.filter(alive);
        killPids(survivors);
        record(
          kind,
          'ignore-sigterm',
          st.signal === 'SIGKILL' && spared.length === 0 && survivors.length === 0 ? 'contained' : 'escaped',
          `status ${st.signal}, spared ${spared}, survivors ${survivors}`,
        );
        assert.equal(st.signal, 'SIGKILL', 'killed after the grace');
        assert.equal(st.stopped, true);
        assert.deepEqual(spared, [], 'every process was killed when shutdown() resolved');
        assert.deepEqual(survivors, [], 'no survivor');
        assert.deepEqual(await hostFine(kind), []);
      });

      test('regain root: setuid(0), setresuid, setgid(0), setgroups([0]), capabilities', {
        skip: inVm && 'not cgroup-specific',
      }, async () => {
        const { escaped } = await attackCase(kind, 'regain-root', (n) => /^(set\w+0|capabilities)$/.test(n));
        assert.deepEqual(escaped, []);
        assert.deepEqual(await hostFine(kind), []);
      });

      test("leave the cgroup: pid into another executor's, the supervisor's, the parent's and the root cgroup.procs", async () => {
        const { escaped, picked } = await attackCase(kind, 'cgroup-move', (n) => n.startsWith('cgroup-move:'));
        assert.ok(
          picked.some(([n]) => n.endsWith(`${cgroupMounts()[0]}/cgroup.procs`)),
          'the root cgroup was tried',
        );
        // v1: another executor's, the supervisor's, the parent's and the root; v2 in the VM: the
        // supervisor sits in the root cgroup, so three distinct ones.
        if (kind === 'linux')
          assert.ok(picked.length >= (cgroupMounts().length > 1 ? 4 : 3), `several cgroups tried: ${picked.map(([n]) => n)}`);
        assert.deepEqual(escaped, []);
        assert.deepEqual(await hostFine(kind), []);
      });

      test('trace, signal or read the supervisor: ptrace attach/seize, kill(0), /proc/<pid>/mem and fd', {
        skip: inVm && 'not cgroup-specific',
      }, async () => {
        const { escaped } = await attackCase(kind, 'ptrace-supervisor', (n) =>
          /^(ptrace-|signal-supervisor|open-supervisor-mem|list-supervisor-fds)/.test(n),
        );
        assert.deepEqual(escaped, []);
        assert.ok(alive(process.pid));
        assert.deepEqual(await hostFine(kind), []);
      });

      test('a descriptor the supervisor holds without O_CLOEXEC is not inherited', {
        skip: inVm && 'not cgroup-specific',
        todo: known(kind, 'inherited-fd'),
      }, async () => {
        // universal: child_process (libuv) closes only O_CLOEXEC descriptors, and says so.
        const claim = command('true', [], opts()).enforced.closeFds;
        assert.ok(claim, 'enforced says whether inherited descriptors are closed');
        const { escaped } = await attackCase(kind, 'inherited-fd', (n) => n === 'inherited-fds', claim);
        assert.deepEqual(escaped, [], 'the child sees only fds 0-2');
        assert.deepEqual(await hostFine(kind), []);
      });

      test("the supervisor's secret environment: not in the child's environ, /proc/<supervisor>/environ unreadable", {
        skip: inVm && 'not cgroup-specific',
      }, async () => {
        const { escaped } = await attackCase(
          kind,
          'supervisor-env',
          (n) => n === 'secret-in-own-environ' || n === 'read-supervisor-environ',
        );
        assert.deepEqual(escaped, []);
        assert.deepEqual(await hostFine(kind), []);
      });

      test('a setuid-root binary does not give root back (no_new_privs)', { skip: inVm && 'not cgroup-specific' }, async () => {
        const ex = command(suidId, ['-u'], opts({ cwd: '/', stdio: ['ignore', 'pipe', 'ignore'] })).runAs(user.name);
        await ex.start();
        const [out] = await Promise.all([text(ex.stdout), ex.wait()]);
        const euid = Number(out.trim());
        const { whoami } = await attack(kind);
        const nnp = / nnp=1/.test(whoami);
        const note = ex.enforced.runAs?.note ?? '';
        const claimsNnp = /no_new_privs/.test(note);
        if (euid === user.uid) record(kind, 'setuid-binary', 'contained', `euid ${euid}, ${whoami}`);
        else if (claimsNnp) record(kind, 'setuid-binary', 'escaped', `euid ${euid} although runAs says: ${note}`);
        else
          record(
            kind,
            'setuid-binary',
            'declared',
            `euid ${euid}: runAs (${ex.enforced.runAs?.mechanism}) does not set no_new_privs: ${note}`,
          );
        if (claimsNnp) {
          assert.ok(nnp, `no_new_privs set: ${whoami}`);
          assert.equal(euid, user.uid, 'the setuid bit did not take effect');
        }
        assert.deepEqual(await hostFine(kind), []);
      });
    });
  }
});
