// isolate()'s input: shape, names and paths, checked before anything runs (the host is asked
// later, in start(): lib/isolation/view.ts). The result is normalized: absolute, lexically clean
// paths, sorted and without duplicates, so the plan and the CLI read one form.

import * as path from 'node:path';
import { ConfineArgumentError } from '../errors.js';
import type { Isolation } from '../types.js';
import { checkGuardNames } from './guards.js';
import { tmpMounts } from './tmp-size.js';

export const ISOLATION_KEYS = ['filesystem', 'network', 'processes', 'ipc', 'hostname', 'syscalls', 'capabilities'] as const;
export type IsolationKey = (typeof ISOLATION_KEYS)[number];

const FILESYSTEM_KEYS = ['read', 'write', 'tmp'] as const;
const NETWORK = ['host', 'loopback', 'none'] as const;
const PRIVATE = ['host', 'private'] as const;
const SYSCALLS = ['host', 'default'] as const;

/** The filesystem lists, clean; `tmpSizes` the size of each sized tmp (issue 20), by its path. */
export interface FilesystemSpec {
  read: string[];
  write: string[];
  tmp: string[];
  tmpSizes?: Record<string, number>;
}

/** The validated form: the filesystem lists always present when filesystem is. */
export interface IsolationSpec {
  filesystem?: FilesystemSpec;
  network?: (typeof NETWORK)[number];
  processes?: (typeof PRIVATE)[number];
  ipc?: (typeof PRIVATE)[number];
  hostname?: string;
  syscalls?: (typeof SYSCALLS)[number] | { deny: string[] };
  capabilities?: string[];
}

function fail(message: string): never {
  throw new ConfineArgumentError(`isolate: ${message}`);
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function checkKeys(what: string, o: Record<string, unknown>, known: readonly string[]): void {
  for (const k of Object.keys(o)) {
    if (o[k] !== undefined && !known.includes(k))
      fail(`unknown key ${JSON.stringify(k)} in ${what}; known keys: ${known.join(', ')}`);
  }
}

function oneOf<T extends string>(what: string, v: unknown, allowed: readonly T[]): T {
  if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v))
    fail(`${what} must be one of ${allowed.map((a) => `'${a}'`).join(', ')}, got ${JSON.stringify(v) ?? String(v)}`);
  return v as T;
}

/** An absolute path, lexically normalized (no "." or "..", no trailing slash). */
export function cleanPath(what: string, v: unknown): string {
  if (typeof v !== 'string') fail(`${what} must be a path string, got ${v === null ? 'null' : typeof v}`);
  if (v.includes('\0')) fail(`${what} must not contain NUL bytes`);
  if (!path.posix.isAbsolute(v)) fail(`${what} must be an absolute path, got ${JSON.stringify(v)}`);
  const p = path.posix.normalize(v);
  return p.length > 1 && p.endsWith('/') ? p.slice(0, -1) : p;
}

/** dir itself or anything below it. */
export function within(p: string, dir: string): boolean {
  return dir === '/' || p === dir || p.startsWith(`${dir}/`);
}

function pathList(what: string, v: unknown): string[] {
  if (v === undefined) return [];
  if (!Array.isArray(v)) fail(`${what} must be an array of absolute paths`);
  return [...new Set(v.map((p, i) => cleanPath(`${what}[${i}]`, p)))].sort();
}

/**
 * The rules between the lists, on paths as given here and again on real paths in start():
 * a path may be listed once; a read path may not lie inside a write path (a read-only hole in a
 * writable tree cannot be kept by every mechanism: Landlock only adds rights). A write path
 * inside a read path, and anything inside a tmp, are fine: the deeper one wins there.
 */
export function checkOverlap(fs: { read: string[]; write: string[]; tmp: string[] }, fail: (m: string) => never): void {
  const seen = new Map<string, string>();
  for (const key of FILESYSTEM_KEYS) {
    for (const p of fs[key]) {
      const other = seen.get(p);
      if (other !== undefined && other !== key) fail(`filesystem: ${p} is listed in both ${other} and ${key}`);
      seen.set(p, key);
    }
  }
  for (const r of fs.read) {
    const w = fs.write.find((d) => within(r, d));
    if (w !== undefined)
      fail(
        `filesystem: the read path ${r} lies inside the write path ${w}; a read-only path inside a writable one ` +
          'overlaps (list the writable paths next to it instead)',
      );
  }
}

const HOSTNAME = /^[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*$/;
const SYSCALL_NAME = /^[a-z][a-z0-9_]*$/;
const CAPABILITY_NAME = /^(?:CAP_)?[A-Za-z][A-Za-z_]*$/;

/** Validates isolate()'s argument (undefined is the preset and never gets here). */
export function validateIsolation(input: unknown): IsolationSpec {
  if (!isPlainObject(input)) fail('expected an object (or no argument for the preset)');
  checkKeys('isolate()', input, ISOLATION_KEYS);
  const i = input as Isolation;
  const out: IsolationSpec = {};
  if (i.filesystem !== undefined) {
    if (!isPlainObject(i.filesystem)) fail('filesystem must be an object { read, write, tmp }');
    checkKeys('filesystem', i.filesystem, FILESYSTEM_KEYS);
    // tmp entries are paths or { path, sizeBytes } (lib/isolation/tmp-size.ts, issue 20).
    const tmps = tmpMounts('isolate: filesystem.tmp', i.filesystem.tmp);
    const tmpSizes: Record<string, number> = {};
    for (const [n, t] of tmps.entries())
      if (t.sizeBytes !== null) tmpSizes[cleanPath(`filesystem.tmp[${n}].path`, t.path)] = t.sizeBytes;
    const fs: FilesystemSpec = {
      read: pathList('filesystem.read', i.filesystem.read),
      write: pathList('filesystem.write', i.filesystem.write),
      tmp: pathList(
        'filesystem.tmp',
        tmps.map((t) => t.path),
      ),
    };
    if (Object.keys(tmpSizes).length) fs.tmpSizes = tmpSizes;
    if (fs.tmp.includes('/')) fail('filesystem.tmp cannot be / (the whole view would be an empty tmpfs)');
    checkOverlap(fs, fail);
    out.filesystem = fs;
  }
  if (i.network !== undefined) out.network = oneOf('network', i.network, NETWORK);
  if (i.processes !== undefined) out.processes = oneOf('processes', i.processes, PRIVATE);
  if (i.ipc !== undefined) out.ipc = oneOf('ipc', i.ipc, PRIVATE);
  if (i.hostname !== undefined) {
    const h = i.hostname;
    if (typeof h !== 'string' || h.length === 0 || Buffer.byteLength(h) > 64 || !HOSTNAME.test(h))
      fail(`hostname must be a host name of 1 to 64 letters, digits, '-' and '.', got ${JSON.stringify(h) ?? String(h)}`);
    out.hostname = h;
  }
  if (i.syscalls !== undefined) {
    const s = i.syscalls as unknown;
    if (isPlainObject(s)) {
      checkKeys('syscalls', s, ['deny']);
      if (!Array.isArray(s.deny) || s.deny.some((n) => typeof n !== 'string' || !SYSCALL_NAME.test(n)))
        fail('syscalls.deny must be an array of system call names such as "ptrace"');
      out.syscalls = { deny: [...new Set(s.deny as string[])].sort() };
    } else {
      out.syscalls = oneOf('syscalls (or { deny: [...] })', s, SYSCALLS);
    }
  }
  if (i.capabilities !== undefined) {
    const c = i.capabilities as unknown;
    if (!Array.isArray(c) || c.some((n) => typeof n !== 'string' || !CAPABILITY_NAME.test(n)))
      fail("capabilities must be an array of capability names such as 'CAP_NET_BIND_SERVICE' or 'net_bind_service'");
    out.capabilities = [...new Set(c as string[])].sort();
  }
  checkGuardNames(out, fail);
  return out;
}
