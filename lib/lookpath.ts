// Resolving the program to run, as Nomad's executor (HashiCorp Nomad's first exec package,
// client/exec, 2015) did in Command() with Go's exec.LookPath: a name without a slash is searched
// in PATH; a path with a slash is taken as is (relative to the child's cwd).
// The result is checked to be an executable regular file, so a missing program is reported
// before anything is started.

import { accessSync, statSync, constants } from 'node:fs';
import * as path from 'node:path';
import { CommandNotFoundError } from './errors.js';
import { posixAddon } from './loader.js';

const isWindows = process.platform === 'win32';

// Synchronous on purpose: a stat of a cached directory entry takes microseconds, a thread-pool
// round trip for each PATH entry takes far longer (measured by bench/).
function isExecutableFile(p: string): { ok: true } | { ok: false; errno: string } {
  // The addon: one call for the stat and the access (two fs calls cost a spawn ~30 us more).
  const addon = isWindows ? null : posixAddon();
  if (addon && typeof addon.executableFile === 'function') {
    const errno = addon.executableFile(p);
    return errno === null ? { ok: true } : { ok: false, errno };
  }
  try {
    const st = statSync(p);
    if (!st.isFile()) return { ok: false, errno: st.isDirectory() ? 'EISDIR' : 'EACCES' };
    if (!isWindows) accessSync(p, constants.X_OK);
    return { ok: true };
  } catch (e) {
    return { ok: false, errno: (e as NodeJS.ErrnoException).code ?? 'ENOENT' };
  }
}

/**
 * Returns the absolute path of the program `file`, searched in `pathEnv` when `file` has no
 * directory part. Throws CommandNotFoundError (code ERR_CONFINE_COMMAND_NOT_FOUND, errno
 * ENOENT or EACCES) when there is none. `accept`, when given, skips candidates it refuses as
 * if they were absent (isolation: only what the child's view holds).
 */
export function lookPath(
  file: string,
  cwd: string,
  pathEnv: string | undefined,
  accept: (candidate: string) => boolean = () => true,
): string {
  const hasDir = isWindows ? /[\\/]/.test(file) : file.includes('/');
  const exts = isWindows ? windowsExtensions(file) : [''];
  if (hasDir) {
    const abs = path.resolve(cwd, file);
    let last = 'ENOENT';
    for (const ext of exts) {
      const r = isExecutableFile(abs + ext);
      if (r.ok) {
        if (accept(abs + ext)) return abs + ext;
        last = 'ENOENT';
      } else last = r.errno;
    }
    throw new CommandNotFoundError(file, {
      errno: last,
      path: abs,
      syscall: last === 'ENOENT' ? 'stat' : 'access',
      message: last === 'ENOENT' ? `command not found: ${abs} does not exist` : `command not executable: ${abs} (${last})`,
    });
  }
  let denied: string | null = null;
  for (const dir of (pathEnv ?? '').split(path.delimiter)) {
    // An empty PATH entry means the current directory, as in execvp.
    const base = path.resolve(cwd, dir === '' ? '.' : dir);
    for (const ext of exts) {
      const candidate = path.join(base, file + ext);
      const r = isExecutableFile(candidate);
      if (r.ok) {
        if (accept(candidate)) return candidate;
      } else if (r.errno === 'EACCES' && denied === null) denied = candidate;
    }
  }
  if (denied !== null) {
    throw new CommandNotFoundError(file, {
      errno: 'EACCES',
      syscall: 'access',
      path: denied,
      message: `command not executable: ${denied}`,
    });
  }
  throw new CommandNotFoundError(file, { message: `command not found in PATH: ${file}` });
}

function windowsExtensions(file: string): string[] {
  if (path.extname(file)) return [''];
  const pathext = (process.env.PATHEXT ?? '.COM;.EXE;.BAT;.CMD').split(';').filter(Boolean);
  return ['', ...pathext.map((e) => e.toLowerCase())];
}
