// What the backends share, written once: the not-enforced answer, the fd behind a stream given
// as stdio, what happens to the parent's stdio ends when the leader exits, and the exit hook that
// kills killOnParentExit trees when the supervisor exits normally. Trees that are known only by
// pid (attached by openPid(), or without a cgroup or job) are in ./attached-tree.ts.

import type { Readable, Writable } from 'node:stream';
import type { Enforcement } from '../types.js';
import type { RawExit } from './backend.js';

/** A limit or guarantee this backend does not enforce here, and why. */
export function notEnforced(note: string): Enforcement {
  return { enforced: false, mechanism: 'none', scope: 'none', note };
}

/**
 * The file descriptor behind a stream given as a stdio entry, or null when it has none (yet).
 * The stream is the child's from now on, as child_process makes it: a readable one stops
 * reading here and is never resumed by us (drainStdio skips it), or this process would race
 * the child for its input (another child's stdout given as this one's stdin).
 */
export function streamFd(s: unknown): number | null {
  const o = s as { fd?: unknown; _handle?: { fd?: unknown } };
  let fd: number | null = null;
  if (typeof o.fd === 'number' && o.fd >= 0) fd = o.fd;
  else if (typeof o._handle?.fd === 'number' && o._handle.fd >= 0) fd = o._handle.fd;
  const r = s as Readable & {
    _handle?: { reading?: boolean; readStop?: () => number };
    _readableState?: { reading?: boolean };
  };
  if (fd !== null && typeof r.pause === 'function' && r.readable) {
    // What child_process does to a stream it gives a child: a net.Socket reads from its fd as
    // soon as it exists (into its buffer, flowing or not), so its handle must stop reading too;
    // and the stream must not think a read is pending, so that a resume() later (once the
    // child is done with it) starts reading again.
    const h = r._handle;
    if (h && typeof h.readStop === 'function') {
      h.reading = false;
      h.readStop();
    }
    r.pause();
    (r as { readableFlowing: boolean | null }).readableFlowing = false;
    if (r._readableState) r._readableState.reading = false;
  }
  return fd;
}

/**
 * At the leader's exit, as child_process does: nobody reads our stdin any more, and output
 * nobody consumed is drained so its pipe closes (and 'close' follows) instead of lingering.
 */
export function drainStdio(stdio: readonly (Readable | Writable | null)[]): void {
  stdio[0]?.destroy();
  for (const s of stdio.slice(1)) {
    const r = s as Readable | null;
    if (r?.readable && r.readableFlowing === null) r.resume();
  }
}

/** Resolves once every stream of ours has closed and the leader has exited (a Tree's `closed`). */
export function stdioClosed(stdio: readonly (Readable | Writable | null)[], exited: Promise<RawExit>): Promise<void> {
  // No stream of ours (stdio 'ignore', 'inherit', fds): the exit is all there is to wait for.
  if (stdio.every((s) => s === null)) return exited.then(() => undefined);
  return Promise.all(
    stdio
      .filter((s): s is Readable | Writable => s !== null)
      .map((s) => new Promise<void>((r) => (s.closed ? r() : s.once('close', () => r())))),
  ).then(() => exited.then(() => undefined));
}

/** A tree the exit hook can kill: synchronously, best effort (the process is exiting). */
export interface KillableAtExit {
  killNow(): void;
}

const exitHookTrees = new Set<KillableAtExit>();
let exitHookInstalled = false;

/** killOnParentExit when the supervisor exits normally: `tree` is killed then, unless forgotten first. */
export function killAtExit(tree: KillableAtExit): void {
  exitHookTrees.add(tree);
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const t of exitHookTrees) t.killNow();
  });
}

/** The tree is gone (released): the exit hook leaves it alone. */
export function forgetAtExit(tree: KillableAtExit): void {
  exitHookTrees.delete(tree);
}

/** SIGKILL to each pid; one that is gone already is fine. */
export function sigkillEach(pids: readonly number[]): void {
  for (const p of pids) {
    try {
      process.kill(p, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
}
