// The disk space of an isolated tree (issue 20, the seed's DiskMB): each `tmp` of isolate()'s
// filesystem view is a fresh tmpfs, and it may be given a size: `tmp: ['/tmp', { path:
// '/scratch', sizeBytes: 256 * 2 ** 20 }]`. The size is tmpfs's own `size=` (the kernel rounds
// it up to whole pages): a write past it fails with ENOSPC. Its pages are memory, charged to the
// memory cgroup of the process that writes them, so to the tree's cgroup, within memoryBytes; a
// tmp without a size is bounded by memoryBytes alone (and, without one, by tmpfs's default of
// half the RAM): past the tree's memory limit a write ends in an OOM kill, not in ENOSPC.
//
// Shared directories (`write` paths) get no size: a per-directory quota needs a filesystem with
// project quotas (XFS, ext4 with the project feature, mounted with prjquota), which confine
// cannot count on; fileSizeBytes (RLIMIT_FSIZE) still bounds each file a process writes.
//
// This module checks the entries and gives each tmpfs its mount data. Its callers (issue 16's
// isolate()): validateIsolation() reads `filesystem.tmp` with tmpMounts() and cleans each path
// as the other lists; the view's tmpfs mounts carry `data: tmpfsData(t)`; the addon's spawn()
// reads that string into the MountRequest, and the plan mounts the tmpfs with it instead of the
// fixed "mode=1777".

import { ConfineArgumentError } from '../errors.js';

/** One `tmp` of the filesystem view: its path, and its size in bytes or null for tmpfs's default. */
export interface TmpMount {
  path: string;
  sizeBytes: number | null;
}

/** tmpfs takes sizes up to the address space; beyond a petabyte is a mistake, not a plan. */
const MAX_TMP_BYTES = 2 ** 50;

/**
 * isolate()'s `filesystem.tmp` entries, each a path or `{ path, sizeBytes }`, as TmpMounts (the
 * path as given: the caller cleans and checks it). Throws ConfineArgumentError naming the entry.
 */
export function tmpMounts(what: string, value: unknown): TmpMount[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw new ConfineArgumentError(`${what} must be an array of paths or { path, sizeBytes }`);
  return value.map((entry, i) => {
    const at = `${what}[${i}]`;
    if (typeof entry === 'string') return { path: entry, sizeBytes: null };
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry))
      throw new ConfineArgumentError(
        `${at} must be a path or { path, sizeBytes }, got ${entry === null ? 'null' : typeof entry}`,
      );
    for (const k of Object.keys(entry))
      if (k !== 'path' && k !== 'sizeBytes' && (entry as Record<string, unknown>)[k] !== undefined)
        throw new ConfineArgumentError(`${at}: unknown key ${JSON.stringify(k)}; known keys: path, sizeBytes`);
    const { path, sizeBytes } = entry as { path?: unknown; sizeBytes?: unknown };
    if (typeof path !== 'string') throw new ConfineArgumentError(`${at}.path must be a path string`);
    if (sizeBytes === undefined) return { path, sizeBytes: null };
    // 0 is "no limit" to tmpfs: refused rather than read as an empty directory or as unlimited.
    if (typeof sizeBytes !== 'number' || !Number.isInteger(sizeBytes) || sizeBytes < 1 || sizeBytes > MAX_TMP_BYTES)
      throw new ConfineArgumentError(
        `${at}.sizeBytes must be an integer between 1 and ${MAX_TMP_BYTES} (bytes), got ${String(sizeBytes)}`,
      );
    return { path, sizeBytes };
  });
}

/** The tmpfs mount data of one tmp: a sticky world-writable directory, of the size asked for. */
export function tmpfsData(t: TmpMount): string {
  return t.sizeBytes === null ? 'mode=1777' : `mode=1777,size=${t.sizeBytes}`;
}
