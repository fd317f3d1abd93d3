// Disk IO of a task cgroup: its limits, how they are enforced, and its counters.
//
//   ioReadBytesPerSecond   v2 io.max "MAJ:MIN rbps=N"   v1 blkio.throttle.read_bps_device "MAJ:MIN N"
//   ioWriteBytesPerSecond  v2 io.max wbps               v1 blkio.throttle.write_bps_device
//   ioReadOpsPerSecond     v2 io.max riops              v1 blkio.throttle.read_iops_device
//   ioWriteOpsPerSecond    v2 io.max wiops              v1 blkio.throttle.write_iops_device
//   ioWeight 1..10000      v2 io.weight (iocost) as is, io.bfq.weight (BFQ) 1..1000;
//                          v1 blkio.bfq.weight 1..1000, blkio.weight (CFQ) 10..1000; each scaled
//                          so that the default (100) stays the default (as systemd does)
//
// A throttle names its disk by 'MAJ:MIN', node or path (lib/block-devices.ts resolves it to the
// whole disk). A device the io controller cannot limit (tmpfs, NFS, ...) is skipped here and
// reported not enforced by ioEnforcement(). Infinity lifts a throttle ("max", v1 0).
//
// What holds against a hostile tree: v2 attributes written-back pages to the cgroup that dirtied
// them (cgroup writeback, with the memory controller), so buffered writes are throttled too. v1
// cannot: buffered writes reach the disk from the kernel's flusher threads, outside any blkio
// cgroup, so only the tree's own submissions (O_DIRECT, fsync, reads) are throttled there.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { resolveBlockDevice, type DeviceResolution } from '../block-devices.js';
import { ConfineArgumentError } from '../errors.js';
import type { Enforcement, IoDeviceRate, Resources, Stats } from '../types.js';
import { detectCgroups } from './hierarchy.js';
import { exists, readOpt, writeFile } from './files.js';

type RateKey = 'ioReadBytesPerSecond' | 'ioWriteBytesPerSecond' | 'ioReadOpsPerSecond' | 'ioWriteOpsPerSecond';

const V2_FIELD: Record<RateKey, string> = {
  ioReadBytesPerSecond: 'rbps',
  ioWriteBytesPerSecond: 'wbps',
  ioReadOpsPerSecond: 'riops',
  ioWriteOpsPerSecond: 'wiops',
};
const V1_FILE: Record<RateKey, string> = {
  ioReadBytesPerSecond: 'blkio.throttle.read_bps_device',
  ioWriteBytesPerSecond: 'blkio.throttle.write_bps_device',
  ioReadOpsPerSecond: 'blkio.throttle.read_iops_device',
  ioWriteOpsPerSecond: 'blkio.throttle.write_iops_device',
};
export const IO_RATE_KEYS = Object.keys(V2_FIELD) as RateKey[];

interface Throttle {
  key: RateKey;
  spec: string;
  rate: number;
  disk: DeviceResolution;
}

/** The rates of `r` as a list, each device resolved now; throws on a malformed shape. */
function throttlesOf(r: Resources): Throttle[] {
  const out: Throttle[] = [];
  for (const key of IO_RATE_KEYS) {
    const v = r[key];
    if (v === undefined) continue;
    for (const e of (Array.isArray(v) ? v : [v]) as IoDeviceRate[]) {
      const rate = e?.rate;
      if (
        typeof e?.device !== 'string' ||
        typeof rate !== 'number' ||
        Number.isNaN(rate) ||
        rate <= 0 ||
        (Number.isFinite(rate) && !Number.isInteger(rate))
      )
        throw new ConfineArgumentError(
          `${key}: expected { device, rate } with an integer rate > 0 (or Infinity), got ${JSON.stringify(e)}`,
        );
      out.push({ key, spec: e.device, rate, disk: resolveBlockDevice(e.device) });
    }
  }
  return out;
}

/** Check the IO resources of `r` for the cgroup layer (the API checks more: lib/validate.ts). */
export function validateIoResources(r: Resources): void {
  if (r.ioWeight !== undefined && (!Number.isInteger(r.ioWeight) || r.ioWeight < 1 || r.ioWeight > 10000))
    throw new ConfineArgumentError(`ioWeight must be an integer 1..10000, got ${String(r.ioWeight)}`);
  throttlesOf(r);
}

/**
 * io.weight's 1..10000 (default 100) on another scale, piecewise linear so that 1, 100 and
 * 10000 land on its minimum, default and maximum (systemd converts IOWeight= to BFQ this way).
 */
export function scaleIoWeight(w: number, min: number, def: number, max: number): number {
  const v = w <= 100 ? def - ((100 - w) * (def - min)) / 99 : def + ((w - 100) * (max - def)) / 9900;
  return Math.min(max, Math.max(min, Math.round(v)));
}

/** The weight files a directory of the io (v2) or blkio (v1) hierarchy has, with the value each takes. */
function weightFiles(version: 1 | 2, dir: string, w: number): [string, string, string][] {
  const files: [string, string, string][] =
    version === 2
      ? [
          ['io.weight', String(w), 'iocost'],
          ['io.bfq.weight', String(scaleIoWeight(w, 1, 100, 1000)), 'bfq'],
        ]
      : [
          ['blkio.bfq.weight', String(scaleIoWeight(w, 1, 100, 1000)), 'bfq'],
          ['blkio.weight', String(scaleIoWeight(w, 10, 500, 1000)), 'cfq'],
        ];
  return files.filter(([f]) => exists(path.join(dir, f)));
}

const rateText = (v: number, lift: string) => (Number.isFinite(v) ? String(Math.floor(v)) : lift);

/** Write the IO limits of `r` into a v2 task cgroup directory (the io controller enabled). */
export function writeIoV2(dir: string, r: Resources): void {
  const byDisk = new Map<string, string[]>();
  for (const t of throttlesOf(r)) {
    if (t.disk.kind !== 'disk') continue;
    const fields = byDisk.get(t.disk.device) ?? [];
    fields.push(`${V2_FIELD[t.key]}=${rateText(t.rate, 'max')}`);
    byDisk.set(t.disk.device, fields);
  }
  for (const [dev, fields] of byDisk) writeFile(path.join(dir, 'io.max'), `${dev} ${fields.join(' ')}`);
  if (r.ioWeight !== undefined) for (const [f, v] of weightFiles(2, dir, r.ioWeight)) writeFile(path.join(dir, f), v);
}

/** Write the IO limits of `r` into a v1 blkio task directory. */
export function writeIoV1(dir: string, r: Resources): void {
  for (const t of throttlesOf(r)) {
    if (t.disk.kind === 'disk') writeFile(path.join(dir, V1_FILE[t.key]), `${t.disk.device} ${rateText(t.rate, '0')}`);
  }
  if (r.ioWeight !== undefined) for (const [f, v] of weightFiles(1, dir, r.ioWeight)) writeFile(path.join(dir, f), v);
}

/** Disks whose IO scheduler shares by weight here: name -> how (bfq, cfq, iocost). */
function weightedDisks(version: 1 | 2): Map<string, string> {
  const out = new Map<string, string>();
  let names: string[] = [];
  try {
    names = fs.readdirSync('/sys/block');
  } catch {
    /* no sysfs */
  }
  const byDev = new Map<string, string>();
  for (const n of names) {
    const sched = /\[(\w+)\]/.exec(readOpt(`/sys/block/${n}/queue/scheduler`) ?? '')?.[1];
    if (sched === 'bfq' || (version === 1 && sched === 'cfq')) out.set(n, sched);
    const dev = (readOpt(`/sys/block/${n}/dev`) ?? '').trim();
    if (dev) byDev.set(dev, n);
  }
  // iocost: enabled per disk in the v2 root's io.cost.qos ("MAJ:MIN enable=1 ...").
  const root = version === 2 ? detectCgroups().unified?.mount : undefined;
  const qos = root ? readOpt(path.join(root, 'io.cost.qos')) : null;
  for (const line of (qos ?? '').split('\n')) {
    const [dev, ...kv] = line.trim().split(/\s+/);
    const name = dev ? byDev.get(dev) : undefined;
    if (name && kv.includes('enable=1') && !out.has(name)) out.set(name, 'iocost');
  }
  return out;
}

/**
 * How the IO resources of `r` are enforced by a task cgroup of `version` whose io (v2) or blkio
 * (v1) directory is, or will be made under, `dir`; `memory`: the tree has the memory controller
 * too (v2 writeback needs it). Every IO resource of `r` gets a row, enforced or saying why not.
 */
export function ioEnforcement(
  version: 1 | 2,
  dir: string,
  memory: boolean,
  r: Resources,
): Partial<Record<keyof Resources, Enforcement>> {
  const out: Partial<Record<keyof Resources, Enforcement>> = {};
  const mechanism = version === 2 ? 'cgroup2' : 'cgroup1';
  const row = (enforced: boolean, note: string): Enforcement => ({ enforced, mechanism, scope: 'tree', note });
  const throttles = throttlesOf(r);
  for (const key of IO_RATE_KEYS) {
    const mine = throttles.filter((t) => t.key === key);
    if (mine.length === 0) continue;
    const file = version === 2 ? `io.max ${V2_FIELD[key]}` : V1_FILE[key];
    const on: string[] = [];
    const off: string[] = [];
    for (const t of mine) {
      if (t.disk.kind === 'disk') on.push(`${t.disk.name} (${t.disk.device})${t.disk.via ? `: ${t.disk.via}` : ''}`);
      else off.push(`${JSON.stringify(t.spec)}: ${t.disk.kind === 'unsupported' ? t.disk.reason : 'not found'}`);
    }
    const notes: string[] = [];
    if (on.length) notes.push(`${file} on ${on.join('; ')}`);
    if (off.length) notes.push(`not limited: ${off.join('; ')}`);
    const write = key === 'ioWriteBytesPerSecond' || key === 'ioWriteOpsPerSecond';
    let holds = off.length === 0;
    if (write && version === 1) {
      holds = false;
      notes.push(
        "v1 limits only the writes the tree submits itself (O_DIRECT, fsync): buffered writes reach the disk from the kernel's flusher threads, outside any blkio cgroup (cgroup v2 limits them)",
      );
    } else if (write && !memory) {
      holds = false;
      notes.push('without the memory controller, v2 cannot charge written-back pages to the tree: buffered writes escape');
    } else if (write) {
      notes.push('buffered writes too: their writeback is charged to the tree (cgroup writeback)');
    }
    out[key] = row(holds, notes.join('; '));
  }
  if (r.ioWeight !== undefined) {
    const files = weightFiles(version, dir, r.ioWeight).map(([f]) => f);
    const disks = [...weightedDisks(version)].filter(([, how]) =>
      files.some((f) => (how === 'iocost' ? f === 'io.weight' : how === 'cfq' ? f === 'blkio.weight' : f.includes('bfq'))),
    );
    if (files.length === 0)
      out.ioWeight = row(
        false,
        version === 2
          ? 'this kernel has neither iocost (io.weight) nor BFQ (io.bfq.weight)'
          : 'this kernel has no blkio.weight (CFQ, removed in Linux 5.0) nor blkio.bfq.weight (BFQ not built or loaded)',
      );
    else if (disks.length === 0)
      out.ioWeight = row(
        false,
        `${files.join(' and ')} written, but no disk here shares by weight: none uses the BFQ scheduler${version === 2 ? ' or has iocost enabled (io.cost.qos)' : ''}`,
      );
    else
      out.ioWeight = row(
        true,
        `${files.join(' and ')}, scaled with 100 as the default; it takes effect on ${disks.map(([n, how]) => `${n} (${how})`).join(', ')}, other disks ignore it`,
      );
  }
  return out;
}

/** v2 io.stat ("MAJ:MIN rbytes=N wbytes=N rios=N wios=N ..."), summed over disks. */
function readIoStatV2(dir: string): Pick<Stats, 'ioReadBytes' | 'ioWriteBytes' | 'ioReadOps' | 'ioWriteOps'> | null {
  const text = readOpt(path.join(dir, 'io.stat'));
  if (text === null) return null;
  const sum = { rbytes: 0, wbytes: 0, rios: 0, wios: 0 };
  for (const line of text.split('\n')) {
    for (const kv of line.trim().split(/\s+/).slice(1)) {
      const [k, v] = kv.split('=');
      if (k && Object.hasOwn(sum, k)) sum[k as keyof typeof sum] += Number(v) || 0;
    }
  }
  return { ioReadBytes: sum.rbytes, ioWriteBytes: sum.wbytes, ioReadOps: sum.rios, ioWriteOps: sum.wios };
}

/** v1 "MAJ:MIN Read N" / "MAJ:MIN Write N" lines, summed over disks; null without the file. */
function sumV1(dir: string, base: string): { read: number; write: number } | null {
  const text = readOpt(path.join(dir, `${base}_recursive`)) ?? readOpt(path.join(dir, base));
  if (text === null) return null;
  const out = { read: 0, write: 0 };
  for (const line of text.split('\n')) {
    const [dev, op, n] = line.trim().split(/\s+/);
    if (!dev?.includes(':')) continue;
    if (op === 'Read') out.read += Number(n) || 0;
    else if (op === 'Write') out.write += Number(n) || 0;
  }
  return out;
}

/** The tree's disk IO counters from its io (v2) or blkio (v1) directory; null where it has none. */
export function readIoStats(
  version: 1 | 2,
  dir: string | undefined,
): Pick<Stats, 'ioReadBytes' | 'ioWriteBytes' | 'ioReadOps' | 'ioWriteOps'> | null {
  if (dir === undefined) return null;
  if (version === 2) return readIoStatV2(dir);
  const bytes = sumV1(dir, 'blkio.throttle.io_service_bytes');
  const ops = sumV1(dir, 'blkio.throttle.io_serviced');
  if (!bytes || !ops) return null;
  return { ioReadBytes: bytes.read, ioWriteBytes: bytes.write, ioReadOps: ops.read, ioWriteOps: ops.write };
}
