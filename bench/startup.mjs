// Start-up cost of the confine command against a bare `node -e 0`, as a user pays it for every
// run: `confine run -- true` (load, spawn, wait, clean up), `confine --help` (the command line
// alone) and `require('confine')` (the package). The variants take turns in one loop, so load on
// a shared machine falls on all alike; the figures are each one's median and that median's
// difference from node's own start, and the mean CPU time (user + system, from this process's
// cutime/cstime: the children's, including what they waited for), which a busy machine
// inflates far less than wall time.
//
//   node bench/startup.mjs [runs=60] [OTHER_ROOT...]
//
// OTHER_ROOT: other built copies of the package (a checkout of main with dist/, build/ and
// node_modules/), measured in the same turns: a before/after comparison on equal terms.
//
// Target (issue 15): `confine run -- true` at most 20 ms over `node -e 0`; docs/startup.md has the
// figures (about 17 ms over at load 5, about 21 under load 7 to 10) and where the time goes.

import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { hr, ms, median, quantile, f2 } from './common.mjs';

const runs = Number(process.argv[2] ?? 60);
const roots = [['', fileURLToPath(new URL('..', import.meta.url))]];
for (const other of process.argv.slice(3)) roots.push([` (${other})`, path.resolve(other)]);

const variants = [['node -e 0', [process.execPath, '-e', '0']]];
for (const [tag, root] of roots) {
  const cli = path.join(root, 'dist', 'cli.js');
  variants.push(
    [`confine --help${tag}`, [process.execPath, cli, '--help']],
    [`require('confine')${tag}`, [process.execPath, '-e', `require(${JSON.stringify(root)})`]],
    [`confine run -- true${tag}`, [process.execPath, cli, 'run', '--', 'true']],
  );
}

/** CPU time of this process's waited-for children so far, in ms (USER_HZ = 100 on Linux). */
function childrenCpuMs() {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[13]) + Number(f[14])) * 10; // fields 16 and 17: cutime, cstime
}

const times = variants.map(() => []);
const cpu = variants.map(() => 0);
for (let i = 0; i < runs + 3; i++) {
  for (const [v, [name, [file, ...args]]] of variants.entries()) {
    const c0 = childrenCpuMs();
    const t0 = hr();
    const r = spawnSync(file, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    const t = ms(t0, hr());
    if (r.status !== 0) throw new Error(`${name}: exit ${r.status}: ${r.stderr}`);
    if (i < 3) continue; // the first rounds warm the page cache
    times[v].push(t);
    cpu[v] += childrenCpuMs() - c0;
  }
}
const base = median(times[0]);
const baseCpu = cpu[0] / runs;
const width = Math.max(...variants.map(([name]) => name.length)) + 2;
console.log(`${runs} runs each, in turns (ms)`);
console.log(`  ${''.padEnd(width)}   median      p90     over node     cpu  over node`);
for (const [v, [name]] of variants.entries()) {
  const m = median(times[v]);
  const c = cpu[v] / runs;
  const cols = [f2(m), f2(quantile(times[v], 0.9)), `+${f2(m - base)}`, f2(c), `+${f2(c - baseCpu)}`];
  console.log(`  ${name.padEnd(width)} ${cols.map((x) => x.padStart(8)).join(' ')}`);
}
