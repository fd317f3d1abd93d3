// Where each resource is held. Per process: the ones that map to setrlimit(2), one table for
// every backend (the native ones set them between fork and exec, the pure-JS one through the
// shell's `ulimit` builtin). Per tree: the ones only a cgroup (linux) or a Job Object (windows)
// can hold for a whole tree; TaskCgroup.create() writes exactly these.

import type { Resources } from './types.js';

/** The tree-wide resources: a cgroup's limits (see lib/cgroup/limits.ts), most of them a Job Object's too. */
export const TREE_RESOURCES: readonly (keyof Resources)[] = [
  'memoryBytes',
  'memorySwapBytes',
  'cpu',
  'cpuWeight',
  'cpus',
  'maxProcesses',
  'ioWeight',
  'ioReadBytesPerSecond',
  'ioWriteBytesPerSecond',
  'ioReadOpsPerSecond',
  'ioWriteOpsPerSecond',
];

/** The tree-wide disk IO resources (the io controller; v1 blkio). */
export const IO_RESOURCES: readonly (keyof Resources)[] = [
  'ioWeight',
  'ioReadBytesPerSecond',
  'ioWriteBytesPerSecond',
  'ioReadOpsPerSecond',
  'ioWriteOpsPerSecond',
];

/** Whether `r` asks for any disk IO limit. */
export function asksForIo(r: Resources): boolean {
  return IO_RESOURCES.some((k) => r[k] !== undefined);
}

export type RlimitName = 'nofile' | 'cpu' | 'fsize' | 'core' | 'stack' | 'as' | 'nproc';

interface RlimitRule {
  rlimit: RlimitName;
  /** POSIX sh `ulimit` flag and the size of its unit in the resource's own unit. */
  ulimitFlag: string;
  ulimitUnit: number;
}

export const RLIMIT_RESOURCES: Partial<Record<keyof Resources, RlimitRule>> = {
  openFiles: { rlimit: 'nofile', ulimitFlag: '-n', ulimitUnit: 1 },
  cpuSeconds: { rlimit: 'cpu', ulimitFlag: '-t', ulimitUnit: 1 },
  // POSIX sh counts -f and -c in 512-byte blocks, -s and -v in KiB.
  fileSizeBytes: { rlimit: 'fsize', ulimitFlag: '-f', ulimitUnit: 512 },
  coreBytes: { rlimit: 'core', ulimitFlag: '-c', ulimitUnit: 512 },
  stackBytes: { rlimit: 'stack', ulimitFlag: '-s', ulimitUnit: 1024 },
  addressSpaceBytes: { rlimit: 'as', ulimitFlag: '-v', ulimitUnit: 1024 },
};

/** RLIMIT_RESOURCES as [resource, rlimit] pairs: made once, not by every spawn's rlimitsOf(). */
const RLIMIT_PAIRS: readonly (readonly [keyof Resources, RlimitName])[] = Object.entries(RLIMIT_RESOURCES).map(
  ([key, rule]) => [key as keyof Resources, rule!.rlimit] as const,
);

/** The requested rlimit resources, as [name, value] pairs for the addon. */
export function rlimitsOf(resources: Resources): [RlimitName, number][] {
  const out: [RlimitName, number][] = [];
  for (const [key, rlimit] of RLIMIT_PAIRS) {
    const v = resources[key];
    if (typeof v === 'number') out.push([rlimit, v]);
  }
  return out;
}
