// Facts about block devices (Linux): which whole disk an IO limit's `device` means. The io
// controller (v2 io.max, v1 blkio.throttle.*) takes a disk's MAJ:MIN, and only a whole disk's:
// the kernel refuses a partition (ENODEV), so a partition maps to the disk that holds it.
//
//   'MAJ:MIN'     that device (/sys/dev/block/MAJ:MIN);
//   '/dev/...'    a block device node: that device; any other path: the device whose
//                 filesystem holds it (stat's st_dev);
//   a partition   its disk: /sys/dev/block/MAJ:MIN/partition exists, and the disk is the parent
//                 directory of the partition's sysfs directory.
//
// A filesystem without a device number of a disk (st_dev major 0: tmpfs, overlay, NFS, btrfs)
// is looked up in /proc/self/mountinfo: btrfs and the like name their disk as the mount source;
// overlay writes go to its upper layer, which is resolved in turn. What still has no disk
// (tmpfs, NFS, FUSE, an overlay whose upper layer is in memory) cannot be throttled by the io
// controller: `unsupported`, with the reason. A spec that names nothing on this host (no such
// path, no such device number) is `bad`: validation refuses it before anything starts.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseMountinfo, type MountEntry } from './mountinfo.js';

export type DeviceResolution =
  /** A whole disk: `device` is its MAJ:MIN, `name` its kernel name (vda, loop0, dm-1). */
  | { kind: 'disk'; device: string; name: string; via: string | null }
  /** It exists, but no block device holds it that the io controller could throttle. */
  | { kind: 'unsupported'; reason: string }
  /** It names nothing here: a typed error for the caller. */
  | { kind: 'bad'; reason: string };

const MAJ_MIN = /^(\d+):(\d+)$/;

/** Filesystems whose data is not on a local block device, and what they are instead. */
const NO_DISK: Record<string, string> = {
  tmpfs: 'memory',
  ramfs: 'memory',
  devtmpfs: 'memory',
  proc: 'a kernel view',
  sysfs: 'a kernel view',
  cgroup: 'a kernel view',
  cgroup2: 'a kernel view',
  debugfs: 'a kernel view',
  tracefs: 'a kernel view',
  securityfs: 'a kernel view',
  nfs: 'a network filesystem',
  nfs4: 'a network filesystem',
  cifs: 'a network filesystem',
  smb3: 'a network filesystem',
  ceph: 'a network filesystem',
  '9p': 'a host share',
  virtiofs: 'a host share',
};

/** Linux dev_t (as stat gives it) to [major, minor]. */
function splitDev(dev: bigint): [number, number] {
  const major = Number(((dev >> 8n) & 0xfffn) | ((dev >> 32n) & ~0xfffn));
  const minor = Number((dev & 0xffn) | ((dev >> 12n) & ~0xffn));
  return [major, minor];
}

function readText(p: string): string | null {
  try {
    return fs.readFileSync(p, 'utf8').trim();
  } catch {
    return null;
  }
}

/** A block device's MAJ:MIN to its whole disk (itself unless it is a partition). */
function wholeDisk(majMin: string, via: string | null): DeviceResolution {
  const sys = `/sys/dev/block/${majMin}`;
  let real: string;
  try {
    real = fs.realpathSync(sys);
  } catch {
    return { kind: 'bad', reason: `no block device ${majMin} on this host` };
  }
  if (!fs.existsSync(path.join(real, 'partition'))) return { kind: 'disk', device: majMin, name: path.basename(real), via };
  const disk = path.dirname(real);
  const dev = readText(path.join(disk, 'dev'));
  if (dev === null || !MAJ_MIN.test(dev))
    return { kind: 'unsupported', reason: `the disk of partition ${path.basename(real)} (${majMin}) is not known to sysfs` };
  const part = `partition ${path.basename(real)} of ${path.basename(disk)} (the io controller limits whole disks)`;
  return { kind: 'disk', device: dev, name: path.basename(disk), via: via ? `${via}, ${part}` : part };
}

/** The mount of a device number, the deepest one holding `p` (every mount of one device is the same filesystem). */
function mountOf(majMin: string, p: string): MountEntry | null {
  let text: string;
  try {
    text = fs.readFileSync('/proc/self/mountinfo', 'utf8');
  } catch {
    return null;
  }
  const holds = (m: MountEntry) => m.mountPoint === '/' || p === m.mountPoint || p.startsWith(`${m.mountPoint}/`);
  const mine = parseMountinfo(text).filter((m) => m.device === majMin);
  const held = mine.filter(holds);
  return (held.length ? held : mine).sort((a, b) => b.mountPoint.length - a.mountPoint.length)[0] ?? null;
}

/**
 * The whole disk `spec` means, or why there is none. `spec` is 'MAJ:MIN', a block device node
 * or any absolute path (the device holding it). Synchronous: a stat and a few sysfs reads.
 */
export function resolveBlockDevice(spec: string, depth = 0): DeviceResolution {
  const m = MAJ_MIN.exec(spec);
  if (m) {
    const majMin = `${Number(m[1])}:${Number(m[2])}`;
    if (fs.existsSync(`/sys/dev/block/${majMin}`)) return wholeDisk(majMin, null);
    if (fs.existsSync(`/sys/dev/char/${majMin}`))
      return { kind: 'unsupported', reason: `${majMin} is a character device; the io controller limits block devices` };
    return { kind: 'bad', reason: `no block device ${majMin} on this host` };
  }
  if (!path.isAbsolute(spec))
    return { kind: 'bad', reason: `expected MAJ:MIN, a /dev node or an absolute path, got ${JSON.stringify(spec)}` };
  let st: fs.BigIntStats;
  try {
    st = fs.statSync(spec, { bigint: true });
  } catch (e) {
    return { kind: 'bad', reason: `${spec}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}` };
  }
  if (st.isBlockDevice()) {
    const [major, minor] = splitDev(st.rdev);
    return wholeDisk(`${major}:${minor}`, null);
  }
  if (st.isCharacterDevice())
    return { kind: 'unsupported', reason: `${spec} is a character device; the io controller limits block devices` };
  const [major, minor] = splitDev(st.dev);
  const majMin = `${major}:${minor}`;
  if (major !== 0 && fs.existsSync(`/sys/dev/block/${majMin}`)) return wholeDisk(majMin, `the disk of ${spec}`);
  let real = spec;
  try {
    real = fs.realpathSync(spec);
  } catch {
    /* the stat worked: keep the path as given */
  }
  const mount = mountOf(majMin, real);
  if (!mount) return { kind: 'unsupported', reason: `${spec} is on device ${majMin}, which is not a block device` };
  const on = `${spec} is on ${mount.fstype} (${mount.mountPoint})`;
  if (mount.fstype === 'overlay') {
    const upper = mount.superOpts.find((o) => o.startsWith('upperdir='))?.slice('upperdir='.length);
    if (!upper) return { kind: 'unsupported', reason: `${on}, which has no upper layer to write to` };
    const r = depth < 4 ? resolveBlockDevice(upper, depth + 1) : null;
    if (r?.kind === 'disk')
      return {
        ...r,
        via: `${on}: its upper layer ${upper}${r.via ? `, ${r.via}` : ''}; reads from lower layers are not limited`,
      };
    return { kind: 'unsupported', reason: `${on}, whose upper layer ${upper} has no backing disk${r ? ` (${r.reason})` : ''}` };
  }
  const what = NO_DISK[mount.fstype] ?? (mount.fstype.startsWith('fuse') ? 'a FUSE filesystem' : null);
  if (what) return { kind: 'unsupported', reason: `${on}: ${what}, not a block device` };
  // btrfs and the like have an anonymous st_dev: their disk is the mount source.
  if (mount.source.startsWith('/dev/')) {
    let src: fs.BigIntStats | null = null;
    try {
      src = fs.statSync(mount.source, { bigint: true });
    } catch {
      /* not visible here */
    }
    if (src?.isBlockDevice()) {
      const [smaj, smin] = splitDev(src.rdev);
      const r = wholeDisk(`${smaj}:${smin}`, `${on}, mounted from ${mount.source}`);
      if (r.kind === 'disk') return r;
    }
  }
  return { kind: 'unsupported', reason: `${on}, which names no block device` };
}

/**
 * The first whole disk this host has (virtual disks first, then the rest; loop and RAM disks
 * last), for capabilities() to describe what an IO limit would get. null without any.
 */
export function sampleBlockDevice(): string | null {
  let names: string[];
  try {
    names = fs.readdirSync('/sys/block');
  } catch {
    return null;
  }
  const rank = (n: string) => (/^(loop|ram|zram)/.test(n) ? 1 : 0);
  names.sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
  for (const n of names) {
    const dev = readText(`/sys/block/${n}/dev`);
    if (dev && MAJ_MIN.test(dev)) return dev;
  }
  return null;
}
