#!/usr/bin/env node
// What the kernel guards add to a spawn (issue 17): /bin/true started through the addon's spawn
// with and without the system call filter, Landlock (a policy's cached ruleset, and a spawn with
// a per-tree rule of its own) and the capability step, in the same run. Every round starts one
// child of each variant, in a fresh shuffled order, so a slow stretch of the machine hits all
// alike; each figure is a median over all rounds, and the added cost is the difference to the
// plain spawn's median.
//
// Two figures per spawn:
//   spawn   addon.spawn() alone: the parent's preparation, the clone, the child's steps up to
//           execve (the call returns once the child has exec'd); where the guards' cost lands;
//   to exit spawn until the exit callback: also what the filter adds to /bin/true's own calls.
//
// This is a benchmark, not a test: nothing here asserts on a time. Root only (the child runs as
// nobody, the capability pair as root).
//
//   node bench/guards.mjs            2,000 rounds
//   BENCH_SCALE=0.25 node bench/guards.mjs

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { f3, hr, median, ms } from './common.mjs';

const ROOT = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const addon = require('node-gyp-build')(ROOT);
const SCALE = Number(process.env.BENCH_SCALE ?? 1) > 0 ? Number(process.env.BENCH_SCALE ?? 1) : 1;
const ROUNDS = Math.max(50, Math.round(2000 * SCALE));

if (process.platform !== 'linux' || process.getuid() !== 0) {
  console.error('bench/guards.mjs: Linux and root only');
  process.exit(1);
}
const { features } = addon.probe();
const nobody = addon.lookupUser('nobody');
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'confine-bench-guards-'));
const tree = path.join(work, 'tree');
fs.mkdirSync(tree);
const id = (p) => {
  const st = fs.statSync(p, { bigint: true });
  return { dev: st.dev, ino: st.ino };
};
const policy = {
  rules: [
    { path: '/usr', access: 'read', ...id('/usr') },
    { path: '/etc', access: 'read', ...id('/etc') },
    { path: '/dev/null', access: 'write', ...id('/dev/null') },
    { path: work, access: 'write', ...id(work) },
  ],
  denyTcp: features.landlockAbi >= 4,
  scopeSignals: features.landlockAbi >= 6,
  scopeAbstractUnix: features.landlockAbi >= 6,
};
const asNobody = { uid: nobody.uid, gid: nobody.gid, groups: [nobody.gid], noNewPrivs: true };
const filter = { denyIoUring: true, unixSocketsOnly: true };

// name -> request fields on top of the common ones
const variants = {
  plain: asNobody,
  seccomp: { ...asNobody, seccomp: filter },
  ...(features.landlockAbi > 0 && {
    'landlock (cached)': { ...asNobody, landlock: policy },
    'landlock (tree rule)': { ...asNobody, landlock: { ...policy, treeRules: [{ path: tree, access: 'write' }] } },
    'all three': {
      ...asNobody,
      seccomp: filter,
      landlock: { ...policy, treeRules: [{ path: tree, access: 'write' }] },
    },
  }),
  'plain, root': { noNewPrivs: true },
  'capabilities, root': { noNewPrivs: true, capabilities: [] },
};

const nul = addon.openDevNull(fs.constants.O_RDWR);
function once(extra) {
  return new Promise((resolve, reject) => {
    const t0 = hr();
    let child;
    try {
      child = addon.spawn({ file: '/bin/true', argv: ['true'], envp: [], stdio: [nul, nul, nul], cwd: '/', ...extra });
    } catch (e) {
      reject(e);
      return;
    }
    const t1 = hr();
    addon.watch(child.pid, child.pidfd, (st) => {
      const t2 = hr();
      addon.close(child.pidfd);
      if (st.exitCode !== 0) reject(new Error(`exit ${st.exitCode}`));
      else resolve([ms(t0, t1), ms(t0, t2)]);
    });
  });
}

const samples = Object.fromEntries(Object.keys(variants).map((k) => [k, { spawn: [], exit: [] }]));
for (const name of Object.keys(variants)) await once(variants[name]); // warm: caches built
for (let round = 0; round < ROUNDS; round++) {
  const order = Object.keys(variants).sort(() => Math.random() - 0.5);
  for (const name of order) {
    const [s, e] = await once(variants[name]);
    samples[name].spawn.push(s);
    samples[name].exit.push(e);
  }
}
addon.close(nul);
fs.rmSync(work, { recursive: true, force: true });

const base = (name) => (name.endsWith('root') ? 'plain, root' : 'plain');
console.log(
  `guards: ${ROUNDS} rounds of one spawn per variant, /bin/true, Linux ${os.release()}, ` +
    `Landlock ABI ${features.landlockAbi}, ${os.cpus().length} CPUs`,
);
console.log('| variant | spawn ms | added | ratio | to exit ms | added | ratio |');
console.log('|---|---|---|---|---|---|---|');
for (const [name, s] of Object.entries(samples)) {
  const b = samples[base(name)];
  const [sm, em, bs, be] = [median(s.spawn), median(s.exit), median(b.spawn), median(b.exit)];
  const added = (x, y) => (name === base(name) ? '' : `${x - y >= 0 ? '+' : ''}${f3(x - y)}`);
  console.log(`| ${name} | ${f3(sm)} | ${added(sm, bs)} | ${(sm / bs).toFixed(2)} | ${f3(em)} | ${added(em, be)} | ${(em / be).toFixed(2)} |`);
}
