'use strict';
// Least privilege without a password: the restricted token, seen from inside the child.
const test = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const h = require('./helpers');

const ADMINS = 'S-1-5-32-544';

async function childToken(t, restrictedToken) {
  const out = h.outFile();
  const addonPath = process.env.CONFINE_WIN_ADDON || path.join(__dirname, '..', '..', 'build', 'Release', 'confine.node');
  const r = h.spawnNode('process.stdout.write(JSON.stringify(require(process.argv[1]).tokenInfo()))', [addonPath], {
    stdio: ['ignore', out.stdio, 'ignore'],
    restrictedToken,
  });
  h.cleanup(t, r.job);
  const exit = await h.watch(r.job);
  out.close();
  assert.equal(exit.exitCode, 0, out.read());
  return { r, token: JSON.parse(out.read()) };
}

test('restricted token: privileges removed, Administrators deny-only, low integrity (queried by the child)', {
  skip: h.notWindows,
}, async (t) => {
  const a = h.addon();
  const mine = a.tokenInfo();
  const { r, token } = await childToken(t, { integrity: 'low' });
  assert.equal(r.createCall, 'CreateProcessAsUserW');
  assert.equal(r.restricted, true);
  t.diagnostic(
    `supervisor: integrity ${mine.integrity}, ${mine.privileges.length} privileges; child: integrity ${token.integrity}, privileges ${token.privileges.join(',')}`,
  );
  const admins = token.groups.find((g) => g.sid === ADMINS);
  const childSeesRestriction = token.privileges.length <= 1 && token.integrity === 'low';
  if (h.wine() && !childSeesRestriction) {
    // Measured under Wine 8: CreateProcessAsUserW succeeds but Wine starts the child with the
    // caller's token, so nothing is visible from the child. Stated, not faked:
    t.skip(
      `Wine ${h.wine()} does not give the child the restricted token (child has integrity ${token.integrity}, ${token.privileges.length} privileges)`,
    );
    return;
  }
  assert.deepEqual(
    token.privileges.filter((p) => p !== 'SeChangeNotifyPrivilege'),
    [],
  );
  assert.equal(token.integrity, 'low');
  if (admins) assert.equal(admins.denyOnly, true, 'Administrators is deny-only');
  if (mine.groups.some((g) => g.sid === ADMINS && g.enabled)) assert.ok(admins, 'the group is kept, as deny-only');
});

test('the supervisor sees the same token on the child (OpenProcess + token query)', { skip: h.notWindows }, async (t) => {
  const a = h.addon();
  const r = h.spawnNode('setInterval(() => {}, 1000)', [], { restrictedToken: { integrity: 'medium' } });
  h.cleanup(t, r.job);
  const token = a.tokenInfo(r.pid);
  const mine = a.tokenInfo();
  if (h.wine() && token.privileges.length === mine.privileges.length) {
    t.skip(`Wine ${h.wine()} does not apply the restricted token to the child`);
    return;
  }
  assert.deepEqual(
    token.privileges.filter((p) => p !== 'SeChangeNotifyPrivilege'),
    [],
  );
  assert.ok(['medium', 'low'].includes(token.integrity), token.integrity);
});

test('restricted token is built without any privilege (probe)', { skip: h.notWindows }, () => {
  assert.equal(h.addon().probe().features.restrictedToken, true);
});
