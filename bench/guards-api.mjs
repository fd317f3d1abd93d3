// What isolate()'s kernel guards add to a spawn through the public API (issue 17): /bin/true
// started by command().start() as nobody, plain, with `syscalls: 'default'` (the filter), and on
// the Landlock path (CONFINE_ISOLATION=landlock: the preset's paths as Landlock rules, with and
// without a private tmp, which is a directory made, chowned and removed per tree). Every round
// starts one child of each variant in a fresh shuffled order; each figure is the median of
// start() (until the program has exec'd), and the added cost is the difference to the plain
// spawn's median in the same run. bench/guards.mjs measures the addon alone.
//
// This is a benchmark, not a test: nothing here asserts on a time. Root only.
//   node bench/guards-api.mjs         300 rounds
//   BENCH_SCALE=0.25 node bench/guards-api.mjs

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { f3, hr, median, ms, shuffled } from './common.mjs';

const ROOT = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const SYSTEM = ['/usr', '/etc', ...['/bin', '/sbin', '/lib', '/lib32', '/lib64'].filter((p) => fs.existsSync(p))];

/** { plain, syscalls, landlock, landlockTmp }: median ms of start(); null where it cannot run. */
export async function measureGuardsApi({ rounds = 300, log = console.log } = {}) {
  if (process.platform !== 'linux' || process.getuid?.() !== 0) return null;
  const { command, capabilities } = await import(path.join(ROOT, 'dist', 'index.mjs'));
  const iso = capabilities().isolation;
  if (!iso.seccomp.available) return null;
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'confine-bench-guards-api-'));
  fs.chmodSync(work, 0o777);
  const fsSpec = (tmp) => ({ filesystem: { read: SYSTEM, write: [work], tmp }, syscalls: 'host' });
  const variants = {
    plain: { spec: null, mode: undefined },
    syscalls: { spec: { syscalls: 'default' }, mode: undefined },
    ...(iso.landlock.abi
      ? { landlock: { spec: fsSpec([]), mode: 'landlock' }, landlockTmp: { spec: fsSpec(['/tmp']), mode: 'landlock' } }
      : {}),
  };
  const times = Object.fromEntries(Object.keys(variants).map((k) => [k, []]));
  const saved = process.env.CONFINE_ISOLATION;
  const once = async (name) => {
    const v = variants[name];
    if (v.mode) process.env.CONFINE_ISOLATION = v.mode;
    else delete process.env.CONFINE_ISOLATION;
    const ex = command('/bin/true', [], { cwd: work, stdio: 'ignore' }).runAs('nobody');
    if (v.spec) ex.isolate(v.spec);
    const t0 = hr();
    await ex.start();
    const t = ms(t0, hr());
    await ex.wait();
    return t;
  };
  try {
    for (const name of Object.keys(variants)) for (let i = 0; i < 10; i++) await once(name); // warm-up
    for (let r = 0; r < rounds; r++) {
      for (const name of shuffled(Object.keys(variants), r)) times[name].push(await once(name));
      if (r % 100 === 99) log(`  guards (API): ${r + 1}/${rounds} rounds`);
    }
  } finally {
    if (saved === undefined) delete process.env.CONFINE_ISOLATION;
    else process.env.CONFINE_ISOLATION = saved;
    fs.rmSync(work, { recursive: true, force: true });
  }
  const out = { abi: iso.landlock.abi, rounds };
  for (const [k, t] of Object.entries(times)) out[k] = median(t);
  return out;
}

export function guardsApiTable(res) {
  if (!res) return '_not measured (Linux, root and seccomp only)_';
  const row = (label, k) =>
    res[k] === undefined ? [] : [`| ${label} | ${f3(res[k])} | ${k === 'plain' ? '—' : f3(res[k] - res.plain)} |`];
  return [
    `start() of /bin/true as nobody, median of ${res.rounds} shuffled rounds (Landlock ABI ${res.abi ?? 'none'}):`,
    '',
    '| variant | start() ms | added ms |',
    '|---|---:|---:|',
    ...row('plain', 'plain'),
    ...row("`syscalls: 'default'` (the filter)", 'syscalls'),
    ...row('Landlock path: the preset\'s paths as rules (`CONFINE_ISOLATION=landlock`)', 'landlock'),
    ...row('Landlock path with a private tmp (made, chowned, removed per tree)', 'landlockTmp'),
  ].join('\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const scale = Number(process.env.BENCH_SCALE ?? 1) > 0 ? Number(process.env.BENCH_SCALE ?? 1) : 1;
  const res = await measureGuardsApi({ rounds: Math.max(30, Math.round(300 * scale)) });
  console.log(guardsApiTable(res));
}
