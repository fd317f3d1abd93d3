// Resolving who the child runs as: a user name or uid becomes uid, primary gid, home and the full
// supplementary group list, as initgroups(3) would set it. The addon asks the C library (NSS:
// files, LDAP, sssd, ...); without the addon, the files /etc/passwd and /etc/group are read and
// `getent` covers other NSS sources. Synchronous, as libuv's own work before a spawn is: spawn()
// returns a started process, and a lookup is a few file reads (or one getent) at most.

import { readFileSync, statSync } from 'node:fs';
import { ConfineArgumentError, UnknownUserError } from './errors.js';
import { posixAddon } from './loader.js';
import type { Identity, RunAsSpec } from './types.js';
import { monotonicMs } from './clock.js';

/** execFileSync, from node:child_process required here, when getent or id runs, not at load: a
 * run with the addon never needs it (loading it costs every `confine run` ~5 ms). */
function execFileSync(
  file: string,
  args: string[],
  options: import('node:child_process').ExecFileSyncOptionsWithStringEncoding,
): string {
  return (require('node:child_process') as typeof import('node:child_process')).execFileSync(file, args, options);
}

interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

function parsePasswd(text: string): PasswdEntry[] {
  const out: PasswdEntry[] = [];
  for (const line of text.split('\n')) {
    const f = line.split(':');
    if (f.length < 7 || line.startsWith('#')) continue;
    out.push({ name: f[0]!, uid: Number(f[2]), gid: Number(f[3]), home: f[5]! });
  }
  return out;
}

function readFileOr(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

function getent(db: string, key: string): string | null {
  try {
    const stdout = execFileSync('getent', [db, key], { timeout: 10_000, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    return stdout.trim() || null;
  } catch {
    return null;
  }
}

function lookupPasswdJs(user: string | number): PasswdEntry | null {
  const match = (e: PasswdEntry) => (typeof user === 'number' ? e.uid === user : e.name === user);
  const fromFile = parsePasswd(readFileOr('/etc/passwd')).find(match);
  if (fromFile) return fromFile;
  const line = getent('passwd', String(user));
  return line ? (parsePasswd(line).find(match) ?? null) : null;
}

/** Groups that list `name` as a member, plus the primary gid: what initgroups sets. */
function groupListJs(name: string, gid: number): number[] {
  const groups = new Set<number>([gid]);
  const text = readFileOr('/etc/group');
  for (const line of text.split('\n')) {
    const f = line.split(':');
    if (f.length < 4) continue;
    if (f[3]!.split(',').includes(name)) groups.add(Number(f[1]));
  }
  // Other NSS sources (LDAP, sssd): `id -G` asks them all.
  try {
    const stdout = execFileSync('id', ['-G', '--', name], {
      timeout: 10_000,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    for (const g of stdout.trim().split(/\s+/)) if (/^\d+$/.test(g)) groups.add(Number(g));
  } catch {
    /* files only */
  }
  return [...groups];
}

type UserRecord = { uid: number; gid: number; name: string; home: string; groups: number[] };

/**
 * Lookups by name or uid, kept while the user database's files are unchanged. A lookup costs a
 * spawn more than anything else in JS (getpwnam_r, then initgroups' walk of every group source);
 * a supervisor starts the same user's programs again and again. The files are stat'ed on every
 * lookup: a user added, removed or given a group (useradd, userdel, usermod, gpasswd, vipw all
 * write a new file: new inode, mtime, ctime) is seen by the very next spawn, and a new
 * nsswitch.conf empties the cache too. NSS sources without a file (LDAP, sssd, systemd's dynamic
 * users) are looked up again once an entry is USER_CACHE_MAX_AGE_MS old, as nscd would (nscd
 * keeps them for minutes).
 */
const USER_DB_FILES = ['/etc/passwd', '/etc/group', '/etc/nsswitch.conf'];
export const USER_CACHE_MAX_AGE_MS = 1000;
const userCache = new Map<string | number, { at: number; user: UserRecord | null }>();
let userDbStamp = '';

/** What changes when any of the user database's files changes: inode, size, mtime and ctime. */
function userDbStampNow(): string {
  const addon = posixAddon();
  if (addon && typeof addon.fileStamp === 'function') return addon.fileStamp(USER_DB_FILES);
  let out = '';
  for (const f of USER_DB_FILES) {
    const st = statSync(f, { throwIfNoEntry: false });
    out += st ? `${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs};` : '-;';
  }
  return out;
}

function lookupUser(user: string | number): UserRecord | null {
  const stamp = userDbStampNow();
  if (stamp !== userDbStamp) {
    userCache.clear();
    userDbStamp = stamp;
  }
  const now = monotonicMs();
  const hit = userCache.get(user);
  if (hit && now - hit.at < USER_CACHE_MAX_AGE_MS) return hit.user && { ...hit.user, groups: [...hit.user.groups] };
  const found = lookupUserUncached(user);
  // Unknown users are not kept: the next spawn looks again (and fails again, or finds it).
  if (found) userCache.set(user, { at: now, user: { ...found, groups: [...found.groups] } });
  else userCache.delete(user);
  return found;
}

function lookupUserUncached(user: string | number): UserRecord | null {
  const addon = posixAddon();
  if (addon && typeof addon.lookupUser === 'function') {
    const u = addon.lookupUser(user);
    return u ? { uid: u.uid, gid: u.gid, name: u.name, home: u.home, groups: u.groups } : null;
  }
  const e = lookupPasswdJs(user);
  if (!e) return null;
  return { ...e, groups: groupListJs(e.name, e.gid) };
}

/**
 * Resolves a runAs spec to an identity. A name or a bare uid must exist in the user database
 * (its gid and groups come from there); "uid:gid" may name ids the database does not know (as
 * container images often do) and then runs with that gid as its only group.
 */
export function resolveIdentity(spec: RunAsSpec): Identity {
  if (process.platform === 'win32') {
    throw new ConfineArgumentError('runAs by user name or uid is not supported on Windows');
  }
  if (typeof spec === 'string') {
    const m = /^(\d+):(\d+)$/.exec(spec);
    if (m) return idPair(Number(m[1]), Number(m[2]));
    if (/^\d+$/.test(spec)) return resolveIdentity(Number(spec));
    return fromUser(spec);
  }
  if (typeof spec === 'number') return fromUser(spec);
  const base =
    spec.user !== undefined
      ? resolveIdentity(spec.user)
      : spec.gid !== undefined
        ? idPair(spec.uid!, spec.gid)
        : fromUser(spec.uid!);
  const gid = spec.gid ?? base.gid;
  const groups = spec.groups ? [...spec.groups] : spec.gid !== undefined && spec.gid !== base.gid ? [gid] : base.groups;
  return { ...base, gid, groups: dedupe(groups) };
}

function fromUser(user: string | number): Identity {
  const u = lookupUser(user);
  if (!u) throw new UnknownUserError(user);
  return { uid: u.uid, gid: u.gid, groups: dedupe(u.groups.length ? u.groups : [u.gid]), name: u.name, home: u.home };
}

function idPair(uid: number, gid: number): Identity {
  const u = lookupUser(uid);
  return { uid, gid, groups: [gid], name: u?.name ?? null, home: u?.home ?? null };
}

function dedupe(groups: number[]): number[] {
  return [...new Set(groups)];
}
