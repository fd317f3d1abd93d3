// The isolation section of the spawn benchmark (bench/run.mjs calls it at both supervisor sizes):
// confine's isolate() preset against bubblewrap doing the same isolation, spawned from the C
// floor program and from child_process, in turns (as the main section); and, at the small size,
// the cost of each step (each namespace, the view's mounts and pivot_root, the init) measured
// through the addon alone.
//
// bubblewrap comes from Debian's `bubblewrap` package, installed here with apt-get when missing.
// Its command line does what the preset does: every namespace (`--unshare-all`), a new session,
// death with its parent, /usr and /etc read-only with the host's usr-merge links, the work
// directory read-write, `--proc /proc`, `--dev /dev`, `--tmpfs /tmp`, the hostname.

import { execFileSync, spawn as cpSpawn } from 'node:child_process';
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ROUND_WARMUP_SPAWNS, ensureDebianTool, f3, jitWarmUp, hr, measureConc, measureSeq, median, ms, quantile, ratio, shuffled, startFloor } from './common.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const DIST = path.join(HERE, '..', 'dist');
const require = createRequire(import.meta.url);
const PROGRAM = '/bin/true';
const CONC = 64;

/** bwrap's path, installing Debian's package when it is missing; null with the reason where it cannot. */
export function ensureBwrap(log = console.log) {
  const { path: bwrap, reason } = ensureDebianTool('bubblewrap', ['/usr/bin/bwrap', '/bin/bwrap'], log);
  return { bwrap, reason };
}

/** bwrap's arguments for the preset's view of workDir, ending with the program. */
export function bwrapArgs(workDir) {
  const args = ['--unshare-all', '--die-with-parent', '--new-session', '--ro-bind', '/usr', '/usr', '--ro-bind', '/etc', '/etc'];
  for (const l of ['/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32']) {
    try {
      if (fs.lstatSync(l).isSymbolicLink()) args.push('--symlink', fs.readlinkSync(l), l);
      else args.push('--ro-bind', l, l);
    } catch {
      /* not on this host */
    }
  }
  // In bwrap's order of operations the tmpfs comes before a bind inside it (the work directory).
  args.push('--proc', '/proc', '--dev', '/dev', '--tmpfs', '/tmp', '--bind', workDir, workDir, '--chdir', workDir, '--hostname', 'sandbox', PROGRAM);
  return args;
}

/** The variants of the comparison; `run` spawns one and waits for its exit (none: the C floor's). */
function variants(command, workDir, bwrap) {
  const confine = (isolate) => async () => {
    const ex = command(PROGRAM, [], { cwd: workDir, stdio: 'ignore' });
    if (isolate) ex.isolate();
    await ex.start();
    const st = await ex.wait();
    if (st.exitCode !== 0) throw new Error(`confine${isolate ? ' isolated' : ''}: exit ${st.exitCode} ${st.signal}`);
  };
  const out = [
    { id: 'iso', label: 'confine isolate() preset (linux backend)', run: confine(true) },
    { id: 'linux', label: 'confine, no isolation (linux backend)', run: confine(false) },
  ];
  if (bwrap) {
    const args = bwrapArgs(workDir);
    out.push(
      {
        id: 'bwrap-cp',
        label: 'bwrap, same isolation, from child_process.spawn',
        run: () =>
          new Promise((resolve, reject) => {
            const c = cpSpawn(bwrap, args, { stdio: 'ignore' });
            c.once('error', reject);
            c.once('exit', (code, sig) => (code === 0 ? resolve() : reject(new Error(`bwrap: exit ${code} ${sig}`))));
          }),
      },
      { id: 'bwrap-floor', label: 'bwrap, same isolation, from the C posix_spawn loop', floor: { program: bwrap, args } },
    );
  }
  out.push({ id: 'floor', label: 'C posix_spawn loop, no isolation (floor)', floor: { program: PROGRAM, args: [] } });
  return out;
}

/**
 * Every variant at the current supervisor size, in turns, seq and c64. `floorBin`: the compiled
 * bench/posix_spawn_floor.c; `rssMb`: the floor's ballast (the supervisor's size).
 */
export async function measureIsolation({ size, rssMb, floorBin, scale = 1, jitWarm = 0, log = console.log }) {
  const { command } = await import(path.join(DIST, 'index.mjs'));
  // The preset's syscalls and capabilities are not enforced until issue 17: one warning each per
  // start, which would flood the output here.
  const warnings = process.listeners('warning');
  process.removeAllListeners('warning');
  const { bwrap, reason } = ensureBwrap(log);
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'confine-bench-iso-'));
  const vs = variants(command, workDir, bwrap);
  const floors = {};
  const acc = {};
  const s = (x) => Math.max(4, Math.round(x * scale));
  const counts = (v) => (v.floor ? { seq: s(100), conc: s(256), warm: 10 } : { seq: s(30), conc: s(96), warm: 5 });
  const rounds = { seq: 5, conc: 3 };
  const t0 = hr();
  let isoWarm = null;
  try {
    for (const v of vs) {
      acc[v.id] = { seq: { perRound: [], lat: [] }, conc: { perRound: [] } };
      if (v.floor) floors[v.id] = startFloor(floorBin, v.floor.program, v.floor.args, CONC, rssMb);
    }
    // The floors' ballast faulted in first (startFloor), then the Node variants' warm-up.
    await Promise.all(Object.values(floors).map((f) => f.ready()));
    for (const v of vs) if (!v.floor) for (let i = 0; i < counts(v).warm; i++) await v.run();
    // The isolated path's own code (lib/isolation) has not run yet: its JIT warm-up, as every
    // Node variant's in run.mjs (the others share code already warm from there).
    isoWarm = (await jitWarmUp(vs.filter((v) => v.id === 'iso'), jitWarm)).iso ?? null;
    if (isoWarm) log(`  JIT warm-up of the isolated path: ${jitWarm} spawns, first tenth ${f3(isoWarm.firstMs)} ms/spawn, last tenth ${f3(isoWarm.lastMs)}`);
    for (const mode of ['seq', 'conc']) {
      for (let r = 0; r < rounds[mode]; r++) {
        for (const v of shuffled(vs, r + (mode === 'conc' ? 100 : 0))) {
          const n = counts(v)[mode];
          const x = v.floor
            ? await floors[v.id].round(mode, n, r === 0 ? counts(v).warm : ROUND_WARMUP_SPAWNS)
            : mode === 'seq'
              ? await measureSeq(v.run, n, 1, ROUND_WARMUP_SPAWNS)
              : await measureConc(v.run, n, CONC, 1, ROUND_WARMUP_SPAWNS);
          acc[v.id][mode].perRound.push(...x.perRound);
          if (mode === 'seq') acc[v.id].seq.lat.push(...x.lat);
        }
      }
    }
    for (const f of Object.values(floors)) await f.close();
  } finally {
    for (const f of Object.values(floors)) f.kill();
    fs.rmSync(workDir, { recursive: true, force: true });
    for (const w of warnings) process.on('warning', w);
  }
  const out = { size, bwrapReason: reason, jitWarm: isoWarm, variants: vs.map(({ id, label }) => ({ id, label })), rows: {} };
  for (const v of vs) {
    const { seq, conc } = acc[v.id];
    out.rows[v.id] = {
      seq: { med: median(seq.perRound), p90: quantile(seq.lat, 0.9) },
      conc: { med: median(conc.perRound) },
    };
    log(`  ${size} ${v.id.padEnd(12)} seq ${f3(out.rows[v.id].seq.med)} ms  c64 ${f3(out.rows[v.id].conc.med)} ms/spawn`);
  }
  log(`  ${size} isolation variants, in turns: ${(ms(t0, hr()) / 1000).toFixed(1)} s`);
  return out;
}

/**
 * The cost of each isolation step: the addon's spawn of /bin/true with one part of the request
 * at a time, in turns, spawn() returning and spawn→exit, each minus the plain spawn.
 */
export async function measureIsolationSteps({ n = 60, log = console.log } = {}) {
  const addon = require(path.join(DIST, 'loader.js')).posixAddon();
  const iso = require(path.join(DIST, 'isolation', 'index.js'));
  const { presetFilesystem } = require(path.join(DIST, 'isolation', 'preset.js'));
  if (!addon?.probeIsolation) return null;
  const support = iso.isolationSupport();
  if (support.mechanism === 'none') return { skipped: support.reason };
  const user = support.viaUserNamespace;
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'confine-bench-iso-'));
  const view = iso.View.build(presetFilesystem(workDir), 'fresh').mounts;
  const initFd = iso.openInit();
  const base = { user, spares: false };
  const presetRequest = requestOfPreset(iso, support, workDir);
  const steps = [
    { id: 'plain', label: 'no isolation (the addon alone)', req: null },
    ...(user ? [{ id: 'user', label: 'user namespace (own uid/gid maps)', req: { ...base } }] : []),
    { id: 'net', label: 'network namespace (lo down)', req: { ...base, net: true } },
    ...(user ? [] : [{ id: 'net-spare', label: 'network namespace, a spare joined with setns', req: { ...base, net: true, spares: true } }]),
    { id: 'loopback', label: 'network namespace + lo up', req: { ...base, net: true, loopback: true } },
    { id: 'ipc', label: 'IPC namespace', req: { ...base, ipc: true } },
    ...(user ? [] : [{ id: 'ipc-spare', label: 'IPC namespace, a spare joined with setns', req: { ...base, ipc: true, spares: true } }]),
    { id: 'uts', label: 'UTS namespace + sethostname', req: { ...base, uts: true, hostname: 'sandbox' } },
    { id: 'mount', label: 'mount namespace alone', req: { ...base, mount: true } },
    {
      id: 'view',
      label: `the view: mount namespace, ${view.length} mounts and links, two pivot_root, old root detached`,
      req: { ...base, mount: true, newRoot: true, mounts: view.map((m) => (m.kind === 'proc' ? { kind: 'bind', target: '/proc', source: '/proc' } : m)) },
    },
    {
      id: 'pid',
      label: "pid namespace + fresh /proc + the init (exec, vfork, status pipe); spawn() returns at the init's exec",
      req: { ...base, pid: true, mount: true, mounts: [{ kind: 'proc', target: '/proc' }] },
    },
    {
      id: 'all',
      label: "everything: the preset (as spawned by the linux backend: spawn() returns at the init's exec)",
      req: { ...base, spares: !user, mount: true, newRoot: true, mounts: view, pid: true, net: true, ipc: true, uts: true, hostname: 'sandbox' },
    },
    {
      id: 'all-sync',
      label: "the same, spawn() returning at the program's exec (the error pipe read to EOF in spawn())",
      sync: true,
      req: { ...base, spares: !user, mount: true, newRoot: true, mounts: view, pid: true, net: true, ipc: true, uts: true, hostname: 'sandbox' },
    },
    {
      id: 'request',
      label:
        "the preset's whole request as the linux backend makes it, without its cgroup: everything, plus /proc's kernel files read-only for a root child and the kernel guards (the filter, capabilities, no_new_privs, Landlock on top as root)",
      req: presetRequest.isolation,
      extra: presetRequest.guards,
    },
  ];
  const devNull = () => [0, 1, 2].map((j) => addon.openDevNull(j === 0 ? fs.constants.O_RDONLY : fs.constants.O_WRONLY));
  const once = async (req, sync, extra = {}) => {
    const stdio = devNull();
    let status = [-1, -1];
    const isolation = req ? { ...req } : null;
    if (isolation?.pid) {
      status = addon.pipe();
      isolation.initFd = initFd;
      isolation.statusFd = status[1];
    }
    const a = hr();
    // With the init the linux backend has spawn() return once the init runs and learns the
    // program's exec from the error pipe on the loop (watchStart).
    const startAsync = isolation?.pid === true && !sync;
    const { pid, pidfd, errorFd } = addon.spawn({ file: PROGRAM, argv: [PROGRAM], envp: [], cwd: workDir, stdio, setsid: true, isolation, startAsync, ...extra });
    const b = hr();
    const execd = errorFd >= 0 ? new Promise((resolve) => addon.watchStart(pid, errorFd, PROGRAM, resolve)) : null;
    for (const fd of stdio) addon.close(fd);
    if (status[1] >= 0) addon.close(status[1]);
    const c = await new Promise((resolve) => addon.watch(pid, pidfd, () => resolve(hr())));
    if (execd && (await execd) !== null) throw new Error('the program did not start');
    addon.close(pidfd);
    if (status[0] >= 0) addon.close(status[0]);
    return { spawn: ms(a, b), total: ms(a, c) };
  };
  const acc = Object.fromEntries(steps.map((s) => [s.id, { spawn: [], total: [] }]));
  try {
    for (const s of steps) for (let i = 0; i < 5; i++) await once(s.req, s.sync, s.extra);
    for (let r = 0; r < 5; r++) {
      for (const s of shuffled(steps, r + 200)) {
        for (let i = 0; i < Math.max(4, Math.round(n / 5)); i++) {
          const x = await once(s.req, s.sync, s.extra);
          acc[s.id].spawn.push(x.spawn);
          acc[s.id].total.push(x.total);
        }
      }
    }
  } finally {
    fs.rmSync(workDir, { recursive: true, force: true });
  }
  const plain = { spawn: median(acc.plain.spawn), total: median(acc.plain.total) };
  const rows = steps.map((s) => {
    const spawn = median(acc[s.id].spawn);
    const total = median(acc[s.id].total);
    return { id: s.id, label: s.label, spawn, total, addedSpawn: spawn - plain.spawn, addedTotal: total - plain.total };
  });
  for (const r of rows) log(`  step ${r.id.padEnd(10)} spawn() ${f3(r.spawn)} ms (+${f3(r.addedSpawn)})  to exit ${f3(r.total)} ms (+${f3(r.addedTotal)})`);
  return { user, rows };
}

/** The addon's isolation and guard fields for the preset in workDir, made by the package's own code (the init's fds filled in per spawn). */
function requestOfPreset(iso, support, workDir) {
  const guards = require(path.join(DIST, 'isolation', 'guards.js'));
  const uid = process.getuid();
  const child = { childIsRoot: uid === 0, childUid: uid };
  const spec = iso.concreteSpec({ preset: true, overrides: {} }, workDir);
  const enforced = iso.isolationEnforcement(spec, 'linux', () => support, child, 'auto'); // the mode of the guards below
  const view = iso.View.build(spec.filesystem, 'fresh');
  const isolation = iso.nativeIsolationRequest(spec, enforced, view, support, { initFd: -1, statusFd: -1 }, child.childIsRoot);
  const g = guards.nativeGuardRequest(spec, enforced, view, guards.supportUnder(support, 'auto'), {
    ...child,
    uid,
    gid: process.getgid(),
    initPath: support.init.path,
  });
  if (g.privateTmp) fs.rmSync(g.privateTmp, { recursive: true, force: true }); // the namespace path makes none; never leave one
  return { isolation, guards: { capabilities: g.capabilities, seccomp: g.seccomp, landlock: g.landlock, noNewPrivs: g.noNewPrivs } };
}

// ---- report ------------------------------------------------------------------------------------

export function isolationTable(res, sizeLabel) {
  const bf = res.rows['bwrap-floor'];
  const lines = [
    `| ${sizeLabel} | seq median ms/spawn | seq p90 ms | seq ×bwrap from C | c64 median ms/spawn | c64 ×bwrap from C |`,
    '|---|---:|---:|---:|---:|---:|',
  ];
  for (const v of res.variants) {
    const r = res.rows[v.id];
    lines.push(
      `| ${v.label} | ${f3(r.seq.med)} | ${f3(r.seq.p90)} | ${bf ? ratio(r.seq.med / bf.seq.med) : 'n/a'} | ${f3(r.conc.med)} | ${bf ? ratio(r.conc.med / bf.conc.med) : 'n/a'} |`,
    );
  }
  return lines.join('\n');
}

/** Target rows: isolated spawn ≤ 0.5× bwrap from C, at each size and mode. */
export function isolationTargets(small, big, add) {
  for (const [res, sz] of [
    [small, '50 MB'],
    [big, '2 GB'],
  ]) {
    if (!res) continue;
    const bf = res.rows['bwrap-floor'];
    for (const mode of ['seq', 'conc']) {
      const m = mode === 'seq' ? 'seq' : 'c64';
      if (!bf) {
        add('isolated spawn ≤ 0.5× bwrap from C', `${m}, ${sz}`, `no bwrap: ${res.bwrapReason}`, false);
        continue;
      }
      const x = res.rows.iso[mode].med / bf[mode].med;
      add('isolated spawn ≤ 0.5× bwrap from C', `isolate() preset, ${m}, ${sz}`, `${ratio(x)}× (${f3(res.rows.iso[mode].med)} vs ${f3(bf[mode].med)} ms)`, x <= 0.5);
    }
  }
}

export function stepsTable(steps) {
  if (!steps) return '_the addon has no isolation here: skipped_';
  if (steps.skipped) return `_skipped: ${steps.skipped}_`;
  const lines = ['| step | spawn() returns, ms | added | spawn → exit, ms | added |', '|---|---:|---:|---:|---:|'];
  for (const r of steps.rows)
    lines.push(`| ${r.label} | ${f3(r.spawn)} | ${r.id === 'plain' ? '' : `+${f3(r.addedSpawn)}`} | ${f3(r.total)} | ${r.id === 'plain' ? '' : `+${f3(r.addedTotal)}`} |`);
  return lines.join('\n');
}

export function isolationDescription() {
  return (
    '- **Isolation**: confine `command(\'/bin/true\', [], { cwd: workDir, stdio: \'ignore\' }).isolate()` (the preset: /usr, /etc and the usr-merge links read-only, the work directory ' +
    'read-write, a private /tmp, /proc of its own pid namespace with confine-init as pid 1, a minimal /dev, no network, its own IPC and hostname; no runAs, no limits) against ' +
    '`bwrap --unshare-all --die-with-parent --new-session` with the same binds, `--proc /proc`, `--dev /dev`, `--tmpfs /tmp`, `--hostname sandbox` (Debian\'s `bubblewrap`, ' +
    'installed by the benchmark), spawned by the C floor program and by `child_process.spawn`, all in turns as above. ×bwrap from C: the median divided by bwrap-from-C\'s of the same mode. ' +
    'The steps table spawns /bin/true through the addon with one part of the isolation request at a time (no cgroup, no identity), in turns; "added" is the difference to the plain spawn. ' +
    'With the pid namespace spawn() returns at the init\'s exec, as the linux backend spawns (the program\'s exec is read from the error pipe on the loop); ' +
    'the last row is the same request with spawn() reading the pipe to EOF itself, returning at the program\'s exec. ' +
    'The view\'s row binds the host\'s /proc instead of mounting a fresh one (a fresh /proc needs the pid namespace: that is the pid row). ' +
    'The request row is the addon\'s request as lib/isolation makes it for the preset (the kernel guards included): what the isolated API spawn asks of the kernel, less its cgroup.'
  );
}

/** For `node bench/isolation.mjs`: the comparison at the current size and the steps, printed. */
if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'confine-bench-'));
  const floorBin = path.join(dir, 'posix_spawn_floor');
  try {
    execFileSync('cc', ['-O2', '-o', floorBin, path.join(HERE, 'posix_spawn_floor.c')], { stdio: 'inherit' });
    const scale = Number(process.env.BENCH_SCALE ?? 1) || 1;
    const res = await measureIsolation({ size: 'small', rssMb: 0, floorBin, scale });
    console.log(isolationTable(res, '~50 MB'));
    console.log(stepsTable(await measureIsolationSteps({ n: Math.round(60 * scale) })));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
