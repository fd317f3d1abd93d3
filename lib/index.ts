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

/**
 * `name` of a module loaded on the first call, not when the package is: a supervisor that only
 * runs programs never loads spawn()'s, openPid's, capabilities()'s or the orphan scan's modules
 * (16 of the package's 41 files; loading a file costs more than what it holds). Typed as the
 * module's own function, so its signatures and documentation are the module's.
 */
function onFirstCall<M, K extends keyof M & string>(load: () => M, name: K): M[K] {
  const call = function (this: unknown, ...args: unknown[]): unknown {
    return (load()[name] as (...a: unknown[]) => unknown).apply(this, args);
  };
  return Object.defineProperty(call, 'name', { value: name }) as M[K];
}

type SpawnModule = typeof import('./child-process/spawn.js');
type OpenPidModule = typeof import('./open-pid.js');
type CapabilitiesModule = typeof import('./capabilities.js');
type OrphansModule = typeof import('./lifecycle/orphans.js');
type PoolModule = typeof import('./cgroup/pool.js');
const spawnModule = () => require('./child-process/spawn.js') as SpawnModule;
const openPidModule = () => require('./open-pid.js') as OpenPidModule;
const capabilitiesModule = () => require('./capabilities.js') as CapabilitiesModule;
const orphansModule = () => require('./lifecycle/orphans.js') as OrphansModule;
const poolModule = () => require('./cgroup/pool.js') as PoolModule;

export const spawn: SpawnModule['spawn'] = onFirstCall(spawnModule, 'spawn');
export const openPid: OpenPidModule['openPid'] = onFirstCall(openPidModule, 'openPid');
export const capabilities: CapabilitiesModule['capabilities'] = onFirstCall(capabilitiesModule, 'capabilities');
export const autoselectExecutor: CapabilitiesModule['autoselectExecutor'] = onFirstCall(capabilitiesModule, 'autoselectExecutor');
export const cleanupOrphans: OrphansModule['cleanupOrphans'] = onFirstCall(orphansModule, 'cleanupOrphans');
export const listOrphanCgroups: OrphansModule['listOrphanCgroups'] = onFirstCall(orphansModule, 'listOrphanCgroups');
export const dropSpareCgroups: PoolModule['dropSpareCgroups'] = onFirstCall(poolModule, 'dropSpareCgroups');
export { Executor, AbortedError } from './executor.js';
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
