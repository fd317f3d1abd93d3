// Typed errors with stable codes. Every error confine raises is a ConfineError; the subclass says
// which kind of failure it is, `code` is stable across versions, and spawn failures carry the
// child-side `stage`, the failing `syscall` and the `errno` name.

import { constants as osConstants } from 'node:os';

export interface ErrorDetail {
  syscall?: string | null;
  errno?: string | null;
  stage?: string | null;
  path?: string | null;
  cause?: unknown;
}

const errnoByNumber = new Map<number, string>(Object.entries(osConstants.errno).map(([name, n]) => [n as number, name]));

/** errno number (as the kernel reports it) to its name, e.g. 2 → 'ENOENT'. */
export function errnoName(n: number): string {
  return errnoByNumber.get(n) ?? `E${n}`;
}

export class ConfineError extends Error {
  readonly code: string;
  /** The failing system call, when one failed. */
  readonly syscall: string | null;
  /** The errno name (e.g. 'EPERM'), when a system call failed. */
  readonly errno: string | null;
  /** The step of the child's birth that failed (e.g. 'setgroups', 'chdir', 'execve'). */
  readonly stage: string | null;
  readonly path: string | null;

  constructor(code: string, message: string, detail: ErrorDetail = {}) {
    super(message, detail.cause === undefined ? undefined : { cause: detail.cause });
    this.name = new.target.name;
    this.code = code;
    this.syscall = detail.syscall ?? null;
    this.errno = detail.errno ?? null;
    this.stage = detail.stage ?? null;
    this.path = detail.path ?? null;
  }
}

/** A value passed to the API is wrong: wrong type, out of range, unknown key. */
export class ConfineArgumentError extends ConfineError {
  /** `detail` where checking the value took a system call (e.g. access(2) on a cgroupParent). */
  constructor(message: string, detail: ErrorDetail = {}) {
    super('ERR_CONFINE_INVALID_ARGUMENT', message, detail);
  }
}

/** A call made at the wrong time: limit() after start(), start() twice. */
export class ConfineStateError extends ConfineError {
  constructor(message: string) {
    super('ERR_CONFINE_INVALID_STATE', message);
  }
}

/** runAs named a user or uid that the user database does not know. */
export class UnknownUserError extends ConfineError {
  readonly user: string | number;
  constructor(user: string | number, detail: ErrorDetail = {}) {
    super('ERR_CONFINE_UNKNOWN_USER', `runAs: no such user: ${JSON.stringify(user)}`, detail);
    this.user = user;
  }
}

/** The program could not be found, or is not executable. */
export class CommandNotFoundError extends ConfineError {
  constructor(file: string, detail: ErrorDetail & { message?: string } = {}) {
    super('ERR_CONFINE_COMMAND_NOT_FOUND', detail.message ?? `command not found: ${file}`, {
      stage: 'resolve',
      syscall: 'access',
      errno: 'ENOENT',
      path: file,
      ...detail,
    });
  }
}

/** The child could not be started: a step between fork and exec failed. */
export class SpawnError extends ConfineError {
  constructor(message: string, detail: ErrorDetail) {
    super('ERR_CONFINE_SPAWN', message, detail);
  }
}

/**
 * isolate(): the filesystem view cannot be built as asked (a listed path does not exist, a tmp
 * that is a file, paths that overlap once symlinks are resolved), or it does not hold the program,
 * its interpreter or the working directory. Raised by start() before anything runs.
 */
export class IsolationError extends ConfineError {
  constructor(message: string, detail: ErrorDetail = {}) {
    super('ERR_CONFINE_ISOLATION', message, { stage: 'view', ...detail });
  }
}

/** strict: a requested limit or identity cannot be enforced by the chosen backend. */
export class UnenforcedError extends ConfineError {
  readonly limits: string[];
  /** Each limit with why it is not enforced. */
  constructor(missing: { limit: string; why: string }[], backend: string) {
    super(
      'ERR_CONFINE_UNENFORCED',
      `strict: the ${backend} backend cannot enforce ${missing.map((m) => `${m.limit} (${m.why})`).join('; ')}`,
    );
    this.limits = missing.map((m) => m.limit);
  }
}

/** The asked-for backend cannot run here. */
export class BackendUnavailableError extends ConfineError {
  constructor(kind: string, why: string) {
    super('ERR_CONFINE_BACKEND_UNAVAILABLE', `the ${kind} backend is not available: ${why}`);
  }
}

/** openPid(): the process is gone, or the pid now belongs to another process. */
export class StaleHandleError extends ConfineError {
  constructor(message: string, detail: ErrorDetail = {}) {
    super('ERR_CONFINE_STALE_HANDLE', message, detail);
  }
}

/** A system call in the supervisor failed (signal delivery, cgroup file, ...). */
export class SystemError extends ConfineError {
  constructor(message: string, detail: ErrorDetail) {
    super('ERR_CONFINE_SYSTEM', message, detail);
  }
}

/** Turn a Node system error (from fs, child_process) into a ConfineError subclass. */
export function fromNodeError(e: unknown, stage: string, what: string): ConfineError {
  const err = e as NodeJS.ErrnoException;
  const errno = typeof err?.code === 'string' ? err.code : null;
  const syscall = typeof err?.syscall === 'string' ? err.syscall : null;
  return new SpawnError(`${what}: ${err?.message ?? String(e)}`, {
    stage,
    errno,
    syscall,
    path: err?.path ?? null,
    cause: e,
  });
}
