// Small synchronous helpers for cgroup files and directories. cgroup files are tiny and in
// memory; the sync calls take microseconds and the creation path must finish before the clone
// anyway.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { SystemError } from '../errors.js';

export function errCode(e: unknown): string | null {
  const c = (e as NodeJS.ErrnoException | null)?.code;
  return typeof c === 'string' ? c : null;
}

/** A Node fs error as a SystemError that names the file and the failing call. */
export function sysError(what: string, e: unknown, file?: string): SystemError {
  const err = e as NodeJS.ErrnoException;
  return new SystemError(`${what}: ${err?.message ?? String(e)}`, {
    syscall: typeof err?.syscall === 'string' ? err.syscall : null,
    errno: errCode(e),
    path: file ?? err?.path ?? null,
    cause: e,
  });
}

/** Read a cgroup file; null when it does not exist (ENOENT) or the cgroup is gone (ENODEV). */
export function readOpt(file: string): string | null {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (e) {
    const c = errCode(e);
    if (c === 'ENOENT' || c === 'ENODEV' || c === 'ENOTDIR') return null;
    throw sysError(`cannot read ${file}`, e, file);
  }
}

/** Write a value to a cgroup file with a single write(2), as the kernel expects. */
export function writeFile(file: string, value: string): void {
  // writeFileSync with a string opens O_WRONLY|O_CREAT|O_TRUNC; cgroup files accept that, but use
  // 'r+' semantics (no create) so a missing file is an ENOENT and not a silently created file.
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_WRONLY);
  } catch (e) {
    throw sysError(`cannot open ${file} for writing`, e, file);
  }
  try {
    fs.writeSync(fd, value);
  } catch (e) {
    throw sysError(`cannot write ${JSON.stringify(value)} to ${file}`, e, file);
  } finally {
    fs.closeSync(fd);
  }
}

export function exists(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.F_OK);
    return true;
  } catch {
    return false;
  }
}

/** "key value" lines (cpu.stat, memory.events, memory.oom_control, cpuacct.stat) as a map. */
export function parseKeyed(text: string | null): Map<string, number> {
  const m = new Map<string, number>();
  if (!text) return m;
  for (const line of text.split('\n')) {
    const sp = line.indexOf(' ');
    if (sp <= 0) continue;
    const n = Number(line.slice(sp + 1).trim());
    if (Number.isFinite(n)) m.set(line.slice(0, sp), n);
  }
  return m;
}

/**
 * One key of a "key value" text, as parseKeyed(text).get(key) gives it, without the map: for
 * the checks made at every release of a reused cgroup.
 */
export function keyedValue(text: string | null, key: string): number | undefined {
  if (!text) return undefined;
  let at = text.startsWith(`${key} `) ? 0 : text.indexOf(`\n${key} `) + 1;
  if (at === 0 && !text.startsWith(`${key} `)) return undefined;
  at += key.length + 1;
  const end = text.indexOf('\n', at);
  const n = Number(text.slice(at, end < 0 ? text.length : end).trim());
  return Number.isFinite(n) ? n : undefined;
}

/** A single-number file; null when absent or "max". */
export function readNumber(file: string): number | null {
  return parseNumber(readOpt(file));
}

/** A single-number file's text: null when absent (null) or "max". */
export function parseNumber(text: string | null): number | null {
  const s = text?.trim();
  if (!s || s === 'max') return null;
  const n = Number(s);
  return Number.isFinite(n) ? n : null;
}

/** cgroup.procs as pids (a cgroup removed meanwhile reads as empty). */
export function readPids(dir: string): number[] {
  const t = readOpt(path.join(dir, 'cgroup.procs'));
  if (!t) return [];
  const out: number[] = [];
  for (const s of t.split('\n')) if (s) out.push(Number(s));
  return out;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** mkdir a task cgroup directory that must be new (a unique name: taskCgroupName()). */
export function mkdirNew(dir: string): void {
  try {
    fs.mkdirSync(dir);
  } catch (e) {
    if (errCode(e) === 'EEXIST')
      throw new SystemError(`cgroup ${dir} already exists (names must be unique: use taskCgroupName())`, {
        syscall: 'mkdir',
        errno: 'EEXIST',
        path: dir,
        stage: 'cgroup',
      });
    throw sysError(`cannot create cgroup ${dir}`, e, dir);
  }
}

/** A v1 task directory under `parent`; a cpuset one gets the parent's cpus and mems (empty, no task could join). */
export function mkdirV1(parent: string, dir: string): void {
  mkdirNew(dir);
  // Whether a hierarchy has cpuset's files is the hierarchy's: looked at once per parent.
  let cpuset = cpusetUnder.get(parent);
  if (cpuset === undefined) {
    cpuset = exists(path.join(dir, 'cpuset.mems'));
    if (cpusetUnder.size >= MAX_CPUSET_PARENTS) cpusetUnder.clear();
    cpusetUnder.set(parent, cpuset);
  }
  if (cpuset) {
    for (const f of ['cpuset.mems', 'cpuset.cpus']) {
      const v = (readOpt(path.join(parent, f)) ?? '').trim();
      if (v) writeFile(path.join(dir, f), v);
    }
  }
}

/**
 * mkdirV1(): per parent directory, whether its children have cpuset.mems to fill. Bounded: a
 * supervisor that goes through many parents starts again past MAX_CPUSET_PARENTS.
 */
const cpusetUnder = new Map<string, boolean>();
const MAX_CPUSET_PARENTS = 256;

/**
 * The IO layer (io.ts, and the block-device lookup it brings), loaded on first use: only trees
 * with IO limits, and stats(), need it; a run without them does not pay for loading it.
 */
export function ioLayer(): typeof import('./io.js') {
  return require('./io.js') as typeof import('./io.js');
}
