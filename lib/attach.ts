// Finding a tree again by handle (or bare pid), for openPid() and Executor.open(): the identity
// check and the backend's attach. A handle carries the process start time; a pid whose start
// time differs now names another process, and is rejected before anything is signalled.
// On Linux the start time counts clock ticks (10 ms): a pid freed and taken again within one
// tick keeps it. So a handle's pid must also still be what confine made it: a member of the
// tree's cgroup, or (a tree without one) the leader of its own session, as every leader confine
// starts is (setsid) and no process can stop being.

import { ConfineArgumentError, StaleHandleError } from './errors.js';
import { readPids } from './cgroup/files.js';
import { ancestorsOfSelf, processSessionId, processStartTime } from './proc.js';
import { decodeHandle, type Backend, type HandleData, type Tree } from './backends/backend.js';
import { autoselectKind, backendFor } from './backends/select.js';

/**
 * Processes openPid() must never stop: init (whose tree is the host), the supervisor itself and
 * its ancestors (stopping one would take the supervisor with it).
 */
function refuseOwnLine(pid: number): void {
  let why: string | null = null;
  if (pid === 1) why = 'is init: its tree is the whole host';
  else if (pid === process.pid) why = 'is this process, the supervisor itself';
  else if (ancestorsOfSelf().includes(pid)) why = 'is an ancestor of this process: stopping it would stop the supervisor';
  if (why) throw new ConfineArgumentError(`openPid: pid ${pid} ${why}; open the trees confine started by their executor.handle`);
}

/** Verifies the identity of the process named and attaches the backend's tree to it. */
export async function attachTree(handleOrPid: string | number): Promise<{ tree: Tree; backend: Backend }> {
  let data: HandleData;
  if (typeof handleOrPid === 'number' || /^\d+$/.test(String(handleOrPid))) {
    const pid = Number(handleOrPid);
    if (!Number.isInteger(pid) || pid <= 0 || pid > 2 ** 31 - 1)
      throw new ConfineArgumentError(`openPid: invalid pid ${handleOrPid}`);
    refuseOwnLine(pid);
    const startTime = processStartTime(pid);
    if (startTime === null)
      throw new StaleHandleError(`openPid: no process with pid ${pid}`, { errno: 'ESRCH', syscall: 'kill' });
    // A bare pid is one process, not a tree: confine did not start it (or it would be opened by
    // its handle), so nothing says which processes are its tree. No prototype: nothing inherited
    // (an `extra` naming a cgroup) can be read from it.
    data = Object.assign(Object.create(null) as HandleData, {
      kind: autoselectKind(),
      pid,
      startTime,
      scope: 'process' as const,
    });
  } else if (typeof handleOrPid === 'string') {
    const d = decodeHandle(handleOrPid);
    if (!d) throw new ConfineArgumentError('openPid: not a confine handle (expected a pid or executor.handle)');
    refuseOwnLine(d.pid);
    // Windows proves identity in the backend (the job by name, the pid in it, its creation
    // time from the addon): there is no ps there.
    if (d.kind === 'windows' && process.platform === 'win32') return attachWith(d);
    const now = processStartTime(d.pid);
    if (now === null) throw new StaleHandleError(`openPid: the process ${d.pid} of this handle is gone`, { errno: 'ESRCH' });
    if (d.startTime !== null && now !== d.startTime) {
      throw new StaleHandleError(`openPid: pid ${d.pid} now belongs to another process (start time differs)`, { errno: 'ESRCH' });
    }
    const otherwise = process.platform === 'linux' ? notConfinesAnyMore(d) : null;
    if (otherwise)
      throw new StaleHandleError(`openPid: pid ${d.pid} now belongs to another process (${otherwise})`, { errno: 'ESRCH' });
    data = d;
  } else {
    throw new ConfineArgumentError('openPid: expected a pid or a handle string');
  }
  return attachWith(data);
}

/** Linux: why the handle's pid is no longer the process confine started, or null when it is. */
function notConfinesAnyMore(d: HandleData): string | null {
  const cgroup = d.extra?.cgroup;
  if (cgroup && typeof cgroup === 'object') {
    const dirs = Object.values(cgroup).filter((x): x is string => typeof x === 'string');
    // One directory suffices: on v1 every hierarchy's holds the tree's processes.
    if (dirs.length > 0 && !readPids(dirs[0]!).includes(d.pid)) return `not in the tree's cgroup ${dirs[0]}`;
    return null;
  }
  if (processSessionId(d.pid) !== d.pid) return 'not the leader of its own session, as the tree confine started was';
  return null;
}

async function attachWith(data: HandleData): Promise<{ tree: Tree; backend: Backend }> {
  let backend = backendFor(data.kind);
  if (backend.unavailable() !== null) backend = backendFor('universal');
  return { tree: await backend.attach(data), backend };
}
