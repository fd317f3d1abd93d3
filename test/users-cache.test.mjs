// The user lookup cache (lib/users.ts): runAs by name is resolved once and kept while
// /etc/passwd, /etc/group and /etc/nsswitch.conf are unchanged. Each test changes the real user
// database between two spawns as the same user and checks that the second spawn sees it at once:
// a user given a group runs with it, a deleted user is refused, a user added after a failed
// lookup is found. Real users (createUser), real spawns, the child's own `id` output.

import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { command, UnknownUserError } from '../dist/index.mjs';
import { createUser, isRoot, text } from './helpers.mjs';

const skip = (!isRoot || process.platform === 'win32') && 'needs root (POSIX) to create users and change uid';

/** `id -u` and `id -G` of a child run as `user`, through the public API (the native backend where there is one). */
async function idsAs(user) {
  const ex = command('sh', ['-c', 'id -u; id -G'], { stdio: ['ignore', 'pipe', 'inherit'], cwd: '/' }).runAs(user);
  await ex.start();
  const out = (await text(ex.stdout)).trim().split('\n');
  assert.equal((await ex.wait()).exitCode, 0);
  return {
    uid: Number(out[0]),
    groups: out[1]
      .split(/\s+/)
      .map(Number)
      .sort((a, b) => a - b),
  };
}

describe('user lookup cache', { skip }, () => {
  test('a group added to the user after a spawn is in the next spawn', async () => {
    const user = createUser();
    const group = `confine-tg${randomBytes(3).toString('hex')}`;
    try {
      const before = await idsAs(user.name); // looked up and kept
      assert.equal(before.uid, user.uid);
      execFileSync('groupadd', [group]);
      execFileSync('usermod', ['-aG', group, user.name]);
      const gid = Number(execFileSync('getent', ['group', group], { encoding: 'utf8' }).split(':')[2]);
      assert.ok(!before.groups.includes(gid));
      const after = await idsAs(user.name);
      assert.ok(after.groups.includes(gid), `groups ${after.groups} lack the new ${gid}`);
    } finally {
      user.remove();
      try {
        execFileSync('groupdel', [group], { stdio: 'ignore' });
      } catch {}
    }
  });

  test('a user deleted after a spawn is refused at the next one', async () => {
    const user = createUser();
    try {
      assert.equal((await idsAs(user.name)).uid, user.uid); // looked up and kept
    } finally {
      user.remove();
    }
    await assert.rejects(
      async () => command('true', [], { stdio: 'ignore' }).runAs(user.name).start(),
      (e) => e instanceof UnknownUserError,
    );
  });

  test('a user added after a failed lookup is found (no negative entry kept)', async () => {
    // Any user looked up first, so the cache is warm and its stamp current.
    await idsAs('nobody');
    const probe = createUser();
    const name = probe.name;
    probe.remove(); // the name is free again, and the database has changed twice meanwhile
    await assert.rejects(
      async () => command('true', [], { stdio: 'ignore' }).runAs(name).start(),
      (e) => e instanceof UnknownUserError,
    );
    execFileSync('useradd', ['--no-create-home', '--shell', '/usr/sbin/nologin', '--user-group', name]);
    try {
      const uid = Number(execFileSync('id', ['-u', name], { encoding: 'utf8' }).trim());
      assert.equal((await idsAs(name)).uid, uid);
    } finally {
      try {
        execFileSync('userdel', [name], { stdio: 'ignore' });
      } catch {}
      try {
        execFileSync('groupdel', [name], { stdio: 'ignore' });
      } catch {}
    }
  });
});
