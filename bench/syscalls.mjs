// System calls per spawn in the supervisor, counted by strace (bench/run.mjs calls it once): the
// one figure of the spawn benchmark that does not move with the machine. On these hosts a
// syscall costs a few µs in a tight loop and more in place (right after a child ran on the same
// core), and most of what confine adds to a spawn above the C floor is syscalls and the N-API
// calls around them; the wall-time tables move by tens of percent from run to run, these counts
// by nothing.
//
// Each Node variant runs in a process of its own under `strace -o` (no -f: the supervisor's own
// calls, not the child's), as `node bench/syscalls.mjs --driver <variant> <warm> <n>`: `warm`
// uncounted spawns, a marker written to stderr, `n` counted spawns, the marker again; the lines
// between the two markers are the counted spawns' calls. The C floor (bench/posix_spawn_floor.c,
// seq mode) is counted as the difference of two runs of different lengths (no marker to write).
// Then each variant again under `strace -f`, fewer spawns: the child's own calls between its birth
// and its execve of the program (what the supervisor waits for with a vfork-style spawn, and what
// the C loop's posix_spawn does in its child too).
// strace comes from Debian's `strace` package, installed when missing.

import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureDebianTool, f2 } from './common.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const DIST = path.join(HERE, '..', 'dist');
const MARK = 'CONFINE_BENCH_SYSCALL_MARK';
const PROGRAM = '/bin/true';

/**
 * The variants, as bench/run.mjs measures them (same command, limits and identity); each builds
 * one spawn-to-exit run from the package's public API or child_process.
 */
function runnerOf(variant, { command, cpSpawn, rlimits, cgLimits, runAs }) {
  if (variant === 'cp')
    return () =>
      new Promise((resolve, reject) => {
        const c = cpSpawn(PROGRAM, [], { stdio: 'ignore' });
        c.once('error', reject);
        c.once('exit', resolve);
      });
  const [executor, extra] = variant === 'linux+cg' ? ['linux', cgLimits] : [variant, {}];
  return async () => {
    const ex = command(PROGRAM, [], { executor, stdio: 'ignore' }).limit({ ...rlimits, ...extra }).runAs(runAs);
    await ex.start();
    await ex.wait();
  };
}

/** The driver: runs in the traced process. */
async function drive([variant, warm, n, limitsJson]) {
  const { command } = await import(path.join(DIST, 'index.mjs'));
  const { spawn: cpSpawn } = await import('node:child_process');
  const run = runnerOf(variant, { command, cpSpawn, ...JSON.parse(limitsJson) });
  for (let i = 0; i < Number(warm); i++) await run();
  fs.writeSync(2, `${MARK}\n`);
  for (let i = 0; i < Number(n); i++) await run();
  fs.writeSync(2, `${MARK}\n`);
}

/** Syscall names per line of an strace -o file (signal and exit lines left out). */
function callsOf(lines) {
  const out = [];
  for (const l of lines) {
    const m = /^([a-z_0-9]+)\(/.exec(l);
    if (m) out.push(m[1]);
  }
  return out;
}

/**
 * From an `strace -f` file: per child that execve'd the program, its calls before that execve
 * (the execve not counted); only children born after the first line at or past `from`.
 */
function childCallsOf(lines, from = 0) {
  const seen = new Set();
  const counts = new Map(); // pid -> calls so far (children still before their exec)
  const done = [];
  for (let i = 0; i < lines.length; i++) {
    const gone = /^(\d+) +\+\+\+ (exited|killed)/.exec(lines[i]);
    if (gone) {
      seen.delete(gone[1]); // its pid may come back as another process
      counts.delete(gone[1]);
      continue;
    }
    const m = /^(\d+) +([a-z_0-9]+)\(/.exec(lines[i]);
    if (!m) continue; // "<... resumed>", signals
    const pid = m[1];
    if (!seen.has(pid)) {
      seen.add(pid);
      if (i >= from) counts.set(pid, 0); // born after the start (the supervisor's threads before it)
    }
    if (!counts.has(pid)) continue;
    if (m[2] === 'execve' && lines[i].includes(`"${PROGRAM}"`)) {
      done.push(counts.get(pid));
      counts.delete(pid);
    } else counts.set(pid, counts.get(pid) + 1);
  }
  return done;
}

function tally(names, n) {
  const by = new Map();
  for (const x of names) by.set(x, (by.get(x) ?? 0) + 1);
  const kinds = [...by.entries()].sort((a, b) => b[1] - a[1]).map(([name, c]) => ({ name, perSpawn: c / n }));
  return { perSpawn: names.length / n, kinds };
}

/**
 * Counts per spawn for each of `variants` ('posix', 'linux', 'linux+cg', 'cp') and the C floor.
 * `{ rows: [{ id, perSpawn, kinds }], reason }`: reason set (and rows empty) where strace is
 * missing and cannot be installed.
 */
export function countSyscalls({ variants, floorBin, rlimits, cgLimits, runAs, n = 200, warm = 300, childN = 20, log = console.log }) {
  const { path: strace, reason } = ensureDebianTool('strace', ['/usr/bin/strace', '/bin/strace'], log);
  if (!strace) return { rows: [], reason };
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'confine-bench-strace-'));
  const rows = [];
  const limitsJson = JSON.stringify({ rlimits, cgLimits, runAs });
  /** The mean of each child's calls before its exec; every counted spawn must show one (the C loop's run adds its own uncounted spawns). */
  const perChild = (xs, expected, id) => {
    if (id === 'floor' ? xs.length < expected : xs.length !== expected) throw new Error(`strace -f of ${id}: ${xs.length} children exec'd the program, expected ${expected}`);
    return xs.reduce((a, b) => a + b, 0) / xs.length;
  };
  /** A variant's child, under strace -f: a few warm-up spawns, then `childN` between the markers. */
  const childCalls = (id) => {
    const out = path.join(dir, `${id}-f.txt`);
    const r = spawnSync(strace, ['-f', '-qq', '-o', out, process.execPath, fileURLToPath(import.meta.url), '--driver', id, '20', String(childN), limitsJson], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    if (r.status !== 0) throw new Error(`strace -f of ${id} failed (exit ${r.status}): ${String(r.stderr).slice(0, 500)}`);
    const lines = fs.readFileSync(out, 'utf8').split('\n');
    const marks = lines.flatMap((l, i) => (/^\d+ +write\(2,/.test(l) && l.includes(MARK) ? [i] : []));
    if (marks.length !== 2) throw new Error(`strace -f of ${id}: expected 2 markers, found ${marks.length}`);
    return perChild(childCallsOf(lines.slice(0, marks[1]), marks[0]), childN, id);
  };
  try {
    for (const id of variants) {
      const out = path.join(dir, `${id}.txt`);
      const r = spawnSync(strace, ['-qq', '-o', out, process.execPath, fileURLToPath(import.meta.url), '--driver', id, String(warm), String(n), limitsJson], {
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      if (r.status !== 0) throw new Error(`strace of ${id} failed (exit ${r.status}): ${String(r.stderr).slice(0, 500)}`);
      const lines = fs.readFileSync(out, 'utf8').split('\n');
      const marks = lines.flatMap((l, i) => (l.startsWith('write(2,') && l.includes(MARK) ? [i] : []));
      if (marks.length !== 2) throw new Error(`strace of ${id}: expected 2 markers, found ${marks.length}`);
      rows.push({ id, ...tally(callsOf(lines.slice(marks[0] + 1, marks[1])), n), child: childCalls(id) });
    }
    if (floorBin) {
      // Two lengths, the difference per spawn: the start-up and the output are in both.
      const count = (spawns) => {
        const out = path.join(dir, `floor-${spawns}.txt`);
        execFileSync(strace, ['-qq', '-o', out, floorBin, PROGRAM, 'seq', String(spawns), '1', '1', '0', '0'], { stdio: 'ignore' });
        return callsOf(fs.readFileSync(out, 'utf8').split('\n'));
      };
      const a = count(n);
      const b = count(2 * n);
      const extra = [...b];
      for (const x of a) extra.splice(extra.indexOf(x), 1); // b's calls minus a's, by name
      const fOut = path.join(dir, 'floor-f.txt');
      execFileSync(strace, ['-f', '-qq', '-o', fOut, floorBin, PROGRAM, 'seq', String(childN), '1', '1', '0', '0'], { stdio: 'ignore' });
      rows.push({ id: 'floor', ...tally(extra, n), child: perChild(childCallsOf(fs.readFileSync(fOut, 'utf8').split('\n')), childN, 'floor') });
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return { rows, reason: null };
}

/** The doc's table: syscalls per spawn and the most frequent kinds. */
export function syscallTable({ rows, reason }, labels) {
  if (reason) return `Not measured: ${reason}.`;
  const head = "| variant | syscalls per spawn (the supervisor) | the child's before its execve | most frequent in the supervisor, per spawn |\n|---|---:|---:|---|";
  const body = rows.map((r) => {
    const top = r.kinds
      .filter((k) => k.perSpawn >= 0.5)
      .slice(0, 12)
      .map((k) => `${k.name} ${f2(k.perSpawn)}`)
      .join(', ');
    return `| ${labels[r.id] ?? r.id} | ${f2(r.perSpawn)} | ${f2(r.child)} | ${top} |`;
  });
  return [head, ...body].join('\n');
}

if (process.argv[2] === '--driver') await drive(process.argv.slice(3));
