// A supervisor with a 2 GB heap: native spawns still work, and their cost does not grow with the
// supervisor (clone with CLONE_VM|CLONE_VFORK copies no page tables). The figures are printed
// next to child_process.spawn's from the same process; the benchmark (npm run bench) is where
// they are judged, never a timed assertion here.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { capabilities } from '../dist/index.mjs';
import './helpers.mjs'; // every cgroup under this run's own parent (CONFINE_CGROUP_PARENT)

const caps = capabilities();
const native = caps.backends.filter((k) => k === 'linux' || k === 'posix');

test('spawns from a 2 GB supervisor work on every native backend', {
  skip: native.length === 0 && `no native backend: ${caps.reason}`,
}, () => {
  const script = `
    import { command } from ${JSON.stringify(new URL('../dist/index.mjs', import.meta.url).href)};
    import { spawn } from 'node:child_process';
    const ballast = [];
    for (let i = 0; i < 16; i++) ballast.push(Buffer.alloc(128 * 2 ** 20, i + 1)); // touched
    const rssMb = Math.round(process.memoryUsage().rss / 2 ** 20);
    const time = async (n, one) => { const t0 = process.hrtime.bigint(); for (let i = 0; i < n; i++) await one(); return Number(process.hrtime.bigint() - t0) / 1e6 / n; };
    const out = { rssMb };
    for (const kind of ${JSON.stringify(native)}) {
      const codes = [];
      out[kind] = await time(20, async () => {
        const ex = command('/bin/true', [], { executor: kind, stdio: 'ignore' }).limit({ openFiles: 64 });
        await ex.start();
        codes.push((await ex.wait()).exitCode);
      });
      out[kind + 'Codes'] = [...new Set(codes)];
    }
    out.child_process = await time(5, () => new Promise((r) => spawn('/bin/true', [], { stdio: 'ignore' }).on('exit', r)));
    console.log(JSON.stringify(out));
    ballast.length = 0;`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    encoding: 'utf8',
    timeout: 120_000,
    cwd: fileURLToPath(new URL('..', import.meta.url)),
  });
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout.trim().split('\n').pop());
  assert.ok(out.rssMb >= 2000, `the supervisor really holds 2 GB (rss ${out.rssMb} MB)`);
  for (const kind of native) assert.deepEqual(out[`${kind}Codes`], [0], `${kind}: every spawn exited 0`);
  const figures = native.map((k) => `${k} ${out[k].toFixed(2)} ms`).join(', ');
  console.log(
    `2 GB supervisor (rss ${out.rssMb} MB), per spawn of /bin/true: ${figures}, child_process ${out.child_process.toFixed(2)} ms`,
  );
});
