// Reattach: after a supervisor restarts it finds its trees again by handle (or bare pid) as
// running Executors. The identity check and the backend's attach are in lib/attach.ts.

import { decodeHandle } from './backends/backend.js';
import { Executor, describeAttached } from './executor.js';

/**
 * Attaches to a running process (by executor.handle, or by pid) and returns a running Executor:
 * signal, stop, stats and wait() work; the exit code of a process that is not our child is
 * unknowable and reported as `exitCode: null, reattached: true`.
 */
export async function openPid(handleOrPid: string | number): Promise<Executor> {
  const pid = typeof handleOrPid === 'number' ? handleOrPid : (decodeHandle(handleOrPid)?.pid ?? Number(handleOrPid));
  const ex = new Executor(Number.isInteger(pid) && pid > 0 ? describeAttached(pid) : 'unknown');
  return ex.open(handleOrPid);
}
