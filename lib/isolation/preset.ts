// isolate() without an argument: the preset for untrusted tools (design.md, "Isolation"). The
// system paths read-only, the working directory writable, a private /tmp, no network, its own
// processes, IPC and hostname, the default syscall filter and no capabilities.

import { readdirSync } from 'node:fs';
import { monotonicMs } from '../clock.js';
import type { FilesystemSpec, IsolationSpec } from './validate.js';
import { VIEW_TTL_MS } from './view.js';

export const PRESET_HOSTNAME = 'sandbox';

/** Everything but the filesystem, which depends on the working directory (presetFilesystem). */
export const PRESET: Readonly<Omit<IsolationSpec, 'filesystem'>> = Object.freeze({
  network: 'none',
  processes: 'private',
  ipc: 'private',
  hostname: PRESET_HOSTNAME,
  syscalls: 'default',
  capabilities: [],
});

/** The last listing of '/': made once per VIEW_TTL_MS, as long as a resolved view is reused. */
let lastSystemPaths: { paths: readonly string[]; at: number } | null = null;

/**
 * The system directories the preset reads: /usr, /etc, and /bin, /sbin, /lib* where they exist.
 * Listing "/" took 0.05-0.17 ms per preset spawn here; a burst of spawns lists it once per
 * VIEW_TTL_MS, the time a resolved view of the same paths is reused for anyway (view.ts). One
 * frozen array, the same object for as long as the listing finds the same names
 * (concreteSpec() keeps the preset's spec while it is).
 */
export function systemPathsListing(): readonly string[] {
  const now = monotonicMs(); // a wall-clock step must not keep an old listing
  if (lastSystemPaths && now - lastSystemPaths.at < VIEW_TTL_MS) return lastSystemPaths.paths;
  const listed = listSystemPaths();
  const same = lastSystemPaths !== null && listed.join('\0') === lastSystemPaths.paths.join('\0');
  lastSystemPaths = { paths: same ? lastSystemPaths!.paths : Object.freeze(listed), at: now };
  return lastSystemPaths.paths;
}

function listSystemPaths(): string[] {
  let top: string[] = [];
  try {
    top = readdirSync('/');
  } catch {
    /* no listing: the fixed names below */
  }
  const wanted = ['usr', 'bin', 'sbin', 'etc', ...top.filter((n) => /^lib(32|64|x32)?$/.test(n))];
  return [...new Set(wanted)]
    .filter((n) => top.length === 0 || top.includes(n))
    .map((n) => `/${n}`)
    .sort();
}

/** The preset's filesystem for a child whose working directory is cwd (absolute, clean). */
export function presetFilesystem(cwd: string, listing: readonly string[] = systemPathsListing()): FilesystemSpec {
  return { read: [...listing], write: [cwd], tmp: ['/tmp'] };
}
