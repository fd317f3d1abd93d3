// The filesystem view of a tree, resolved on the host when start() runs: which host paths it
// holds and how (the mount list the addon builds the new root from), and, for the program, its
// interpreter and the working directory, whether the view holds them. Synchronous on purpose, as
// lib/lookpath.ts: a few lstat/readlink calls of cached entries.
//
// Paths keep their host location in the view (a bind of /srv/job is /srv/job inside), so a path
// means the same to the supervisor and to the child. Symlinks met on the way to a listed path
// are recreated in the new root where no bind shows them already (the usr-merge links /bin ->
// usr/bin and friends among them), and each listed path is bound at its real location.

import { closeSync, lstatSync, openSync, readlinkSync, readSync, type Stats, statSync } from 'node:fs';
import * as path from 'node:path';
import { monotonicMs } from '../clock.js';
import { IsolationError } from '../errors.js';
import { tmpfsData } from './tmp-size.js';
import { checkOverlap, type FilesystemSpec, within } from './validate.js';

export interface ViewMount {
  kind: 'bind' | 'tmpfs' | 'proc' | 'dev' | 'symlink';
  target: string;
  source?: string;
  readOnly?: boolean;
  linkTo?: string;
  readOnlyKernelFiles?: boolean;
  /** tmpfs: its mount data (mode, and size for a sized tmp). */
  data?: string;
}

interface Bind {
  path: string;
  readOnly: boolean;
}

const MAX_LINKS = 40; // as the kernel's path walk (ELOOP)
const USR_MERGE = ['/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32'];
/** Provided by the view itself: a list naming them (or anything inside) is refused. */
const PROVIDED = ['/proc', '/dev'];

function errnoOf(e: unknown): string {
  return (e as NodeJS.ErrnoException)?.code ?? 'EIO';
}

function lstatOrNull(p: string) {
  try {
    return lstatSync(p);
  } catch {
    return null;
  }
}

/**
 * Walks p on the host as the kernel would: its real path, and every symlink met on the way
 * (where it was met and its text). Throws IsolationError when a component is missing.
 */
function hostWalk(p: string, what: string): { real: string; links: { at: string; linkTo: string }[] } {
  const links: { at: string; linkTo: string }[] = [];
  let todo = p.split('/').filter(Boolean);
  let cur = '/';
  let hops = 0;
  while (todo.length) {
    const next = path.posix.join(cur, todo.shift()!);
    let st: Stats;
    try {
      st = lstatSync(next);
    } catch (e) {
      throw new IsolationError(`${what}: ${p} does not exist (${next}: ${errnoOf(e)})`, {
        path: p,
        errno: errnoOf(e),
        syscall: 'lstat',
      });
    }
    if (st.isSymbolicLink()) {
      if (++hops > MAX_LINKS)
        throw new IsolationError(`${what}: ${p}: too many symbolic links`, { path: p, errno: 'ELOOP', syscall: 'readlink' });
      const text = readlinkSync(next);
      links.push({ at: next, linkTo: text });
      const rest = text.split('/').filter(Boolean);
      todo = [...rest, ...todo];
      if (text.startsWith('/')) cur = '/';
      continue;
    }
    cur = next;
  }
  return { real: cur, links };
}

/**
 * Views resolved in the last VIEW_TTL_MS, by spec: a burst of spawns with one spec resolves it
 * once (measured here: ~2 ms of lstat/readlink per preset view on a busy machine). Safe to reuse
 * for that long: the child opens every source again without following symlinks and fails the
 * spawn (stage mounts) where one is gone or became a link; the checks here are for a clear error
 * before anything runs.
 */
export const VIEW_TTL_MS = 1000;
const recent = new Map<string, { view: View; at: number }>();
const keyOfSpec = new WeakMap<FilesystemSpec, string>();

export class View {
  readonly mounts: ViewMount[];
  private readonly resolved = new Map<string, string | null>();
  private readonly checked = new Set<string>();
  private readonly held = new Map<string, boolean>();
  private readonly binds: Bind[];
  private readonly tmps: string[];
  private readonly links = new Map<string, string>();
  /** Every directory of the new root that leads to a mount or a link (they exist in the view). */
  private readonly skeleton = new Set<string>(['/']);

  private constructor(
    binds: Bind[],
    tmps: string[],
    links: Map<string, string>,
    processes: 'fresh' | 'host',
    tmpSizes: Map<string, number>,
  ) {
    this.binds = binds;
    this.tmps = tmps;
    const depth = (p: string) => (p === '/' ? 0 : p.split('/').length - 1);
    const entries: ViewMount[] = [
      ...binds.map((b): ViewMount => ({ kind: 'bind', target: b.path, source: b.path, readOnly: b.readOnly })),
      ...tmps.map(
        (t): ViewMount => ({ kind: 'tmpfs', target: t, data: tmpfsData({ path: t, sizeBytes: tmpSizes.get(t) ?? null }) }),
      ),
      processes === 'fresh'
        ? { kind: 'proc', target: '/proc' }
        : { kind: 'bind', target: '/proc', source: '/proc', readOnly: false },
      { kind: 'dev', target: '/dev' },
    ];
    // Outer before inner: a bind inside a tmpfs or inside another bind goes on top of it.
    entries.sort((a, b) => depth(a.target) - depth(b.target) || (a.target < b.target ? -1 : 1));
    for (const [at, linkTo] of links) if (!this.inBind(at)) this.links.set(at, linkTo);
    this.mounts = [...entries, ...[...this.links].map(([at, linkTo]): ViewMount => ({ kind: 'symlink', target: at, linkTo }))];
    for (const m of this.mounts) {
      for (let d = path.posix.dirname(m.target); d !== '/'; d = path.posix.dirname(d)) this.skeleton.add(d);
      if (m.kind !== 'symlink') this.skeleton.add(m.target);
    }
  }

  /** build(), or the same spec's view resolved less than VIEW_TTL_MS ago. */
  static cached(fs: FilesystemSpec, processes: 'fresh' | 'host'): View {
    // A spec's lists are not changed once validated: their key is made once per spec object.
    const lists = keyOfSpec.get(fs) ?? JSON.stringify([fs.read, fs.write, fs.tmp, fs.tmpSizes ?? null]);
    keyOfSpec.set(fs, lists);
    const key = `${processes}:${lists}`;
    const now = monotonicMs(); // a wall-clock step back must not keep a view past its time
    const hit = recent.get(key);
    if (hit && now - hit.at < VIEW_TTL_MS) return hit.view;
    const view = View.build(fs, processes);
    for (const [k, v] of recent) if (now - v.at >= VIEW_TTL_MS) recent.delete(k);
    recent.set(key, { view, at: now });
    return view;
  }

  /**
   * The view of `fs` (validated, clean absolute paths): real paths, nesting re-checked on them,
   * the usr-merge links. Throws IsolationError for a path that does not exist or a tmp that is a
   * file, ConfineArgumentError-like IsolationError for overlaps found only on real paths.
   */
  static build(fs: FilesystemSpec, processes: 'fresh' | 'host'): View {
    const links = new Map<string, string>();
    const tmpSizes = new Map<string, number>(); // by real path
    const real = { read: [] as string[], write: [] as string[], tmp: [] as string[] };
    for (const key of ['read', 'write', 'tmp'] as const) {
      for (const p of fs[key]) {
        const provided = PROVIDED.find((d) => within(p, d) || within(d, p));
        if (provided && !(key === 'read' && p === '/'))
          throw new IsolationError(`filesystem.${key}: ${p}: ${provided} is provided by the view itself (a private one)`, {
            path: p,
          });
        const size = key === 'tmp' ? fs.tmpSizes?.[p] : undefined;
        if (key === 'tmp' && lstatOrNull(p) === null) {
          real.tmp.push(p); // made in the new root (checked below: not inside a bind)
          if (size !== undefined) tmpSizes.set(p, size);
          continue;
        }
        const w = hostWalk(p, `filesystem.${key}`);
        for (const l of w.links) links.set(l.at, l.linkTo);
        if (key === 'tmp' && !statSync(w.real).isDirectory())
          throw new IsolationError(`filesystem.tmp: ${p} is not a directory (a tmpfs goes on a directory)`, {
            path: p,
            errno: 'ENOTDIR',
            syscall: 'stat',
          });
        real[key].push(w.real);
        if (size !== undefined) tmpSizes.set(w.real, size);
      }
    }
    for (const key of ['read', 'write', 'tmp'] as const) real[key] = [...new Set(real[key])].sort();
    checkOverlap(real, (m) => {
      throw new IsolationError(`isolate: ${m} (after resolving symbolic links)`, {});
    });
    // A path inside another of the same list adds nothing.
    const outermost = (list: string[]) => list.filter((p) => !list.some((q) => q !== p && within(p, q)));
    const binds: Bind[] = [
      ...outermost(real.read).map((p) => ({ path: p, readOnly: true })),
      ...outermost(real.write).map((p) => ({ path: p, readOnly: false })),
    ];
    for (const t of real.tmp) {
      if (lstatOrNull(t) === null && binds.some((b) => within(t, b.path)))
        throw new IsolationError(`filesystem.tmp: ${t} does not exist inside ${binds.find((b) => within(t, b.path))!.path}`, {
          path: t,
          errno: 'ENOENT',
          syscall: 'lstat',
        });
    }
    // The usr-merge links, wherever the host has them and their target is in the view.
    for (const at of USR_MERGE) {
      const st = lstatOrNull(at);
      if (!st?.isSymbolicLink()) continue;
      const linkTo = readlinkSync(at);
      const target = path.posix.resolve('/', linkTo);
      if (binds.some((b) => within(target, b.path))) links.set(at, linkTo);
    }
    return new View(binds, real.tmp, links, processes, tmpSizes);
  }

  /** The host paths the view binds (real, outermost), read-only or not: Landlock's rules where there is no mount namespace. */
  hostBinds(): readonly Bind[] {
    return this.binds;
  }

  /** The fresh tmpfs targets of the view (made by the child in its own mount namespace). */
  tmpTargets(): readonly string[] {
    return this.tmps;
  }

  private inBind(p: string): boolean {
    return this.binds.some((b) => within(p, b.path));
  }

  /** The deepest mount holding p: a bind (host content), a tmpfs or proc/dev (ours), or none. */
  private holder(p: string): 'bind' | 'ours' | 'root' {
    let best: { depth: number; kind: 'bind' | 'ours' } | null = null;
    const consider = (dir: string, kind: 'bind' | 'ours') => {
      if (within(p, dir) && (!best || dir.length > best.depth)) best = { depth: dir.length, kind };
    };
    for (const b of this.binds) consider(b.path, 'bind');
    for (const t of this.tmps) consider(t, 'ours');
    for (const d of PROVIDED) consider(d, 'ours');
    return best ? (best as { kind: 'bind' | 'ours' }).kind : 'root';
  }

  /**
   * Where p leads inside the view, resolving symlinks as the child would: the real path, or null
   * when the view does not hold it (or a link on the way leaves the view).
   */
  resolve(p: string): string | null {
    let r = this.resolved.get(p);
    if (r === undefined) {
      r = this.resolveNow(p);
      this.resolved.set(p, r);
    }
    return r;
  }

  private resolveNow(p: string): string | null {
    let todo = p.split('/').filter(Boolean);
    let cur = '/';
    let hops = 0;
    while (todo.length) {
      const part = todo.shift()!;
      if (part === '.') continue;
      if (part === '..') {
        cur = path.posix.dirname(cur);
        continue;
      }
      const next = path.posix.join(cur, part);
      let linkTo: string | undefined;
      const holder = this.holder(next);
      if (holder === 'bind') {
        const st = lstatOrNull(next);
        if (!st) return null;
        if (st.isSymbolicLink()) linkTo = readlinkSync(next);
      } else if (this.links.has(next)) {
        linkTo = this.links.get(next);
      } else if (holder === 'ours' && PROVIDED.some((d) => within(next, d))) {
        if (!lstatOrNull(next)) return null; // /proc, /dev: the host's layout, as good a guess as any
      } else if (!this.skeleton.has(next)) {
        return null; // an empty tmpfs, or the new root's own directories
      }
      if (linkTo !== undefined) {
        if (++hops > MAX_LINKS) return null;
        todo = [...linkTo.split('/').filter(Boolean), ...todo];
        if (linkTo.startsWith('/')) cur = '/';
        continue;
      }
      cur = next;
    }
    return cur;
  }

  /** Whether a resolved path is host content (a file can only be there: tmpfs starts empty). */
  hostContent(real: string): boolean {
    let held = this.held.get(real); // a function of the view's mounts, which do not change
    if (held === undefined) {
      held = this.holder(real) === 'bind';
      this.held.set(real, held);
    }
    return held;
  }

  /**
   * The program and what it needs to start: its "#!" interpreter and its ELF interpreter
   * (PT_INTERP), each looked up in the view. Throws IsolationError naming the first missing one.
   */
  checkProgram(file: string): void {
    if (this.checked.has(file)) return;
    const chain: string[] = [];
    let current = file;
    for (let depth = 0; depth < 4; depth++) {
      const real = this.resolve(current);
      if (real === null || !this.hostContent(real))
        throw new IsolationError(
          depth === 0
            ? `the program ${file} is not in the isolated view (filesystem.read/write do not hold it)`
            : `${chain.join(' -> ')} needs ${current}, which is not in the isolated view`,
          { path: current, errno: 'ENOENT', stage: 'view' },
        );
      chain.push(current);
      const next = interpreterOf(real);
      if (next === null) break;
      current = next;
    }
    this.checked.add(file);
  }

  /** The working directory: held by the view and a directory there. */
  checkCwd(cwd: string): void {
    if (this.checked.has(`cwd:${cwd}`)) return;
    const real = this.resolve(cwd);
    const isDir =
      real !== null &&
      (this.skeleton.has(real) || this.tmps.includes(real) || (this.hostContent(real) && statSync(real).isDirectory()));
    if (!isDir)
      throw new IsolationError(`the working directory ${cwd} is not in the isolated view (list it in filesystem.read or write)`, {
        path: cwd,
        errno: 'ENOENT',
        stage: 'view',
      });
    this.checked.add(`cwd:${cwd}`);
  }
}

/** The interpreter a file needs: the "#!" line's program, or an ELF's PT_INTERP; else null. */
export function interpreterOf(file: string): string | null {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch {
    return null; // unreadable to us: the kernel will say at execve
  }
  try {
    const head = Buffer.alloc(4096);
    const n = readSync(fd, head, 0, head.length, 0);
    if (n >= 2 && head[0] === 0x23 && head[1] === 0x21) {
      const line = head.toString('latin1', 2, n).split('\n')[0]!.trim();
      const interp = line.split(/[ \t]/)[0];
      return interp?.startsWith('/') ? interp : null;
    }
    return elfInterpreter(fd, head.subarray(0, n));
  } finally {
    closeSync(fd);
  }
}

function elfInterpreter(fd: number, h: Buffer): string | null {
  if (h.length < 52 || h.readUInt32BE(0) !== 0x7f454c46) return null;
  const is64 = h[4] === 2;
  const le = h[5] === 1;
  const u16 = (b: Buffer, o: number) => (le ? b.readUInt16LE(o) : b.readUInt16BE(o));
  const u32 = (b: Buffer, o: number) => (le ? b.readUInt32LE(o) : b.readUInt32BE(o));
  const u64 = (b: Buffer, o: number) => Number(le ? b.readBigUInt64LE(o) : b.readBigUInt64BE(o));
  if (is64 && h.length < 64) return null;
  const phoff = is64 ? u64(h, 32) : u32(h, 28);
  const phentsize = u16(h, is64 ? 54 : 42);
  const phnum = u16(h, is64 ? 56 : 44);
  if (phentsize === 0 || phnum === 0 || phnum > 256) return null;
  const table = Buffer.alloc(phentsize * phnum);
  if (readSync(fd, table, 0, table.length, phoff) !== table.length) return null;
  for (let i = 0; i < phnum; i++) {
    const e = i * phentsize;
    if (u32(table, e) !== 3) continue; // PT_INTERP
    const off = is64 ? u64(table, e + 8) : u32(table, e + 4);
    const size = is64 ? u64(table, e + 32) : u32(table, e + 16);
    if (size <= 1 || size > 4096) return null;
    const name = Buffer.alloc(size);
    readSync(fd, name, 0, size, off);
    return name.toString('latin1', 0, size - 1);
  }
  return null;
}
