// Reading a task cgroup's small files at a tree's exit, and the descriptors kept open for a
// directory the pool reuses or a spare it made ahead.
//
// Measured on this project's machines (kernel 6.18, 2 cores): a cgroup file read from JS
// (readFileSync) ~14 µs; open, read and close in C ~6 µs; pread on a descriptor held open ~1.6 µs
// (a cgroup file makes its text anew at offset 0 on every read). So the files read at an exit go
// to the addon in one call (readFiles), and a reused v2 directory (TaskCgroup.reissue()), read
// at every release (cgroup.events, cpu.stat, and the directory itself for its sub-cgroups) and
// joined at every spawn (cgroup.procs), keeps those descriptors open across the trees that use
// it: one pread, or the child's one write, each. A spare opens its cgroup.procs files when it is
// made (prepareJoin()).
//
// A directory reads as its link count, "nlink <n>", here as in the addon: on cgroupfs (kernfs)
// that is 2 + its subdirectories, refreshed on every stat, and a cgroup's only subdirectories are
// its child cgroups. For a held directory fd the identity check's fstat gives it: no read at all.
//
// A descriptor kept across turns of the event loop is checked before each use and before it is
// closed (its device and inode, one addon call for all): user code that closes an fd number twice
// (a bug, but a common one; the adversarial suite does it) can hand that number to another file
// meanwhile. One that changed is forgotten, never closed (it is not ours any more), and the file
// opened again. Without the check the child could write its "0" into the user's file instead of
// joining its cgroup.
//
// Fresh directories keep none: a tree would hold several more descriptors for its whole life
// (1,000 trees alive at once: thousands) to save microseconds once. The held sets of reused
// directories are capped (MAX_HELD_SETS) for the same reason; past the cap a reused directory is
// read as a fresh one.

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
  if (!addon?.readFiles) return items.map(readOne);
  try {
    return addon.readFiles(items);
  } catch (e) {
    throw readError(e);
  }
}

/** The addon's failure to read cgroup files, typed. */
function readError(e: unknown): SystemError {
  const err = e as AddonError;
  return new SystemError(`cannot read cgroup files: ${err?.message ?? String(e)}`, {
    syscall: err?.syscall ?? null,
    errno: err?.errno ?? null,
    stage: 'cgroup',
    cause: e,
  });
}

/** "dev:ino" of each fd, null for one not open: in one addon call where the addon has it. */
function identities(fds: number[]): (string | null)[] {
  if (fds.length === 0) return [];
  const addon = posixAddon();
  if (addon?.fdIdentity) return addon.fdIdentity(fds);
  return fds.map((fd) => {
    try {
      const st = fs.fstatSync(fd);
      return `${st.dev}:${st.ino}`;
    } catch {
      return null;
    }
  });
}

/** readFiles()' fallback for one item; a directory reads as its link count, as in the addon. */
function readOne(it: number | string): string | null {
  try {
    const st = typeof it === 'number' ? fs.fstatSync(it) : fs.statSync(it);
    if (st.isDirectory()) return `nlink ${st.nlink}\n`;
  } catch {
    /* read below: it reports what fails */
  }
  return typeof it === 'number' ? readFd(it) : readOpt(it);
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

interface Kept {
  fd: number;
  id: string | null;
}

/**
 * Descriptors of files, opened on first use and kept until close(), each checked before use.
 * A reused directory's set comes from acquire() (null once MAX_HELD_SETS are held: the caller
 * then reads by path); a spare's cgroup.procs from new HeldFiles() (the pool bounds those).
 */
export class HeldFiles {
  private readonly kept = new Map<string, Kept>();
  private open = true;

  constructor(private readonly counted = false) {
    if (counted) heldSets++;
  }

  static acquire(): HeldFiles | null {
    return heldSets < MAX_HELD_SETS ? new HeldFiles(true) : null;
  }

  /** Forget (without closing) each of `files` whose fd is no longer the file opened. */
  private check(files: string[]): void {
    const held = files.filter((f) => this.kept.has(f));
    const ids = identities(held.map((f) => this.kept.get(f)!.fd));
    held.forEach((f, i) => {
      if (ids[i] === null || ids[i] !== this.kept.get(f)!.id) this.kept.delete(f);
    });
  }

  private keep(entries: [file: string, fd: number][]): void {
    const ids = identities(entries.map(([, fd]) => fd));
    entries.forEach(([file, fd], i) => this.kept.set(file, { fd, id: ids[i] ?? null }));
  }

  /**
   * The fd of each [file, flags], checked, or opened now (O_CLOEXEC: Node's default) and kept.
   * Throws a SystemError when one cannot be opened (those opened stay kept: close() closes them).
   */
  fds(entries: [file: string, flags: number][]): number[] {
    this.check(entries.map(([f]) => f));
    const opened: [string, number][] = [];
    try {
      for (const [file, flags] of entries) {
        if (this.kept.has(file)) continue;
        try {
          opened.push([file, fs.openSync(file, flags)]);
        } catch (e) {
          throw sysError(`cannot open ${file}`, e, file);
        }
      }
    } finally {
      this.keep(opened);
    }
    return entries.map(([f]) => this.kept.get(f)!.fd);
  }

  /** The texts of `files` (held open from now on); null for one missing or gone. */
  read(files: string[]): (string | null)[] {
    const held = this.readHeld(files);
    if (held) return held;
    this.check(files);
    // Not held yet: read by path (a missing file costs one failed open, in C), then held.
    const texts = readFiles(files.map((f) => this.kept.get(f)?.fd ?? f));
    const opened: [string, number][] = [];
    files.forEach((f, i) => {
      if (texts[i] === null || this.kept.has(f)) return;
      try {
        opened.push([f, fs.openSync(f, fs.constants.O_RDONLY)]);
      } catch {
        /* gone meanwhile: read by path next time */
      }
    });
    this.keep(opened);
    return texts;
  }

  /**
   * When every one of `files` is held with a known identity (a reused directory from its second
   * release on): their check and read in one addon call. null when that cannot serve, or one fd
   * is not the file any more (then forgotten, never closed: read() reads it by path and holds it
   * anew).
   */
  private readHeld(files: string[]): (string | null)[] | null {
    const addon = posixAddon();
    if (!addon?.readHeldFiles) return null;
    const fds: number[] = [];
    const ids: string[] = [];
    for (const f of files) {
      const k = this.kept.get(f);
      if (k === undefined || k.id === null) return null;
      fds.push(k.fd);
      ids.push(k.id);
    }
    let texts: (string | null | false)[];
    try {
      texts = addon.readHeldFiles(fds, ids);
    } catch (e) {
      throw readError(e);
    }
    let ours = true;
    for (let i = 0; i < texts.length; i++) {
      if (texts[i] === false) {
        this.kept.delete(files[i]!);
        ours = false;
      }
    }
    return ours ? (texts as (string | null)[]) : null;
  }

  /** Close every descriptor that is still ours. Idempotent. */
  close(): void {
    if (!this.open) return;
    this.open = false;
    if (this.counted) heldSets--;
    this.check([...this.kept.keys()]);
    for (const { fd } of this.kept.values()) {
      try {
        fs.closeSync(fd);
      } catch {
        /* closed already: nothing held */
      }
    }
    this.kept.clear();
  }
}
