// What `confine run` says about a run on stderr: the one-line reason when confine ended the
// program or saw why it ended (OOM kill, timeout, a limit's signal), as timeout(1), systemd-run
// and `docker run` say it; and with --report the enforcement table and the usage at exit.

import { constants } from 'node:os';
import type { EnforcedMap, ExitStatus } from '../types.js';
import type { RunRequest } from './flags.js';

/** The shell's convention: the exit code, or 128 + the signal number. */
export function exitCodeOf(s: ExitStatus): number {
  if (s.exitCode !== null) return s.exitCode;
  if (s.signal) return 128 + ((constants.signals as Record<string, number>)[s.signal] ?? 0);
  return 1;
}

function ended(s: ExitStatus): string {
  return `exit ${exitCodeOf(s)}${s.signal ? `, ${s.signal}` : ''}`;
}

/**
 * Why the program ended, when confine ended it or knows the cause; null for an ordinary exit or
 * a signal nobody here explains (the program's own, or one the user sent to confine).
 */
export function endReason(s: ExitStatus, req: RunRequest): string | null {
  const flag = (api: string, fallback: string) => req.given.get(api) ?? fallback;
  if (s.oomKilled) {
    // From the cgroup's or job's counter: a process of the tree was OOM-killed, maybe not the leader.
    const limit = req.given.get('memoryBytes');
    return `out of memory: the kernel's OOM killer killed a process of the tree${limit ? ` at its limit (${limit})` : ''} (${ended(s)})`;
  }
  if (s.timedOut) {
    const polite = req.options.killSignal ?? 'SIGTERM';
    const grace = flag('graceMs', '--grace 5s, the default');
    const killed = s.signal === 'SIGKILL' && polite !== 'SIGKILL' ? `; it was still running after ${grace} and was killed` : '';
    return `timed out: ${flag('timeout', '--timeout')} ran out and the tree was stopped with ${polite}${killed} (${ended(s)})`;
  }
  if (s.stopped) return null; // a signal the user sent to confine: they know why
  const cpu = req.given.get('cpuSeconds');
  if (cpu && (s.signal === 'SIGXCPU' || s.signal === 'SIGKILL')) {
    // RLIMIT_CPU: SIGXCPU at the soft limit, SIGKILL at the hard one (confine sets both to the
    // value, so SIGKILL). No CPU figure: wait4's rusage is sampled and can read below the limit
    // the kernel enforced on the precise runtime.
    return `CPU time limit: killed by ${s.signal}, as the kernel does at the ${cpu} limit (${ended(s)})`;
  }
  const fsize = req.given.get('fileSizeBytes');
  if (fsize && s.signal === 'SIGXFSZ') return `file size limit: killed by SIGXFSZ on writing past ${fsize} (${ended(s)})`;
  return null;
}

export function formatEnforced(enforced: EnforcedMap): string {
  const rows = Object.entries(enforced).map(
    ([k, e]) =>
      `  ${k.padEnd(18)} ${e!.enforced ? 'enforced' : 'NOT enforced'}  ${e!.mechanism} (${e!.scope})${e!.note ? `: ${e!.note}` : ''}`,
  );
  return rows.join('\n');
}

export function formatStatus(s: ExitStatus): string {
  const parts = [`exit code ${s.exitCode ?? '-'}`, `signal ${s.signal ?? '-'}`];
  if (s.oomKilled) parts.push('OOM-killed');
  if (s.timedOut) parts.push('timed out');
  if (s.cpuUserMicros !== null) parts.push(`cpu user ${(s.cpuUserMicros / 1e3).toFixed(1)} ms`);
  if (s.cpuSystemMicros !== null) parts.push(`cpu system ${(s.cpuSystemMicros / 1e3).toFixed(1)} ms`);
  if (s.memoryPeakBytes !== null) parts.push(`peak memory ${(s.memoryPeakBytes / 2 ** 20).toFixed(1)} MiB`);
  parts.push(`wall ${s.durationMs} ms`);
  return parts.join(', ');
}
