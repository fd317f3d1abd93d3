// child_process.spawn's argument rules, once, for spawn() and command(): what Node accepts is
// accepted (spawn(file, options), non-string args turned into strings, cwd '' or null, timeout 0,
// shell false), what it refuses is refused with its codes (spawn()) or as ConfineArgumentError
// (command()), and `shell` becomes the shell's own command line as Node builds it.
//
// Only own properties of the options are read: the result is a null-prototype copy. A supervisor
// whose Object.prototype was polluted (a `cwd`, `shell`, `uid` or `env` there) must not have
// its children run with them; Node 20 ignores inherited options the same way.

import { fileURLToPath } from 'node:url';
import { inspect } from 'node:util';
import { constants as osConstants } from 'node:os';
import { ConfineArgumentError } from '../errors.js';
import type { CommandOptions, StdioOption } from '../types.js';
import type { ErrorStyle } from './errors.js';

/** child_process's argument error (./errors.js is loaded on a bad argument only). */
function argumentError(...args: Parameters<typeof import('./errors.js').argumentError>): Error {
  return (require('./errors.js') as typeof import('./errors.js')).argumentError(...args);
}

export interface SpawnArguments {
  /** The program as the executor runs it (the shell, with `shell`). */
  file: string;
  /** Its arguments, argv[0] not included. */
  args: string[];
  /** A null-prototype copy of the own options, normalized (see normalizeSpawnArguments). */
  options: CommandOptions;
}

/** Own enumerable properties of `o` in an object without a prototype. */
export function ownCopy<T extends object>(o: T): T {
  return Object.assign(Object.create(null) as T, o);
}

/** What Node says a value is in ERR_INVALID_ARG_TYPE ("Received ..."), worded as Node words it. */
function received(v: unknown): string {
  if (v === null || v === undefined) return `Received ${v}`;
  if (typeof v === 'function' && v.name) return `Received function ${v.name}`;
  if (typeof v === 'object') {
    const name = (v as { constructor?: { name?: string } }).constructor?.name;
    return name ? `Received an instance of ${name}` : `Received ${inspect(v, { depth: -1 })}`;
  }
  let shown = inspect(v, { colors: false });
  if (shown.length > 28) shown = `${shown.slice(0, 25)}...`;
  return `Received type ${typeof v} (${shown})`;
}

/** Node's word for a name: "options.cwd" is a property, "file" an argument. */
function kindOf(name: string): string {
  return name.includes('.') ? 'property' : 'argument';
}

function typeError(style: ErrorStyle, name: string, expected: string, v: unknown): Error {
  return argumentError(style, 'ERR_INVALID_ARG_TYPE', `The "${name}" ${kindOf(name)} must be ${expected}. ${received(v)}`);
}

function valueError(style: ErrorStyle, name: string, v: unknown, reason: string): Error {
  let shown = inspect(v);
  if (shown.length > 128) shown = `${shown.slice(0, 128)}...`;
  return argumentError(style, 'ERR_INVALID_ARG_VALUE', `The ${kindOf(name)} '${name}' ${reason}. Received ${shown}`);
}

function noNul(style: ErrorStyle, v: unknown, name: string, what = 'a string'): void {
  if (typeof v === 'string' && v.includes('\0')) throw valueError(style, name, v, `must be ${what} without null bytes`);
}

function checkBoolean(style: ErrorStyle, o: CommandOptions, key: keyof CommandOptions): void {
  const v = o[key];
  if (v !== undefined && v !== null && typeof v !== 'boolean') throw typeError(style, `options.${key}`, 'of type boolean', v);
}

/** An argument as child_process passes it: strings as they are, anything else as String() does. */
function argString(style: ErrorStyle, a: unknown, i: number): string {
  if (typeof a === 'string') {
    noNul(style, a, `args[${i}]`);
    return a;
  }
  if (typeof a === 'symbol') throw typeError(style, `args[${i}]`, 'of type string', a);
  return String(a);
}

const STDIO_WORDS = ['pipe', 'overlapped', 'ignore', 'inherit'];

/**
 * The stdio option as child_process checks it. 'ipc' is refused: the channel child_process sets
 * up is internal to it (and passing handles needs libuv's IPC pipe, which Node does not expose),
 * so there is no sound way to offer its send() here; see docs/compatibility.md.
 */
function checkStdio(style: ErrorStyle, stdio: unknown): StdioOption | undefined {
  if (stdio === undefined || stdio === null) return undefined;
  if (typeof stdio === 'string') {
    if (!STDIO_WORDS.includes(stdio)) throw valueError(style, 'stdio', stdio, 'is invalid');
    return (stdio === 'overlapped' ? 'pipe' : stdio) as StdioOption;
  }
  if (!Array.isArray(stdio)) throw valueError(style, 'stdio', stdio, 'is invalid');
  if (stdio.filter((e) => e === 'ipc').length > 1) {
    throw Object.assign(new Error('Child process can have only one IPC pipe'), { code: 'ERR_IPC_ONE_PIPE' });
  }
  return stdio.map((e, i) => {
    if (e === null || e === undefined) return e;
    if (e === 'ipc') {
      throw new ConfineArgumentError(
        `stdio[${i}]: 'ipc' is not supported: child_process's IPC channel (send(), 'message') is internal to Node and cannot be ` +
          `offered soundly for a confined child; use a 'pipe' at stdio[${i}] with a protocol of your own (e.g. one JSON ` +
          'document per line), or child_process.fork() for a Node worker that needs no confinement',
      );
    }
    if (typeof e === 'string') {
      if (!STDIO_WORDS.includes(e)) throw valueError(style, 'stdio', e, 'is invalid');
      return e === 'overlapped' ? 'pipe' : e;
    }
    if (typeof e === 'number') {
      if (!Number.isInteger(e)) throw valueError(style, 'stdio', e, 'is invalid');
      return e < 0 ? 'pipe' : e; // child_process makes a pipe of a negative fd
    }
    if (typeof e === 'object') {
      const o = e as { fd?: unknown; _handle?: unknown; handle?: unknown; pipe?: unknown; on?: unknown };
      if (typeof o.fd === 'number' || o._handle !== undefined || o.handle !== undefined) return e;
      if (typeof o.pipe === 'function' || typeof o.on === 'function') return e; // a stream not open yet: the backend says so
    }
    throw valueError(style, 'stdio', e, 'is invalid');
  }) as StdioOption;
}

function checkSignal(style: ErrorStyle, v: unknown): void {
  if (v === undefined) return;
  if (v === null || typeof v !== 'object' || !('aborted' in v))
    throw typeError(style, 'options.signal', 'an instance of AbortSignal', v);
}

function checkKillSignal(style: ErrorStyle, v: unknown): void {
  if (v === undefined || v === null) return;
  const signals = osConstants.signals as Record<string, number>;
  if (typeof v === 'string') {
    if (signals[v] === undefined) throw argumentError(style, 'ERR_UNKNOWN_SIGNAL', `Unknown signal: ${v}`);
    return;
  }
  if (typeof v === 'number') {
    if (!Object.values(signals).includes(v)) throw argumentError(style, 'ERR_UNKNOWN_SIGNAL', `Unknown signal: ${v}`);
    return;
  }
  throw typeError(style, 'options.killSignal', 'one of type string or number', v);
}

/**
 * The environment as child_process builds it, from the given object's own keys and those it
 * inherits through its own prototype chain (Object.create(process.env) is a common idiom), but
 * never from Object.prototype: a key planted there (LD_PRELOAD, NODE_OPTIONS) would reach every
 * child. Values are strings as `${value}` makes them; undefined ones are left out.
 */
export function flattenEnv(style: ErrorStyle, env: object): Record<string, string> {
  const out: Record<string, string> = Object.create(null);
  for (let o: object | null = env; o !== null && o !== Object.prototype; o = Object.getPrototypeOf(o)) {
    for (const key of Object.keys(o)) {
      if (key in out) continue; // shadowed by a nearer object
      const v = (o as Record<string, unknown>)[key];
      if (v === undefined) {
        out[key] = undefined as unknown as string;
        continue;
      }
      const value = String(v);
      noNul(style, key, `options.env['${key}']`);
      noNul(style, value, `options.env['${key}']`);
      out[key] = value;
    }
  }
  for (const key of Object.keys(out)) if (out[key] === undefined) delete out[key];
  return out;
}

function isInt32(v: unknown): boolean {
  return typeof v === 'number' && Number.isInteger(v) && v >= -(2 ** 31) && v < 2 ** 31;
}

/**
 * Node's normalizeSpawnArguments, as a contract: returns the program, its arguments and the own
 * options, with `shell` turned into the shell's command line, argv[0] left to the executor, cwd
 * '' and null as no cwd, timeout 0 as none, uid/gid kept for runAs.
 */
export function normalizeSpawnArguments(style: ErrorStyle, file: unknown, args: unknown, options: unknown): SpawnArguments {
  if (typeof file !== 'string') throw typeError(style, 'file', 'of type string', file);
  noNul(style, file, 'file');
  if (file.length === 0) throw valueError(style, 'file', file, 'cannot be empty');

  let list: unknown[];
  if (Array.isArray(args)) list = args.slice();
  else if (args === undefined || args === null) list = [];
  else if (typeof args !== 'object') throw typeError(style, 'args', 'of type object', args);
  else {
    options = args;
    list = [];
  }
  let argv = list.map((a, i) => argString(style, a, i));

  // child_process refuses an explicit null; command() has always taken it as no options.
  if (options === undefined || (options === null && style === 'confine')) options = {};
  if (typeof options !== 'object' || options === null || Array.isArray(options))
    throw typeError(style, 'options', 'of type object', options);
  const o = ownCopy(options as CommandOptions);

  if (o.cwd === null || (o.cwd as unknown) === '') delete o.cwd;
  else if (o.cwd !== undefined) {
    if (o.cwd instanceof URL)
      o.cwd = fileURLToPath(o.cwd); // throws Node's own errors for other schemes and hosts
    else if (Buffer.isBuffer(o.cwd)) o.cwd = (o.cwd as Buffer).toString();
    else if (typeof o.cwd !== 'string')
      throw typeError(style, 'options.cwd', 'of type string or an instance of Buffer or URL', o.cwd);
    noNul(style, o.cwd, 'options.cwd', 'a string, Uint8Array, or URL');
  }
  checkBoolean(style, o, 'detached');
  checkBoolean(style, o, 'windowsHide');
  checkBoolean(style, o, 'windowsVerbatimArguments');
  for (const k of ['uid', 'gid'] as const) {
    if (o[k] === null) delete o[k];
    else if (o[k] !== undefined && !isInt32(o[k])) throw typeError(style, `options.${k}`, 'int32', o[k]);
  }
  const shell = o.shell;
  if (shell !== undefined && shell !== null && typeof shell !== 'boolean' && typeof shell !== 'string')
    throw typeError(style, 'options.shell', 'one of type boolean or string', shell);
  if (o.argv0 === null) delete o.argv0;
  else if (o.argv0 !== undefined) {
    if (typeof o.argv0 !== 'string') throw typeError(style, 'options.argv0', 'of type string', o.argv0);
    noNul(style, o.argv0, 'options.argv0');
  }
  if (o.timeout === null || o.timeout === 0) delete o.timeout;
  else if (o.timeout !== undefined && !(Number.isInteger(o.timeout) && o.timeout >= 0)) {
    throw argumentError(
      style,
      'ERR_OUT_OF_RANGE',
      `The value of "timeout" is out of range. It must be an unsigned integer. Received ${String(o.timeout)}`,
    );
  }
  checkSignal(style, o.signal);
  checkKillSignal(style, o.killSignal);
  if (o.killSignal === null) delete o.killSignal;
  const stdio = checkStdio(style, o.stdio);
  if (stdio === undefined) delete o.stdio;
  else o.stdio = stdio;
  if (o.serialization !== undefined && o.serialization !== 'json' && o.serialization !== 'advanced')
    throw valueError(style, 'options.serialization', o.serialization, "must be one of: undefined, 'json', 'advanced'");
  if (o.env === null) delete o.env;
  else if (o.env !== undefined) o.env = flattenEnv(style, o.env);

  let program = file;
  if (shell) {
    noNul(style, shell, 'options.shell');
    const command = [file, ...argv].join(' ');
    if (process.platform === 'win32') {
      program = typeof shell === 'string' ? shell : (process.env.comspec ?? 'cmd.exe');
      if (/^(?:.*\\)?cmd(?:\.exe)?$/i.test(program)) {
        argv = ['/d', '/s', '/c', `"${command}"`];
        o.windowsVerbatimArguments = true;
      } else argv = ['-c', command];
    } else {
      program = typeof shell === 'string' ? shell : '/bin/sh';
      argv = ['-c', command];
    }
  }
  delete o.shell;
  return { file: program, args: argv, options: o };
}
