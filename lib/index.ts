// confine: start child processes with least privilege, resource limits and process isolation,
// and stop them as a whole.

import { Executor } from './executor.js';
import type { CommandOptions } from './types.js';

/**
 * Describes a program to run, as `Command(name, arg...)` of Nomad's executor (HashiCorp Nomad's
 * first exec package, client/exec, 2015, which confine descends from): a bare name is looked up
 * in PATH when start() runs. Set limits with limit(), the user with runAs(), then start().
 */
export function command(file: string, args?: readonly string[], options?: CommandOptions): Executor {
  return new Executor(file, args, options);
}

export { spawn } from './child-process/spawn.js';
export { Executor, AbortedError } from './executor.js';
export { openPid } from './open-pid.js';
export { capabilities, autoselectExecutor } from './capabilities.js';
export { cleanupOrphans, listOrphanCgroups } from './lifecycle/orphans.js';
export { dropSpareCgroups } from './cgroup/pool.js';
export type { OrphanInfo, CleanupOptions, CleanupResult } from './lifecycle/orphans.js';
export type { StatsSample, StatsStreamOptions } from './lifecycle/stats-stream.js';
export {
  ConfineError,
  ConfineArgumentError,
  ConfineStateError,
  UnknownUserError,
  CommandNotFoundError,
  SpawnError,
  UnenforcedError,
  IsolationError,
  BackendUnavailableError,
  StaleHandleError,
  SystemError,
} from './errors.js';
export { RESOURCE_NAMES } from './validate.js';
export { ISOLATION_KEYS } from './isolation/validate.js';
export type * from './types.js';
