// Bad input: every mistake gets a typed error with a clear message, before anything is started,
// and leaves nothing behind. Runs against every backend this machine has.

import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync, existsSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  command,
  ConfineArgumentError,
  ConfineStateError,
  UnknownUserError,
  CommandNotFoundError,
  SpawnError,
  UnenforcedError,
  ConfineError,
} from '../dist/index.mjs';
import { availableKinds, zombieChildren, openFds, isLinux, until } from './helpers.mjs';

const kinds = await availableKinds();

function throwsTyped(fn, Class, code, pattern) {
  assert.throws(fn, (e) => {
    assert.ok(e instanceof Class, `expected ${Class.name}, got ${e?.constructor?.name}: ${e?.message}`);
    assert.ok(e instanceof ConfineError);
    assert.equal(e.code, code);
    if (pattern) assert.match(e.message, pattern);
    return true;
  });
}

async function rejectsTyped(promise, Class, code, pattern) {
  await assert.rejects(promise, (e) => {
    assert.ok(e instanceof Class, `expected ${Class.name}, got ${e?.constructor?.name}: ${e?.message}`);
    assert.equal(e.code, code);
    if (pattern) assert.match(e.message, pattern);
    return true;
  });
}

describe('command(): bad input is a typed error at once', () => {
  const ARG = 'ERR_CONFINE_INVALID_ARGUMENT';
  test('empty or non-string file', () => {
    throwsTyped(() => command(''), ConfineArgumentError, ARG, /cannot be empty/);
    throwsTyped(() => command(42), ConfineArgumentError, ARG, /must be of type string/);
    throwsTyped(() => command(undefined), ConfineArgumentError, ARG);
  });
  test('args that are not an array, NUL bytes in file, args and env', () => {
    throwsTyped(() => command('true', 'not-an-array'), ConfineArgumentError, ARG, /"args" argument must be of type object/);
    throwsTyped(() => command('tr\0ue'), ConfineArgumentError, ARG, /null bytes/);
    throwsTyped(() => command('true', ['a\0b']), ConfineArgumentError, ARG, /args\[0\].*null bytes/);
    throwsTyped(() => command('true', [], { env: { A: 'x\0y' } }), ConfineArgumentError, ARG, /null bytes/);
    throwsTyped(() => command('true', [], { env: { 'A=B': 'x' } }), ConfineArgumentError, ARG, /not a valid name/);
    throwsTyped(() => command('true', [], { cwd: '/tmp\0x' }), ConfineArgumentError, ARG, /null bytes/);
  });
  test("what child_process accepts: non-string args as strings, cwd '' and null, timeout 0, shell, uid", () => {
    assert.deepEqual(command('echo', [1, true, null]).command.args, ['1', 'true', 'null']);
    for (const o of [{ cwd: '' }, { cwd: null }, { timeout: 0 }, { shell: false }, null])
      assert.doesNotThrow(() => command('true', [], o));
    assert.equal(command('echo hi', [], { shell: true }).command.file, '/bin/sh');
    assert.deepEqual(command('echo hi', ['there'], { shell: true }).command.args, ['-c', 'echo hi there']);
    assert.equal(command('true', [], { uid: 0 }).command.runAs, 0);
  });
  test('unknown and unsupported options', () => {
    throwsTyped(() => command('true', [], { timout: 5 }), ConfineArgumentError, ARG, /did you mean timeout/);
    throwsTyped(() => command('true', [], { uid: 0, runAs: 'nobody' }), ConfineArgumentError, ARG, /runAs.*uid/);
    throwsTyped(() => command('true', [], { executor: 'docker' }), ConfineArgumentError, ARG, /one of/);
    throwsTyped(() => command('true', [], { timeout: -1 }), ConfineArgumentError, ARG, /timeout/);
    throwsTyped(() => command('true', [], { killSignal: 'SIGNOPE' }), ConfineArgumentError, ARG, /signal/i);
    throwsTyped(() => command('true', [], { stdio: ['pipe', 'bogus'] }), ConfineArgumentError, ARG, /stdio.*bogus/);
    throwsTyped(() => command('true', [], { signal: {} }), ConfineArgumentError, ARG, /AbortSignal/);
  });
});

describe('limit() and runAs(): bad values are typed errors', () => {
  const ARG = 'ERR_CONFINE_INVALID_ARGUMENT';
  test('negative, NaN, Infinity, non-integer, wrong type', () => {
    for (const bad of [-1, NaN, Infinity, -Infinity, 1.5, '64M', null]) {
      throwsTyped(() => command('true').limit({ memoryBytes: bad }), ConfineArgumentError, ARG, /memoryBytes/);
    }
    throwsTyped(() => command('true').limit({ openFiles: 2 }), ConfineArgumentError, ARG, /between 3/);
    throwsTyped(() => command('true').limit({ cpu: 0 }), ConfineArgumentError, ARG, /cpu/);
    throwsTyped(() => command('true').limit({ cpuWeight: 10001 }), ConfineArgumentError, ARG, /cpuWeight/);
    throwsTyped(() => command('true').limit({ cpus: 'all' }), ConfineArgumentError, ARG, /CPU list/);
    throwsTyped(() => command('true').limit('64M'), ConfineArgumentError, ARG, /object/);
  });
  test('unknown resource keys are not ignored', () => {
    throwsTyped(
      () => command('true').limit({ memoryMB: 64 }),
      ConfineArgumentError,
      ARG,
      /unknown key "memoryMB" \(did you mean memoryBytes\?\)/,
    );
    throwsTyped(() => command('true').limit({ maxProcs: 3 }), ConfineArgumentError, ARG, /did you mean maxProcesses/);
  });
  test('runAs shapes', () => {
    throwsTyped(() => command('true').runAs(''), ConfineArgumentError, ARG);
    throwsTyped(() => command('true').runAs(-1), ConfineArgumentError, ARG);
    throwsTyped(() => command('true').runAs(1.5), ConfineArgumentError, ARG);
    throwsTyped(() => command('true').runAs('a:b:c'), ConfineArgumentError, ARG);
    throwsTyped(() => command('true').runAs({ usr: 'nobody' }), ConfineArgumentError, ARG, /did you mean user/);
    throwsTyped(() => command('true').runAs({ uid: 1, groups: [-3] }), ConfineArgumentError, ARG);
    throwsTyped(() => command('true').runAs(null), ConfineArgumentError, ARG);
    throwsTyped(() => command('true').runAs({ restricted: true, user: 'nobody' }), ConfineArgumentError, ARG, /own user/);
    throwsTyped(() => command('true').runAs({ restricted: true, integrity: 'high' }), ConfineArgumentError, ARG, /integrity/);
    throwsTyped(() => command('true').runAs({ restricted: false }), ConfineArgumentError, ARG, /must be true/);
  });
  test('a restricted token is Windows-only: a typed error at start elsewhere', {
    skip: process.platform === 'win32' && 'Windows runs it',
  }, async () => {
    await assert.rejects(
      command('true').runAs({ restricted: true }).start(),
      (e) => e instanceof ConfineArgumentError && /Windows/.test(e.message),
    );
  });
  test('a valid chain returns the executor', () => {
    const ex = command('true');
    assert.equal(ex.limit({ memoryBytes: 2 ** 26 }).runAs('nobody'), ex);
    assert.deepEqual(ex.command.resources, { memoryBytes: 2 ** 26 });
    assert.equal(ex.command.runAs, 'nobody');
    assert.ok(Object.isFrozen(ex.command));
  });
});

for (const kind of kinds) {
  describe(`start() failures leave nothing behind [${kind}]`, () => {
    let dir;
    let fdsBefore;
    before(() => {
      dir = mkdtempSync(join(tmpdir(), 'confine-test-'));
      fdsBefore = openFds();
    });
    after(async () => {
      rmSync(dir, { recursive: true, force: true });
      assert.deepEqual(zombieChildren(), [], 'no zombie children');
      // Node and the test runner open and close fds of their own at any time: settle first.
      if (isLinux)
        assert.equal(
          (await until(() => openFds() <= fdsBefore, 30_000)) ? fdsBefore : openFds(),
          fdsBefore,
          'no fd leaked by failed starts',
        );
    });

    test('missing program: not found in PATH, and by path', async () => {
      await rejectsTyped(
        command('confine-no-such-program-x', [], { executor: kind }).start(),
        CommandNotFoundError,
        'ERR_CONFINE_COMMAND_NOT_FOUND',
        /not found/,
      );
      await rejectsTyped(
        command(join(dir, 'missing'), [], { executor: kind }).start(),
        CommandNotFoundError,
        'ERR_CONFINE_COMMAND_NOT_FOUND',
        /does not exist/,
      );
    });

    test('a file that is not executable', async () => {
      const f = join(dir, 'plain.txt');
      writeFileSync(f, 'echo hi\n');
      chmodSync(f, 0o644);
      await assert.rejects(command(f, [], { executor: kind }).start(), (e) => {
        assert.ok(e instanceof CommandNotFoundError);
        assert.equal(e.errno, 'EACCES');
        return true;
      });
      await rejectsTyped(command(dir, [], { executor: kind }).start(), CommandNotFoundError, 'ERR_CONFINE_COMMAND_NOT_FOUND');
    });

    test('a cwd that does not exist', async () => {
      await assert.rejects(command('true', [], { executor: kind, cwd: join(dir, 'nope') }).start(), (e) => {
        assert.ok(e instanceof SpawnError);
        assert.equal(e.stage, 'chdir');
        assert.equal(e.errno, 'ENOENT');
        return true;
      });
    });

    test('runAs of a user that does not exist', async () => {
      await rejectsTyped(
        command('true', [], { executor: kind }).runAs('confine-tnosuchuser').start(),
        UnknownUserError,
        'ERR_CONFINE_UNKNOWN_USER',
        /no such user/,
      );
      await rejectsTyped(
        command('true', [], { executor: kind }).runAs(3999999).start(),
        UnknownUserError,
        'ERR_CONFINE_UNKNOWN_USER',
      );
    });

    test('strict: an unenforceable limit rejects before anything runs', async (t) => {
      const ex = command('true', [], { executor: kind, strict: true });
      const plan = ex.limit({ memoryBytes: 2 ** 26, openFiles: 64 }).enforced;
      if (plan.memoryBytes.enforced) return t.skip(`${kind} enforces memoryBytes here: nothing to reject`);
      const marker = join(dir, 'ran');
      const ex2 = command('sh', ['-c', `touch ${marker}`], { executor: kind, strict: true }).limit({ memoryBytes: 2 ** 26 });
      await assert.rejects(ex2.start(), (e) => {
        assert.ok(e instanceof UnenforcedError);
        assert.equal(e.code, 'ERR_CONFINE_UNENFORCED');
        assert.deepEqual(e.limits, ['memoryBytes']);
        return true;
      });
      assert.equal(existsSync(marker), false, 'nothing ran');
      assert.equal(ex2.pid, undefined);
    });

    test('calls at the wrong time', async () => {
      const ex = command('true', [], { executor: kind });
      await assert.rejects(ex.wait(), ConfineStateError);
      await assert.rejects(ex.forceStop(), ConfineStateError);
      await assert.rejects(ex.shutdown(), ConfineStateError);
      assert.equal(ex.kill(), false);
      await ex.start();
      throwsTyped(() => ex.limit({ openFiles: 10 }), ConfineStateError, 'ERR_CONFINE_INVALID_STATE', /before start/);
      throwsTyped(() => ex.runAs('nobody'), ConfineStateError, 'ERR_CONFINE_INVALID_STATE');
      await assert.rejects(ex.start(), ConfineStateError);
      await ex.wait();
      // A failed start: later calls say so.
      const bad = command('confine-no-such-program-x', [], { executor: kind });
      await assert.rejects(bad.start());
      await assert.rejects(bad.wait(), CommandNotFoundError);
      await assert.rejects(bad.forceStop(), /failed to start/);
    });

    test('an already aborted signal: nothing starts', async () => {
      const ac = new AbortController();
      ac.abort();
      await assert.rejects(
        command('true', [], { executor: kind, signal: ac.signal }).start(),
        (e) => e.code === 'ERR_CONFINE_ABORTED',
      );
    });
  });
}
