// spawn(): confine as child_process.spawn. The drop-in is one changed line:
//
//   const { spawn } = require('child_process');   →   const { spawn } = require('confine');
//
// It returns at once a started Executor that looks like a ChildProcess (pid, stdin, stdout,
// stderr, stdio, kill(), killed, exitCode, signalCode, spawnfile, spawnargs, ref(), unref(),
// Symbol.dispose), emits 'spawn' on a later tick, reports a failed start as an 'error' event in
// child_process's shape, and throws argument errors with Node's codes. confine's own options
// (limits, runAs, strict, executor, cgroupParent, killOnParentExit, graceMs) go in the same
// object. What differs on purpose is in docs/compatibility.md.

import { Executor, kSpawn } from '../executor.js';
import type { SpawnOptions } from '../types.js';

export function spawn(file: string, options?: SpawnOptions): Executor;
export function spawn(file: string, args?: readonly unknown[], options?: SpawnOptions): Executor;
export function spawn(file: string, args?: readonly unknown[] | SpawnOptions, options?: SpawnOptions): Executor {
  return Executor[kSpawn](file, args, options);
}
