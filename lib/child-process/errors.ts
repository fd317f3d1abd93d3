// Errors in child_process's shapes, for spawn(): argument errors with Node's codes and classes,
// a start that failed as the errno error child_process emits (code = errno name, errno = its
// negative number, syscall 'spawn <file>', path, spawnargs), and the AbortError of an abort.
// confine's typed error stays reachable as `cause`; failures that are confine's own refusals
// (strict, an unknown user, a backend that cannot run here) have no errno and keep their class.

import { constants as osConstants } from 'node:os';
import { ConfineArgumentError, ConfineError } from '../errors.js';

export type NodeArgumentCode = 'ERR_INVALID_ARG_TYPE' | 'ERR_INVALID_ARG_VALUE' | 'ERR_OUT_OF_RANGE' | 'ERR_UNKNOWN_SIGNAL';

/** How argument errors are raised: as Node's (spawn()) or as ConfineArgumentError (command()). */
export type ErrorStyle = 'node' | 'confine';

/** An argument error: Node's class and code for spawn(), ConfineArgumentError for command(). */
export function argumentError(style: ErrorStyle, code: NodeArgumentCode, message: string): Error {
  if (style === 'confine') return new ConfineArgumentError(`command: ${message}`);
  const e = code === 'ERR_OUT_OF_RANGE' ? new RangeError(message) : new TypeError(message);
  // Node's own errors say their code in String(error) too ("TypeError [CODE]: ..."), which
  // assert.throws(fn, /CODE/) and loggers match on.
  Object.defineProperty(e, 'toString', {
    value(this: Error) {
      return `${this.name} [${code}]: ${this.message}`;
    },
    enumerable: false,
    configurable: true,
    writable: true,
  });
  return Object.assign(e, { code });
}

const errnoNumbers = osConstants.errno as Record<string, number>;

/** The negative errno number libuv reports for a name (ENOENT → -2), or -1 when unknown here. */
export function uvErrno(name: string | null): number {
  const n = name ? errnoNumbers[name] : undefined;
  return n === undefined ? -1 : -n;
}

export interface ChildProcessError extends Error {
  code: string;
  errno: number;
  syscall: string;
  path: string;
  spawnargs: string[];
  /** The step of the start that failed, from confine's error. */
  stage: string | null;
}

/**
 * The error spawn() emits when the start failed: child_process's shape when the failure has an
 * errno (a missing program or cwd, a file that is not executable, a failed setgid, ...), with
 * confine's typed error as `cause`; confine's own refusals as they are.
 */
export function toChildProcessError(e: unknown, file: string, args: readonly string[]): Error {
  if (!(e instanceof ConfineError) || !e.errno || e.code === 'ERR_CONFINE_UNKNOWN_USER') return e as Error;
  const err = new Error(`spawn ${file} ${e.errno}`, { cause: e }) as ChildProcessError;
  err.errno = uvErrno(e.errno);
  err.code = e.errno;
  err.syscall = `spawn ${file}`;
  err.path = file;
  err.spawnargs = [...args];
  err.stage = e.stage;
  return err;
}

/** Node's AbortError (code ABORT_ERR), with the signal's reason as its cause. */
export function abortError(reason: unknown): Error {
  const e = new Error('The operation was aborted', { cause: reason });
  e.name = 'AbortError';
  Object.defineProperty(e, 'code', { value: 'ABORT_ERR', enumerable: true, writable: true, configurable: true });
  return e;
}
