// isolate() without an argument: the preset for untrusted tools (design.md, "Isolation"). The
// system paths read-only, the working directory writable, a private /tmp, no network, its own
// processes, IPC and hostname, the default syscall filter and no capabilities.

import { readdirSync } from 'node:fs';
import type { FilesystemSpec, IsolationSpec } from './validate.js';

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

/** The system directories the preset reads: /usr, /etc, and /bin, /sbin, /lib* where they exist. */
export function systemPaths(): string[] {
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
export function presetFilesystem(cwd: string): FilesystemSpec {
  return { read: systemPaths(), write: [cwd], tmp: ['/tmp'] };
}
