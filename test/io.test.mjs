// Disk IO limits per tree (issue 20), through the public API, on a real block device: a loop
// device over a file in a temp dir (losetup; detached and removed after), with a partition on
// it. Runs on the host's hierarchy (v1 blkio here) and in the pure v2 VM
// (`npm run test:cgroup2 -- test/io.test.mjs`; the VM has no disk, its kernel gets the loop
// module from scripts/cgroup2-vm.sh).
//
// Throughput is measured, never timed against a deadline: each throttled run moves 10 MiB (five
// seconds at 2 MiB/s, so timer and startup noise of a few ms cannot matter), the bytes are the
// ones the kernel counted for the tree (stats(): io.stat, blkio.throttle.io_service_bytes), and
// the elapsed time spans from before the start to after the run. Only an upper bound is
// asserted: a slower machine makes the run longer and the measured rate lower, so it can only
// pass more easily; a broken throttle lets dd run at the device's speed (hundreds of MB/s over a
// loop device), far above the bound.

import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { command, capabilities, ConfineArgumentError, UnenforcedError } from '../dist/index.mjs';
import { isLinux, isRoot, leftoverTestCgroups, require, until, zombieChildren } from './helpers.mjs';

const MiB = 2 ** 20;
const LIMIT = 2 * MiB;
/** The measured rate may exceed the limit by this factor (the throttle's first slice, rounding). */
const TOLERANCE = 1.5;
const cli = fileURLToPath(new URL('../dist/cli.js', import.meta.url));

function ioControllerHere() {
  if (!isLinux) return false;
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8').split('\n');
  if (mounts.some((l) => / - cgroup \S+ \S*\bblkio\b/.test(l))) return true;
  const v2 = mounts.find((l) => / - cgroup2 /.test(l))?.split(' ')[4];
  return v2 !== undefined && readFileSync(`${v2}/cgroup.controllers`, 'utf8').split(/\s+/).includes('io');
}

const caps = isLinux ? capabilities() : null;
const skip = !isLinux
  ? 'Linux only'
  : !isRoot
    ? 'needs root for cgroups and loop devices'
    : !caps.backends.includes('linux')
      ? `no linux backend: ${caps.reason}`
      : !ioControllerHere()
        ? 'no io (v2) or blkio (v1) controller in this kernel'
        : !existsSync('/dev/loop-control')
          ? 'no loop devices: the kernel has no loop driver'
          : false;

const opts = (o = {}) => ({ executor: 'linux', stdio: ['pipe', 'pipe', 'inherit'], ...o });
const cgroupOf = (ex) => JSON.parse(Buffer.from(ex.handle.split('.')[1], 'base64url').toString()).extra;
/** The tree's io (v2) or blkio (v1) directory. */
function ioDir(ex) {
  const { cgroup, cgroupVersion } = cgroupOf(ex);
  return cgroupVersion === 2 ? cgroup.unified : cgroup.blkio;
}

/** A sparse 64 MiB file for the loop device. Its one partition (1..33 MiB) is added with BLKPG
 * (addpart), which needs no partition-table parser in the kernel; the IO runs use the space after it. */
function diskImage(file) {
  const fd = openSync(file, 'w');
  writeSync(fd, Buffer.alloc(1), 0, 1, 64 * MiB - 1);
  closeSync(fd);
}
/** dd's offset, in 64 KiB blocks: past the partition. */
const PAST_PARTITION = (34 * MiB) / (64 * 1024);

/** Runs `ex` (which prints "done" when its IO is over) and measures it: bytes from the kernel. */
async function measure(ex, go) {
  const t0 = process.hrtime.bigint();
  if (go) go();
  else await ex.start();
  let out = '';
  ex.stdout.setEncoding('utf8');
  for await (const chunk of ex.stdout) {
    out += chunk;
    if (out.includes('done')) break;
  }
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const stats = await ex.stats();
  return { seconds, stats, out };
}

/**
 * A tree whose shell runs dd (after `read go` when `waitForGo`; then `andThen`), prints "done"
 * and stays.
 */
function ddTree(dd, { waitForGo = false, andThen = null } = {}) {
  const script = `${waitForGo ? 'read go; ' : ''}dd ${dd} 2>/dev/null; ${andThen ? `${andThen}; ` : ''}echo done; exec sleep 1000`;
  return command('sh', ['-c', script], opts());
}

/** Prints the measured rate and asserts its upper bound (limit × TOLERANCE). */
function assertRate(what, amount, seconds, limit, unit) {
  const rate = amount / seconds;
  const show = (v) => (unit === 'MiB/s' ? (v / MiB).toFixed(2) : v.toFixed(1));
  console.log(`# ${what}: limit ${show(limit)} ${unit}, measured ${show(rate)} ${unit} over ${seconds.toFixed(2)} s`);
  assert.ok(rate <= limit * TOLERANCE, `${what}: ${show(rate)} ${unit} under a limit of ${show(limit)} ${unit}`);
}

describe('disk IO limits', { skip }, () => {
  let dir;
  let loop;
  let part;
  let majMin;
  const mounted = [];
  /** How an enforced row names the loop device: "loop3 (7:3)". */
  const diskNamed = () => new RegExp(`${path.basename(loop)} \\(${majMin}\\)`);

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'confine-io-'));
    diskImage(path.join(dir, 'disk'));
    loop = execFileSync('losetup', ['-P', '-f', '--show', path.join(dir, 'disk')], { encoding: 'utf8' }).trim();
    execFileSync('addpart', [loop, '1', String(MiB / 512), String((32 * MiB) / 512)]);
    part = `${loop}p1`;
    majMin = readFileSync(`/sys/block/${path.basename(loop)}/dev`, 'utf8').trim();
    // devtmpfs makes the partition's node asynchronously.
    assert.ok(await until(() => existsSync(part), 10_000), `${part} appeared`);
  });

  after(() => {
    for (const m of mounted.reverse()) spawnSync('umount', [m]);
    if (loop) spawnSync('losetup', ['-d', loop]);
    if (dir) rmSync(dir, { recursive: true, force: true });
    assert.deepEqual(leftoverTestCgroups(), [], 'no task cgroup left behind');
    assert.deepEqual(zombieChildren(), []);
  });

  test('ioWriteBytesPerSecond 2 MiB/s: dd oflag=direct writes no faster, and stats() counts its bytes', async () => {
    const n = 160; // 10 MiB
    const ex = ddTree(`if=/dev/zero of=${loop} bs=64k count=${n} seek=${PAST_PARTITION} oflag=direct`).limit({
      ioWriteBytesPerSecond: { device: loop, rate: LIMIT },
    });
    const row = ex.enforced.ioWriteBytesPerSecond;
    assert.match(row.mechanism, /^cgroup[12]$/);
    assert.match(row.note, diskNamed());
    try {
      const { seconds, stats } = await measure(ex);
      assert.ok(stats.ioWriteBytes >= n * 64 * 1024, `the kernel counted ${stats.ioWriteBytes} bytes written`);
      assert.ok(stats.ioWriteOps >= n, `the kernel counted ${stats.ioWriteOps} writes`);
      assertRate(`writes (${row.mechanism})`, stats.ioWriteBytes, seconds, LIMIT, 'MiB/s');
    } finally {
      await ex.forceStop();
    }
  });

  test('v2: buffered writes are held too, their writeback charged to the tree', async (t) => {
    // dd through the page cache, then sync: the flusher writes the pages back. v2 does that in
    // the name of the cgroup that dirtied them (cgroup writeback), so under its limit; v1 cannot
    // (its enforced row says so), the flusher belongs to no blkio cgroup.
    const n = 160;
    const ex = ddTree(`if=/dev/zero of=${loop} bs=64k count=${n} seek=${PAST_PARTITION}`, { andThen: 'sync' }).limit({
      ioWriteBytesPerSecond: { device: loop, rate: LIMIT },
    });
    const row = ex.enforced.ioWriteBytesPerSecond;
    if (row.mechanism !== 'cgroup2') {
      assert.equal(row.enforced, false);
      assert.match(row.note, /buffered writes reach the disk from the kernel's flusher threads/);
      return t.skip('cgroup v1 cannot hold buffered writes; the enforced row says so');
    }
    assert.equal(row.enforced, true, row.note);
    try {
      const { seconds, stats } = await measure(ex);
      assert.ok(stats.ioWriteBytes >= n * 64 * 1024, `the kernel counted ${stats.ioWriteBytes} bytes written back for the tree`);
      assertRate('buffered writes and their writeback', stats.ioWriteBytes, seconds, LIMIT, 'MiB/s');
    } finally {
      await ex.forceStop();
    }
  });

  test('ioReadBytesPerSecond 2 MiB/s: dd iflag=direct reads no faster', async () => {
    const n = 160;
    const ex = ddTree(`if=${loop} of=/dev/null bs=64k count=${n} skip=${PAST_PARTITION} iflag=direct`).limit({
      ioReadBytesPerSecond: { device: majMin, rate: LIMIT },
    });
    assert.equal(ex.enforced.ioReadBytesPerSecond.enforced, true, ex.enforced.ioReadBytesPerSecond.note);
    try {
      const { seconds, stats } = await measure(ex);
      assert.ok(stats.ioReadBytes >= n * 64 * 1024, `the kernel counted ${stats.ioReadBytes} bytes read`);
      assertRate('reads', stats.ioReadBytes, seconds, LIMIT, 'MiB/s');
    } finally {
      await ex.forceStop();
    }
  });

  test('ioWriteOpsPerSecond 50: 4 KiB direct writes at no more than 50 a second', async () => {
    const n = 250; // five seconds at 50/s
    const iops = 50;
    const ex = ddTree(`if=/dev/zero of=${loop} bs=4k count=${n} seek=${PAST_PARTITION * 16} oflag=direct`).limit({
      ioWriteOpsPerSecond: [{ device: loop, rate: iops }],
    });
    try {
      const { seconds, stats } = await measure(ex);
      assert.ok(stats.ioWriteOps >= n, `the kernel counted ${stats.ioWriteOps} writes`);
      assertRate('write operations', stats.ioWriteOps, seconds, iops, '/s');
    } finally {
      await ex.forceStop();
    }
  });

  test('update() throttles a running tree that started without an IO limit', async () => {
    const n = 160;
    const ex = ddTree(`if=/dev/zero of=${loop} bs=64k count=${n} seek=${PAST_PARTITION} oflag=direct`, { waitForGo: true });
    await ex.start();
    try {
      // v1 and hybrid: a tree without an IO limit is in no blkio directory (one mkdir, migration
      // and rmdir less per spawn); update() joins it to one.
      const v1 = cgroupOf(ex).cgroupVersion === 1;
      if (v1) assert.equal(cgroupOf(ex).cgroup.blkio, undefined);
      const result = await ex.update({ ioWriteBytesPerSecond: { device: loop, rate: LIMIT } });
      if (v1) assert.ok(existsSync(path.join(cgroupOf(ex).cgroup.blkio, 'blkio.throttle.write_bps_device')));
      assert.match(result.ioWriteBytesPerSecond.mechanism, /^cgroup[12]$/, result.ioWriteBytesPerSecond.note);
      assert.match(ex.enforced.ioWriteBytesPerSecond.note, new RegExp(majMin));
      const { seconds, stats } = await measure(ex, () => ex.stdin.write('go\n'));
      assert.ok(stats.ioWriteBytes >= n * 64 * 1024, `the kernel counted ${stats.ioWriteBytes} bytes written`);
      assertRate('writes, limit set by update()', stats.ioWriteBytes, seconds, LIMIT, 'MiB/s');
    } finally {
      await ex.forceStop();
    }
  });

  test("update() changes and lifts a running tree's limit, in the kernel's own file", async () => {
    const ex = command('sleep', ['1000'], opts()).limit({ ioWriteBytesPerSecond: { device: loop, rate: LIMIT } });
    await ex.start();
    try {
      const v2 = cgroupOf(ex).cgroupVersion === 2;
      const file = path.join(ioDir(ex), v2 ? 'io.max' : 'blkio.throttle.write_bps_device');
      const line = () =>
        readFileSync(file, 'utf8')
          .split('\n')
          .find((l) => l.startsWith(`${majMin} `)) ?? null;
      const limitOf = () => {
        const l = line();
        if (l === null) return null;
        return v2 ? (/wbps=(\S+)/.exec(l)?.[1] ?? null) : l.split(' ')[1];
      };
      assert.equal(limitOf(), String(LIMIT));
      await ex.update({ ioWriteBytesPerSecond: { device: part, rate: MiB } }); // the partition: its disk
      assert.equal(limitOf(), String(MiB));
      await ex.update({ ioWriteBytesPerSecond: { device: loop, rate: Infinity } });
      assert.equal(limitOf(), null, `no write limit left on ${majMin}: ${line()}`);
    } finally {
      await ex.forceStop();
    }
  });

  test('a partition, and a path on a filesystem of that partition, mean the whole disk', async (t) => {
    const ex = command('sleep', ['1000'], opts()).limit({ ioReadBytesPerSecond: { device: part, rate: 3 * MiB } });
    assert.match(ex.enforced.ioReadBytesPerSecond.note, new RegExp(`partition ${path.basename(part)} of ${path.basename(loop)}`));
    await ex.start();
    try {
      const v2 = cgroupOf(ex).cgroupVersion === 2;
      const text = readFileSync(path.join(ioDir(ex), v2 ? 'io.max' : 'blkio.throttle.read_bps_device'), 'utf8');
      assert.match(text, new RegExp(`^${majMin} ${v2 ? 'rbps=' : ''}${3 * MiB}\\b`, 'm'));
    } finally {
      await ex.forceStop();
    }
    const mnt = path.join(dir, 'mnt');
    mkdirSync(mnt);
    const mkfs = spawnSync('mkfs.ext4', ['-q', '-F', part], { encoding: 'utf8' });
    if (mkfs.error) return t.skip('no mkfs.ext4 here');
    assert.equal(mkfs.status, 0, mkfs.stderr);
    const mount = spawnSync('mount', ['-t', 'ext4', part, mnt], { encoding: 'utf8' });
    if (mount.status !== 0 && /unknown filesystem type/.test(mount.stderr)) return t.skip('this kernel has no ext4');
    assert.equal(mount.status, 0, mount.stderr);
    mounted.push(mnt);
    const onIt = command('true', [], opts()).limit({ ioReadBytesPerSecond: { device: path.join(mnt, 'lost+found'), rate: MiB } });
    assert.equal(onIt.enforced.ioReadBytesPerSecond.enforced, true, onIt.enforced.ioReadBytesPerSecond.note);
    assert.match(onIt.enforced.ioReadBytesPerSecond.note, diskNamed());
  });

  test('devices without a disk are reported not enforced, with the reason; strict refuses them', async () => {
    const mem = path.join(dir, 'tmpfs');
    mkdirSync(mem);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'confine-test', mem]);
    mounted.push(mem);
    const ex = command('true', [], opts()).limit({
      ioWriteBytesPerSecond: [
        { device: loop, rate: LIMIT },
        { device: mem, rate: LIMIT },
      ],
      ioReadBytesPerSecond: { device: '1:3', rate: LIMIT }, // /dev/null: a character device
    });
    const w = ex.enforced.ioWriteBytesPerSecond;
    assert.equal(w.enforced, false);
    assert.match(w.note, new RegExp(`not limited: "${mem}": ${mem} is on tmpfs`));
    assert.match(w.note, diskNamed(), 'the disk that is limited is named too');
    assert.equal(ex.enforced.ioReadBytesPerSecond.enforced, false);
    assert.match(ex.enforced.ioReadBytesPerSecond.note, /character device/);

    const strict = command('true', [], opts({ strict: true })).limit({ ioReadBytesPerSecond: { device: mem, rate: LIMIT } });
    await assert.rejects(strict.start(), (e) => {
      assert.ok(e instanceof UnenforcedError, `${e?.name}: ${e?.message}`);
      assert.match(e.message, /ioReadBytesPerSecond.*tmpfs/);
      return true;
    });
    assert.deepEqual(leftoverTestCgroups(), []);
  });

  test('a bad device, a rate of 0, a negative or NaN rate: typed errors before anything starts', async () => {
    const bad = [
      [{ device: path.join(dir, 'no-such-file'), rate: LIMIT }, /no-such-file: ENOENT/],
      [{ device: '4095:1048575', rate: LIMIT }, /no block device 4095:1048575/],
      [{ device: 'vda', rate: LIMIT }, /MAJ:MIN, a \/dev node or an absolute path/],
      [{ device: '', rate: LIMIT }, /device must not be empty/],
      [{ device: loop, rate: 0 }, /rate must be an integer between 1/],
      [{ device: loop, rate: -1 }, /rate must be an integer between 1/],
      [{ device: loop, rate: Number.NaN }, /got NaN/],
      [{ device: loop, rate: 1.5 }, /got 1.5/],
      [{ device: loop, rate: '2M' }, /got 2M/],
      [{ device: loop }, /got undefined/],
      [{ device: loop, rate: LIMIT, bps: 1 }, /unknown key "bps"/],
      [[], /at least one/],
      [loop, /must be \{ device, rate \}/],
      [
        [
          { device: loop, rate: LIMIT },
          { device: majMin, rate: LIMIT },
        ],
        /are both the disk/,
      ],
    ];
    for (const [value, pattern] of bad) {
      assert.throws(
        () => command('true').limit({ ioWriteBytesPerSecond: value }),
        (e) => e instanceof ConfineArgumentError && e.code === 'ERR_CONFINE_INVALID_ARGUMENT' && pattern.test(e.message),
        `limit(${JSON.stringify(value)})`,
      );
    }
    for (const w of [0, -1, Number.NaN, 10001, 2.5]) {
      assert.throws(() => command('true').limit({ ioWeight: w }), ConfineArgumentError, `ioWeight ${w}`);
    }
    // A running tree: refused before its cgroup is touched.
    const ex = command('sleep', ['1000'], opts()).limit({ ioWriteBytesPerSecond: { device: loop, rate: LIMIT } });
    await ex.start();
    try {
      const v2 = cgroupOf(ex).cgroupVersion === 2;
      const file = path.join(ioDir(ex), v2 ? 'io.max' : 'blkio.throttle.write_bps_device');
      const before = readFileSync(file, 'utf8');
      for (const [value] of bad) await assert.rejects(ex.update({ ioWriteBytesPerSecond: value }), ConfineArgumentError);
      assert.equal(readFileSync(file, 'utf8'), before);
    } finally {
      await ex.forceStop();
    }
    assert.deepEqual(leftoverTestCgroups(), []);
    assert.deepEqual(zombieChildren(), []);
  });

  test('ioWeight: written scaled to each weight file the kernel has, and enforced only where a disk shares by weight', async () => {
    const v2root = readFileSync('/proc/self/mountinfo', 'utf8')
      .split('\n')
      .find((l) => / - cgroup2 /.test(l))
      ?.split(' ')[4];
    const qos = v2root && existsSync(`${v2root}/io.cost.qos`) ? `${v2root}/io.cost.qos` : null;
    // On a v2 host with iocost, turn it on for our own loop device: the weight then has a disk.
    const ex0 = command('true', [], opts()).limit({ ioWeight: 500 });
    const iocost = qos !== null && ex0.enforced.ioWeight.mechanism === 'cgroup2';
    if (iocost) execFileSync('sh', ['-c', `echo "${majMin} enable=1" > ${qos}`]);
    try {
      const ex = command('sleep', ['1000'], opts()).limit({ ioWeight: 500 });
      const row = ex.enforced.ioWeight;
      await ex.start();
      try {
        const d = ioDir(ex);
        const expect = {
          'io.weight': '500',
          'io.bfq.weight': '136', // 100 + 400 * 900 / 9900, rounded
          'blkio.bfq.weight': '136',
          'blkio.weight': '520', // 500 + 400 * 500 / 9900, rounded
        };
        const present = Object.keys(expect).filter((f) => existsSync(path.join(d, f)));
        for (const f of present) {
          const text = readFileSync(path.join(d, f), 'utf8');
          assert.match(text, new RegExp(`^(default )?${expect[f]}$`, 'm'), `${f}: ${text}`);
        }
        if (present.length === 0) {
          assert.equal(row.enforced, false);
          assert.match(row.note, /no blkio.weight|neither iocost/);
        } else {
          for (const f of present) assert.match(row.note, new RegExp(f.replace('.', '\\.')));
        }
        if (iocost) {
          assert.equal(row.enforced, true, row.note);
          assert.match(row.note, new RegExp(`${path.basename(loop)} \\(iocost\\)`));
        }
      } finally {
        await ex.forceStop();
      }
    } finally {
      if (iocost) execFileSync('sh', ['-c', `echo "${majMin} enable=0" > ${qos}`]);
    }
  });

  test('confine run --io-write-bps DEV:SIZE --io-weight N, and its usage errors', () => {
    const run = (args) =>
      spawnSync(process.execPath, [cli, 'run', ...args], { encoding: 'utf8', timeout: 60_000, env: process.env });
    const ok = run([
      '--io-write-bps',
      `${loop}:2M`,
      '--io-read-iops',
      `${majMin}:100`,
      '--io-weight',
      '200',
      '--report',
      '--json',
      '--',
      'true',
    ]);
    assert.equal(ok.status, 0, ok.stderr);
    const report = JSON.parse(ok.stderr.trim().split('\n').at(-1));
    assert.match(report.enforced.ioWriteBytesPerSecond.note, diskNamed());
    assert.match(report.enforced.ioReadOpsPerSecond.mechanism, /^cgroup[12]$/);
    assert.ok(report.enforced.ioWeight);
    const usage = run(['--io-write-bps', 'no-rate', '--', 'true']);
    assert.equal(usage.status, 2, usage.stderr);
    assert.match(usage.stderr, /--io-write-bps: expected DEVICE:RATE/);
    // A value the API refuses is bad usage too (issue 15): exit 2, worded in the flag.
    const zero = run(['--io-write-bps', `${loop}:0`, '--', 'true']);
    assert.equal(zero.status, 2, zero.stderr);
    assert.match(zero.stderr, /^confine: --io-write-bps #1: rate must be an integer between 1/m);
  });
});

// Disk space (the seed's DiskMB): a sized tmp of isolate() is a tmpfs mounted with tmpfsData()'s
// data. isolate() itself lands with issue 16; here the size's two promises are checked on a tmpfs
// mounted the same way: a write past it fails with ENOSPC, and its pages are charged to the
// memory cgroup of the tree that wrote them.
describe('disk space: a sized tmp', () => {
  const { tmpMounts, tmpfsData } = require('../dist/isolation/tmp-size.js');

  test('entries are a path or { path, sizeBytes }; a bad size is a typed error', () => {
    assert.deepEqual(tmpMounts('filesystem.tmp', ['/tmp', { path: '/scratch', sizeBytes: MiB }, { path: '/x' }]), [
      { path: '/tmp', sizeBytes: null },
      { path: '/scratch', sizeBytes: MiB },
      { path: '/x', sizeBytes: null },
    ]);
    assert.equal(tmpfsData({ path: '/scratch', sizeBytes: MiB }), `mode=1777,size=${MiB}`);
    assert.equal(tmpfsData({ path: '/tmp', sizeBytes: null }), 'mode=1777');
    for (const bad of [0, -1, Number.NaN, 1.5, '1M', Number.POSITIVE_INFINITY, 2 ** 51]) {
      assert.throws(
        () => tmpMounts('filesystem.tmp', [{ path: '/s', sizeBytes: bad }]),
        (e) => e instanceof ConfineArgumentError && /filesystem\.tmp\[0\]\.sizeBytes must be an integer/.test(e.message),
        String(bad),
      );
    }
    assert.throws(() => tmpMounts('filesystem.tmp', [{ path: '/s', size: MiB }]), /unknown key "size"/);
    assert.throws(() => tmpMounts('filesystem.tmp', [42]), ConfineArgumentError);
    assert.throws(() => tmpMounts('filesystem.tmp', '/tmp'), ConfineArgumentError);
  });

  test('a write past the size fails with ENOSPC, and the pages are charged to the tree', { skip }, async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'confine-tmp-'));
    const mnt = path.join(dir, 'tmp');
    mkdirSync(mnt);
    const size = 16 * MiB;
    execFileSync('mount', ['-t', 'tmpfs', '-o', tmpfsData({ path: mnt, sizeBytes: size }), 'confine-test', mnt]);
    try {
      const ex = command(
        'sh',
        ['-c', `dd if=/dev/zero of=${mnt}/f bs=1M count=24 2>&1; echo done; exec sleep 1000`],
        opts(),
      ).limit({ memoryBytes: 256 * MiB });
      try {
        const { out, stats } = await measure(ex);
        assert.match(out, /No space left on device/);
        assert.equal(statSync(`${mnt}/f`).size, size);
        assert.ok(stats.memoryBytes >= size, `the tree's cgroup holds ${stats.memoryBytes} bytes, the tmpfs ${size}`);
      } finally {
        await ex.forceStop();
      }
    } finally {
      spawnSync('umount', [mnt]);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
