// Limits a new user gets wrong, explained before anything starts instead of a raw host error or
// a silent failure: memory too small for any program to start, a CPU list the host does not
// have, openFiles above the kernel's fs.nr_open, a cgroupParent that is not a clean absolute
// path, and the strict message that named each limit twice.

import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, readdirSync, rmdirSync, writeFileSync } from 'node:fs';
import { command, ConfineArgumentError, UnenforcedError } from '../dist/index.mjs';
import { availableKinds, isLinux, isRoot, cgroupMounts, testCgroupParent, zombieChildren } from './helpers.mjs';

const kinds = await availableKinds();
const ARG = 'ERR_CONFINE_INVALID_ARGUMENT';

function throwsArg(fn, pattern) {
  assert.throws(fn, (e) => {
    assert.ok(e instanceof ConfineArgumentError, `${e?.name}: ${e?.message}`);
    assert.equal(e.code, ARG);
    assert.match(e.message, pattern);
    return true;
  });
}

describe('memoryBytes below what any program needs to start', () => {
  test('refused by limit() and update(), saying why', async () => {
    for (const bytes of [1, 1024, 4096, 64 * 1024]) {
      throwsArg(() => command('true').limit({ memoryBytes: bytes }), /memoryBytes.*at least 1048576.*exec/s);
    }
    const ex = command('sleep', ['30'], { stdio: 'ignore' });
    await ex.start();
    try {
      await assert.rejects(ex.update({ memoryBytes: 4096 }), ConfineArgumentError);
    } finally {
      await ex.forceStop();
    }
  });
  test('1 MiB is accepted', () => {
    assert.doesNotThrow(() => command('true').limit({ memoryBytes: 2 ** 20 }));
  });
});

describe('cpus the host does not have', { skip: !isLinux && 'Linux CPU lists' }, () => {
  const online = readFileSync('/sys/devices/system/cpu/online', 'utf8').trim();
  test('refused by limit(), naming the CPUs that are online', () => {
    throwsArg(() => command('true').limit({ cpus: '9000-9099' }), new RegExp(`cpus.*9000-9099.*online.*${online}`));
  });
  test('a CPU that is online is accepted', () => {
    assert.doesNotThrow(() => command('true').limit({ cpus: online }));
  });
});

describe('cpus the cgroup parent cannot give', () => {
  // A parent of our own in the v1 cpuset hierarchy that has CPU 0 only: CPU 1 is online but not
  // the parent's, which the kernel refuses with ERANGE/EINVAL when the tree's cpuset is written.
  const cpuset = cgroupMounts().find((m) => m.endsWith('/cpuset'));
  const online = isLinux ? readFileSync('/sys/devices/system/cpu/online', 'utf8').trim() : '';
  const skip = (!isRoot || !cpuset || online === '0') && 'needs root, a v1 cpuset hierarchy and two CPUs';
  test('refused with the parent CPUs named, nothing left behind', { skip }, async () => {
    const parent = `${testCgroupParent}/cpu0`;
    mkdirSync(`${cpuset}${testCgroupParent}`, { recursive: true });
    mkdirSync(`${cpuset}${parent}`);
    try {
      writeFileSync(`${cpuset}${parent}/cpuset.cpus`, '0');
      writeFileSync(`${cpuset}${parent}/cpuset.mems`, readFileSync(`${cpuset}/cpuset.mems`, 'utf8').trim());
      const ex = command('true', [], { executor: 'linux', cgroupParent: parent }).limit({ cpus: '1' });
      await assert.rejects(ex.start(), (e) => {
        assert.equal(e.code, 'ERR_CONFINE_SYSTEM', `${e.name}: ${e.message}`);
        assert.ok(e.errno, 'the errno is kept');
        assert.match(e.message, /cpus "1".*parent has CPUs 0/);
        return true;
      });
      assert.deepEqual(
        readdirSync(`${cpuset}${parent}`).filter((n) => n.startsWith('confine')),
        [],
      );
    } finally {
      for (const m of cgroupMounts()) {
        try {
          rmdirSync(`${m}${parent}`);
        } catch {}
      }
    }
  });
});

describe('openFiles above fs.nr_open', { skip: !isLinux && 'fs.nr_open is Linux' }, () => {
  const nrOpen = Number(readFileSync('/proc/sys/fs/nr_open', 'utf8'));
  test('refused by limit(), naming the range and fs.nr_open', () => {
    throwsArg(() => command('true').limit({ openFiles: nrOpen + 1 }), new RegExp(`openFiles.*fs\\.nr_open.*${nrOpen}`));
    throwsArg(() => command('true').limit({ openFiles: 1e9 }), /fs\.nr_open/);
  });
  test('fs.nr_open itself is accepted', () => {
    assert.doesNotThrow(() => command('true').limit({ openFiles: nrOpen }));
  });
});

describe('cgroupParent must be a clean absolute path inside the hierarchy', () => {
  const before = () => cgroupMounts().flatMap((m) => readdirSync(m).filter((n) => !n.includes('.')));
  test('relative, dot segments, doubled or trailing slashes: a typed error, nothing created', () => {
    const dirs = before();
    for (const bad of ['rel/path', 'confine', '/../../etc', '/confine/../etc', '/./confine', '/confine//x', '/confine/', '']) {
      throwsArg(() => command('true', [], { cgroupParent: bad }), /cgroupParent/);
    }
    assert.deepEqual(before(), dirs, 'no directory was made');
  });
  test('a clean absolute path is accepted', () => {
    // Under this run's own parent: command() prepares the parent's directories at once.
    assert.doesNotThrow(() => command('true', [], { cgroupParent: `${testCgroupParent}/x/y` }));
    for (const m of cgroupMounts()) {
      for (const d of [`${m}${testCgroupParent}/x/y`, `${m}${testCgroupParent}/x`]) {
        try {
          rmdirSync(d);
        } catch (e) {
          if (e.code !== 'ENOENT') throw e;
        }
      }
    }
    assert.doesNotThrow(() => command('true', [], { cgroupParent: '/' }));
  });
});

for (const kind of kinds) {
  test(`strict [${kind}]: the message names each unenforced limit once`, async () => {
    const ex = command('true', [], { executor: kind, strict: true }).limit({ memoryBytes: 64 * 2 ** 20, cpu: 0.5 });
    const missing = Object.entries(ex.enforced).filter(([k, e]) => (k === 'memoryBytes' || k === 'cpu') && !e.enforced);
    if (missing.length === 0) return; // enforced here: nothing to refuse
    await assert.rejects(ex.start(), (e) => {
      assert.ok(e instanceof UnenforcedError);
      for (const [k] of missing) {
        const times = e.message.match(new RegExp(`\\b${k}\\b`, 'g'))?.length ?? 0;
        assert.equal(times, 1, `${k} named ${times} times: ${e.message}`);
      }
      return true;
    });
    assert.deepEqual(zombieChildren(), []);
  });
}
