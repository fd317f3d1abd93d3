// Resources -> cgroup files, for v2 (one directory) and v1 (one directory per hierarchy).
//
//   memoryBytes      v2 memory.max              v1 memory.limit_in_bytes
//   memorySwapBytes  v2 memory.swap.max         v1 memory.memsw.limit_in_bytes (= memory + swap)
//   cpu              v2 cpu.max "quota 100000"  v1 cpu.cfs_period_us=100000, cpu.cfs_quota_us
//   cpuWeight        v2 cpu.weight              v1 cpu.shares = 2 + (w-1)*262142/9999 (runc)
//   cpus             v2 cpuset.cpus             v1 cpuset.cpus (cpuset.mems copied from parent)
//   maxProcesses     pids.max (both)
//   io*              v2 io.max, io.weight; v1 blkio.throttle.*, blkio.weight (lib/cgroup/io.ts)
//
// Infinity removes a limit ("max", v1 -1). When memoryBytes is set at creation and
// memorySwapBytes is not, swap is set to 0 (v1: memsw = memory) where the kernel accounts
// swap, so that "hard" holds: past memoryBytes the tree is OOM-killed instead of swapping.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { asksForIo } from '../resources.js';
import type { Resources } from '../types.js';
import { ConfineArgumentError, SystemError } from '../errors.js';
import { errCode, readNumber, readOpt, writeFile, ioLayer } from './files.js';

export const CPU_PERIOD_US = 100000;
/** cpu.cfs_period_us of a new v1 cgroup (the kernel's default_cfs_period(), not the parent's). */
const KERNEL_DEFAULT_PERIOD_US = 100000;
/** The kernel refuses a cfs quota below 1 ms. */
const MIN_QUOTA_US = 1000;

function num(name: string, v: unknown, min: number, integer: boolean, max = Infinity): number {
  if (typeof v !== 'number' || Number.isNaN(v) || v < min || v > max || (integer && Number.isFinite(v) && !Number.isInteger(v))) {
    throw new ConfineArgumentError(
      `${name} must be ${integer ? 'an integer' : 'a number'} >= ${min}${max !== Infinity ? ` and <= ${max}` : ''} (or Infinity for no limit), got ${String(v)}`,
    );
  }
  return v;
}

/** Check the cgroup resources of `r` (the others are not looked at). */
export function validateCgroupResources(r: Resources): void {
  if (r.memoryBytes !== undefined) num('memoryBytes', r.memoryBytes, 1, false);
  if (r.memorySwapBytes !== undefined) num('memorySwapBytes', r.memorySwapBytes, 0, false);
  if (r.cpu !== undefined) {
    num('cpu', r.cpu, 0, false);
    if (r.cpu === 0) throw new ConfineArgumentError('cpu must be > 0');
  }
  if (r.cpuWeight !== undefined) {
    num('cpuWeight', r.cpuWeight, 1, true, 10000);
    if (!Number.isFinite(r.cpuWeight)) throw new ConfineArgumentError('cpuWeight must be 1..10000');
  }
  if (r.maxProcesses !== undefined) num('maxProcesses', r.maxProcesses, 1, true);
  if (
    r.cpus !== undefined &&
    (typeof r.cpus !== 'string' || !/^\s*[0-9]+(-[0-9]+)?(\s*,\s*[0-9]+(-[0-9]+)?)*\s*$/.test(r.cpus))
  ) {
    throw new ConfineArgumentError(`cpus must be a CPU list such as "0-1" or "0,2", got ${JSON.stringify(r.cpus)}`);
  }
  if (asksForIo(r)) ioLayer().validateIoResources(r);
}

const bytes = (v: number) => (Number.isFinite(v) ? String(Math.floor(v)) : 'max');
const quota = (cores: number) => (Number.isFinite(cores) ? Math.max(MIN_QUOTA_US, Math.round(cores * CPU_PERIOD_US)) : null);

/** cpu.weight (1..10000) to v1 cpu.shares (2..262144), as runc converts it. */
export function weightToShares(w: number): number {
  const s = Math.floor(2 + ((w - 1) * 262142) / 9999);
  return Math.min(262144, Math.max(2, s));
}

export interface LimitContext {
  /** Controllers the task cgroup has. */
  controllers: string[];
  swap: boolean;
  /** true at creation: also the defaults (swap 0, oom.group). */
  creating: boolean;
}

/** Write the limits into a v2 cgroup directory. */
export function writeV2(dir: string, r: Resources, ctx: LimitContext): void {
  const has = (c: string) => ctx.controllers.includes(c);
  const w = (f: string, v: string) => writeFile(path.join(dir, f), v);
  if (has('memory')) {
    const limited = r.memoryBytes !== undefined && Number.isFinite(r.memoryBytes);
    // The tree's first memory limit (an update of a tree without one) brings the same no-swap
    // default as a limit given at start; swap set on its own before is kept.
    const unlimited = (f: string) => (readOpt(path.join(dir, f)) ?? '').trim() === 'max';
    const first =
      !ctx.creating &&
      limited &&
      ctx.swap &&
      r.memorySwapBytes === undefined &&
      unlimited('memory.max') &&
      unlimited('memory.swap.max');
    if (r.memoryBytes !== undefined) w('memory.max', bytes(r.memoryBytes));
    if (ctx.swap) {
      if (r.memorySwapBytes !== undefined) w('memory.swap.max', bytes(r.memorySwapBytes));
      else if ((ctx.creating || first) && limited) w('memory.swap.max', '0');
    }
    if (ctx.creating) w('memory.oom.group', '1');
  }
  if (has('cpu')) {
    if (r.cpu !== undefined) {
      const q = quota(r.cpu);
      w('cpu.max', `${q === null ? 'max' : q} ${CPU_PERIOD_US}`);
    }
    if (r.cpuWeight !== undefined) w('cpu.weight', String(r.cpuWeight));
  }
  if (has('cpuset') && r.cpus !== undefined) writeCpus(path.join(dir, 'cpuset.cpus'), r.cpus, 'cpuset.cpus.effective');
  if (has('pids') && r.maxProcesses !== undefined)
    w('pids.max', Number.isFinite(r.maxProcesses) ? String(r.maxProcesses) : 'max');
  if (has('io') && asksForIo(r)) ioLayer().writeIoV2(dir, r);
}

/**
 * cpuset.cpus: a list naming CPUs the parent cannot give (v2 says ERANGE or EINVAL, v1 EACCES:
 * "not a subset of the parent"; CPUs that are not online at all are refused before, by
 * validateResources) is said with the CPUs that are there instead of the raw error alone.
 */
function writeCpus(file: string, cpus: string, effectiveName: string): void {
  try {
    writeFile(file, cpus.replace(/\s+/g, ''));
  } catch (e) {
    const errno = (e as { errno?: unknown }).errno;
    if (errno !== 'ERANGE' && errno !== 'EINVAL' && errno !== 'EACCES') throw e;
    let there = 'unknown';
    try {
      there = fs.readFileSync(path.join(path.dirname(path.dirname(file)), effectiveName), 'utf8').trim() || 'none';
    } catch {
      /* say unknown */
    }
    throw new SystemError(
      `cpus ${JSON.stringify(cpus)}: not CPUs this tree may use: its cgroup parent has CPUs ${there} (${errno} from ${path.basename(file)})`,
      { syscall: 'write', errno, path: file, cause: e },
    );
  }
}

/** Write the limits into v1 directories (controller -> dir). */
export function writeV1(paths: Record<string, string>, r: Resources, ctx: LimitContext): void {
  const has = (c: string) => ctx.controllers.includes(c) && paths[c] !== undefined;
  if (has('memory')) {
    const d = paths.memory!;
    const memFile = path.join(d, 'memory.limit_in_bytes');
    const swFile = path.join(d, 'memory.memsw.limit_in_bytes');
    const v1b = (v: number) => (Number.isFinite(v) ? String(Math.floor(v)) : '-1');
    const mem: string | null = r.memoryBytes !== undefined ? v1b(r.memoryBytes) : null;
    let sw: string | null = null;
    if (ctx.swap) {
      if (r.memorySwapBytes !== undefined) {
        const base = r.memoryBytes ?? readNumber(memFile);
        if (
          base !== null &&
          base !== undefined &&
          Number.isFinite(base) &&
          Number.isFinite(r.memorySwapBytes) &&
          base < 2 ** 62
        ) {
          sw = v1b(base + r.memorySwapBytes);
        } else {
          sw = '-1';
        }
      } else if (ctx.creating && r.memoryBytes !== undefined) {
        sw = mem;
      } else if (r.memoryBytes !== undefined) {
        // memory changes alone: keep the swap allowance (memsw - memory) as it was.
        const oldMem = readNumber(memFile);
        const oldSw = readNumber(swFile);
        const big = 2 ** 62;
        if (oldMem !== null && oldSw !== null && oldSw < big) {
          sw = Number.isFinite(r.memoryBytes) && oldMem < big ? v1b(r.memoryBytes + Math.max(0, oldSw - oldMem)) : '-1';
        }
      }
    }
    // memsw must stay >= memory at every step: try memory first, and on EINVAL the other order.
    const steps: [string, string][] = [];
    if (mem !== null) steps.push([memFile, mem]);
    if (sw !== null) steps.push([swFile, sw]);
    try {
      for (const [f, v] of steps) writeFile(f, v);
    } catch (e) {
      if (steps.length === 2 && errCode((e as { cause?: unknown }).cause) === 'EINVAL') {
        for (const [f, v] of steps.reverse()) writeFile(f, v);
      } else {
        throw e;
      }
    }
  }
  if (has('cpu')) {
    const d = paths.cpu!;
    if (r.cpu !== undefined) {
      const q = quota(r.cpu);
      // A new cgroup has the kernel's default period, which is ours (100 ms): written on updates.
      if (!ctx.creating || CPU_PERIOD_US !== KERNEL_DEFAULT_PERIOD_US)
        writeFile(path.join(d, 'cpu.cfs_period_us'), String(CPU_PERIOD_US));
      writeFile(path.join(d, 'cpu.cfs_quota_us'), q === null ? '-1' : String(q));
    }
    if (r.cpuWeight !== undefined) writeFile(path.join(d, 'cpu.shares'), String(weightToShares(r.cpuWeight)));
  }
  if (has('cpuset') && r.cpus !== undefined) writeCpus(path.join(paths.cpuset!, 'cpuset.cpus'), r.cpus, 'cpuset.effective_cpus');
  if (has('pids') && r.maxProcesses !== undefined) {
    writeFile(path.join(paths.pids!, 'pids.max'), Number.isFinite(r.maxProcesses) ? String(r.maxProcesses) : 'max');
  }
  if (has('blkio') && asksForIo(r)) ioLayer().writeIoV1(paths.blkio!, r);
}
