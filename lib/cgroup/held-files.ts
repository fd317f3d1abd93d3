// Reading a task cgroup's small files at a tree's exit, and the descriptors kept open for a
// directory the pool reuses.
//
// Measured on this project's machines (kernel 6.18, 2 cores): a cgroup file read from JS
// (readFileSync) ~14 µs; open, read and close in C ~6 µs; pread on a descriptor held open ~1.6 µs
// (a cgroup file makes its text anew at offset 0 on every read). So the files read at an exit go
// to the addon in one call (readFiles), and a reused v2 directory (TaskCgroup.reissue()), read
// at every release (cgroup.events, cgroup.stat, cpu.stat) and joined at every spawn
// (cgroup.procs), keeps those descriptors open across the trees that use it: one pread, or the
// child's one write, each.
//
// Fresh directories keep none: a tree would hold several more descriptors for its whole life
// (1,000 trees alive at once: thousands) to save microseconds once. The held sets are capped
// (MAX_HELD_SETS) for the same reason; past the cap a reused directory is read as a fresh one.

import * as fs from 'node:fs';
import type { AddonError } from '../addon.js';
import { SystemError } from '../errors.js';
import { posixAddon } from '../loader.js';
import { readOpt, sysError } from './files.js';

/** Reused directories whose descriptors are held at once, in this process. */
const MAX_HELD_SETS = 64;
let heldSets = 0;

/**
 * The text of each item, an fd (read from offset 0) or a path, in one addon call where the addon
 * has readFiles (else one fs read each); null where the file or its cgroup is gone.
 */
export function readFiles(items: (number | string)[]): (string | null)[] {
  const addon = posixAddon();
  if (!addon?.readFiles) return items.map((it) => (typeof it === 'number' ? readFd(it) : readOpt(it)));
  try {
    return addon.readFiles(items);
  } catch (e) {
    const err = e as AddonError;
    throw new SystemError(`cannot read cgroup files: ${err?.message ?? String(e)}`, {
      syscall: err?.syscall ?? null,
      errno: err?.errno ?? null,
      stage: 'cgroup',
      cause: e,
    });
  }
}

/** readFiles()' fallback for an fd: its whole text from offset 0. */
function readFd(fd: number): string | null {
  const chunks: Buffer[] = [];
  let pos = 0;
  try {
    for (;;) {
      const buf = Buffer.allocUnsafe(4096);
      const n = fs.readSync(fd, buf, 0, buf.length, pos);
      if (n === 0) break;
      chunks.push(buf.subarray(0, n));
      pos += n;
    }
  } catch (e) {
    const c = (e as NodeJS.ErrnoException).code;
    if (c === 'ENODEV' || c === 'ENOENT') return null;
    throw sysError('cannot read a cgroup file', e);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * Descriptors of one directory's files, opened on first use and kept until close(). null from
 * acquire() once MAX_HELD_SETS sets are held: the caller then reads by path.
 */
export class HeldFiles {
  private readonly fds = new Map<string, number>();
  private open = true;

  private constructor() {
    heldSets++;
  }

  static acquire(): HeldFiles | null {
    return heldSets < MAX_HELD_SETS ? new HeldFiles() : null;
  }

  /** The held fd of `file`, opened with `flags` (O_CLOEXEC: Node's default) on first use. */
  fd(file: string, flags: number): number {
    let fd = this.fds.get(file);
    if (fd === undefined) {
      try {
        fd = fs.openSync(file, flags);
      } catch (e) {
        throw sysError(`cannot open ${file}`, e, file);
      }
      this.fds.set(file, fd);
    }
    return fd;
  }

  /** The texts of `files` (held open from now on); null for one missing or gone. */
  read(files: string[]): (string | null)[] {
    // Not held yet: read by path (a missing file costs one failed open, in C), then held.
    const texts = readFiles(files.map((f) => this.fds.get(f) ?? f));
    files.forEach((f, i) => {
      if (texts[i] === null || this.fds.has(f)) return;
      try {
        this.fds.set(f, fs.openSync(f, fs.constants.O_RDONLY));
      } catch {
        /* gone meanwhile: read by path next time */
      }
    });
    return texts;
  }

  /** Close every descriptor (the directory is removed or no longer reused). Idempotent. */
  close(): void {
    if (!this.open) return;
    this.open = false;
    heldSets--;
    for (const fd of this.fds.values()) {
      try {
        fs.closeSync(fd);
      } catch {
        /* closed already: nothing held */
      }
    }
    this.fds.clear();
  }
}
