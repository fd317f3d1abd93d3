// Input validation. Everything a caller can get wrong is checked here, in JavaScript, before
// any backend sees it: the native side trusts what it is given.

import { resolveBlockDevice } from './block-devices.js';
import { DELEGATED } from './cgroup/delegation.js';
import { ConfineArgumentError } from './errors.js';
import { signalNumber } from './signals.js';
import type { CommandOptions, ExecutorKind, IoDeviceRate, Resources, RunAsSpec } from './types.js';

const MAX = Number.MAX_SAFE_INTEGER;

interface ResourceRule {
  /** Smallest allowed value. */
  min: number;
  max: number;
  integer: boolean;
  /** One line for error messages. */
  unit: string;
}

/** The per-disk IO throttles: `{ device, rate }` or an array of them, rate in the key's unit. */
export const IO_RATE_RULES: Record<IoRateKey, ResourceRule> = {
  ioReadBytesPerSecond: { min: 1, max: MAX, integer: true, unit: 'bytes per second' },
  ioWriteBytesPerSecond: { min: 1, max: MAX, integer: true, unit: 'bytes per second' },
  // The kernel keeps IO operation limits in 32 bits.
  ioReadOpsPerSecond: { min: 1, max: 2 ** 32 - 1, integer: true, unit: 'operations per second' },
  ioWriteOpsPerSecond: { min: 1, max: 2 ** 32 - 1, integer: true, unit: 'operations per second' },
};
export type IoRateKey = 'ioReadBytesPerSecond' | 'ioWriteBytesPerSecond' | 'ioReadOpsPerSecond' | 'ioWriteOpsPerSecond';

/** The resources and their rules; the single list the API, the CLI and the docs read. */
export const RESOURCE_RULES: Record<Exclude<keyof Resources, 'cpus' | IoRateKey>, ResourceRule> = {
  memoryBytes: { min: 1, max: MAX, integer: true, unit: 'bytes' },
  memorySwapBytes: { min: 0, max: MAX, integer: true, unit: 'bytes' },
  cpu: { min: 0.001, max: 1 << 16, integer: false, unit: 'cores' },
  cpuWeight: { min: 1, max: 10000, integer: true, unit: 'weight 1..10000' },
  maxProcesses: { min: 1, max: 4194304, integer: true, unit: 'processes' },
  ioWeight: { min: 1, max: 10000, integer: true, unit: 'weight 1..10000' },
  // Fewer than 3 descriptors leaves the child without stdio; execve of a dynamically linked
  // program then fails in the loader.
  openFiles: { min: 3, max: 1 << 30, integer: true, unit: 'file descriptors' },
  cpuSeconds: { min: 1, max: MAX, integer: true, unit: 'seconds' },
  fileSizeBytes: { min: 0, max: MAX, integer: true, unit: 'bytes' },
  coreBytes: { min: 0, max: MAX, integer: true, unit: 'bytes' },
  stackBytes: { min: 16384, max: MAX, integer: true, unit: 'bytes' },
  addressSpaceBytes: { min: 1 << 20, max: MAX, integer: true, unit: 'bytes' },
};

export const RESOURCE_NAMES = [...Object.keys(RESOURCE_RULES), 'cpus', ...Object.keys(IO_RATE_RULES)] as (keyof Resources)[];

const CPUSET = /^\d+(-\d+)?(,\d+(-\d+)?)*$/;

/** The closest known name, for "did you mean" hints on typos like `memoryMB`. */
export function closest(name: string, known: readonly string[]): string | null {
  const lower = name.toLowerCase();
  let best: string | null = null;
  let bestScore = -Infinity;
  for (const k of known) {
    const kl = k.toLowerCase();
    let prefix = 0;
    while (prefix < Math.min(kl.length, lower.length) && kl[prefix] === lower[prefix]) prefix++;
    const d = editDistance(lower, kl);
    // A shared stem (memory…, maxProc…) says more than a small edit distance.
    if (prefix < 4 && d > 2) continue;
    const score = prefix * 2 - d;
    if (score > bestScore) {
      bestScore = score;
      best = k;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length]!;
}

function unknownKey(what: string, key: string, known: readonly string[]): ConfineArgumentError {
  const hint = closest(key, known);
  return new ConfineArgumentError(
    `${what}: unknown key ${JSON.stringify(key)}${hint ? ` (did you mean ${hint}?)` : ''}; ` + `known keys: ${known.join(', ')}`,
  );
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Validates a resources object; returns a copy without undefined entries. */
export function validateResources(input: unknown, what = 'limit'): Resources {
  if (!isPlainObject(input)) throw new ConfineArgumentError(`${what}: expected an object of resources`);
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(input)) {
    if (value === undefined) continue;
    if (key === 'cpus') {
      if (typeof value !== 'string' || !CPUSET.test(value)) {
        throw new ConfineArgumentError(`${what}: cpus must be a CPU list such as "0-1" or "0,2", got ${show(value)}`);
      }
      out[key] = value;
      continue;
    }
    if (Object.hasOwn(IO_RATE_RULES, key)) {
      out[key] = validateIoRates(`${what}: ${key}`, value, IO_RATE_RULES[key as IoRateKey]);
      continue;
    }
    const rule = Object.hasOwn(RESOURCE_RULES, key) ? RESOURCE_RULES[key as keyof typeof RESOURCE_RULES] : undefined;
    if (!rule) throw unknownKey(what, key, RESOURCE_NAMES);
    if (typeof value !== 'number' || !Number.isFinite(value)) {
      throw new ConfineArgumentError(`${what}: ${key} must be a finite number (${rule.unit}), got ${String(value)}`);
    }
    if (rule.integer && !Number.isInteger(value)) {
      throw new ConfineArgumentError(`${what}: ${key} must be an integer (${rule.unit}), got ${value}`);
    }
    if (value < rule.min || value > rule.max) {
      throw new ConfineArgumentError(`${what}: ${key} must be between ${rule.min} and ${rule.max} (${rule.unit}), got ${value}`);
    }
    out[key] = value;
  }
  return out as Resources;
}

/** Validates a string that becomes part of argv, envp or a path: no NUL bytes. */
export function validateCString(value: unknown, what: string): string {
  if (typeof value !== 'string') throw new ConfineArgumentError(`${what} must be a string, got ${typeOf(value)}`);
  if (value.includes('\0')) throw new ConfineArgumentError(`${what} must not contain NUL bytes`);
  return value;
}

/** A value for an error message: never throws (BigInt and Symbol defeat JSON.stringify). */
function show(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'bigint') return `${v}n`;
  if (typeof v === 'symbol' || typeof v === 'function') return String(v);
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return Object.prototype.toString.call(v);
  }
}

function typeOf(v: unknown): string {
  return v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v;
}

export function validateFile(file: unknown): string {
  validateCString(file, 'command: file');
  if (file === '') throw new ConfineArgumentError('command: file must not be empty');
  return file as string;
}

export function validateArgs(args: unknown): string[] {
  if (args === undefined || args === null) return [];
  if (!Array.isArray(args)) throw new ConfineArgumentError(`command: args must be an array of strings, got ${typeOf(args)}`);
  return args.map((a, i) => validateCString(a, `command: args[${i}]`));
}

const OPTION_KEYS = [
  'cwd',
  'env',
  'argv0',
  'stdio',
  'signal',
  'timeout',
  'killSignal',
  'graceMs',
  'detached',
  'executor',
  'strict',
  'cgroupParent',
  'killOnParentExit',
  'windowsHide',
] as const;

/** child_process options that confine expresses differently: the hint says how. */
const REDIRECTED: Record<string, string> = {
  uid: 'use executor.runAs(uid) or runAs("uid:gid")',
  gid: 'use executor.runAs("uid:gid")',
  shell: 'run a shell explicitly: command("sh", ["-c", script])',
  serialization: 'IPC channels are not supported',
  windowsVerbatimArguments: 'not supported',
};

const KINDS: readonly ExecutorKind[] = ['linux', 'posix', 'windows', 'universal'];

export function validateOptions(input: unknown): CommandOptions {
  if (input === undefined || input === null) return {};
  if (!isPlainObject(input)) throw new ConfineArgumentError('command: options must be an object');
  for (const key of Object.keys(input)) {
    if (input[key] === undefined) continue;
    if (Object.hasOwn(REDIRECTED, key))
      throw new ConfineArgumentError(`command: option ${key} is not supported: ${REDIRECTED[key]}`);
    if (!(OPTION_KEYS as readonly string[]).includes(key)) throw unknownKey('command: options', key, OPTION_KEYS);
  }
  const o = input as CommandOptions;
  if (o.cwd !== undefined) {
    const cwd = o.cwd instanceof URL ? o.cwd : validateCString(o.cwd, 'command: options.cwd');
    if (cwd === '') throw new ConfineArgumentError('command: options.cwd must not be empty');
  }
  if (o.env !== undefined) {
    if (!isPlainObject(o.env)) throw new ConfineArgumentError('command: options.env must be an object');
    for (const [k, v] of Object.entries(o.env)) {
      if (v === undefined) continue;
      validateCString(k, 'command: options.env key');
      if (k === '' || k.includes('='))
        throw new ConfineArgumentError(`command: options.env key ${JSON.stringify(k)} is not a valid name`);
      validateCString(String(v), `command: options.env.${k}`);
    }
  }
  if (o.argv0 !== undefined) validateCString(o.argv0, 'command: options.argv0');
  if (o.timeout !== undefined && (!Number.isInteger(o.timeout) || o.timeout <= 0)) {
    throw new ConfineArgumentError(
      `command: options.timeout must be a positive integer of milliseconds, got ${String(o.timeout)}`,
    );
  }
  if (o.graceMs !== undefined) validateGrace(o.graceMs, 'command: options.graceMs');
  if (o.killSignal !== undefined) signalNumber(o.killSignal, 'command: options.killSignal');
  if (o.signal !== undefined && !(o.signal instanceof AbortSignal)) {
    throw new ConfineArgumentError('command: options.signal must be an AbortSignal');
  }
  if (o.executor !== undefined && !KINDS.includes(o.executor)) {
    throw new ConfineArgumentError(`command: options.executor must be one of ${KINDS.join(', ')}, got ${show(o.executor)}`);
  }
  if (o.cgroupParent !== undefined) validateCgroupParent(o.cgroupParent, 'command: options.cgroupParent');
  for (const k of ['strict', 'killOnParentExit', 'detached', 'windowsHide'] as const) {
    if (o[k] !== undefined && typeof o[k] !== 'boolean')
      throw new ConfineArgumentError(`command: options.${k} must be a boolean`);
  }
  if (o.stdio !== undefined) validateStdio(o.stdio);
  return { ...o };
}

/**
 * cgroupParent: the keyword 'delegated' (the supervisor's delegated cgroup v2 subtree, with leave
 * to move its processes into a leaf: lib/cgroup/delegation.ts), or a path in the hierarchy.
 */
export function validateCgroupParent(value: unknown, what: string): string {
  const s = validateCString(value, what);
  if (s === DELEGATED) return s;
  // A path: where it lies in the hierarchy and whether this supervisor may use it are checked
  // when the parent is chosen (lib/cgroup/parent.ts), before anything starts.
  return s;
}

export function validateGrace(ms: unknown, what: string): number {
  if (typeof ms !== 'number' || !Number.isInteger(ms) || ms < 0 || ms > 2 ** 31 - 1) {
    throw new ConfineArgumentError(`${what} must be a non-negative integer of milliseconds, got ${String(ms)}`);
  }
  return ms;
}

function validateStdio(stdio: unknown): void {
  const entries = typeof stdio === 'string' ? [stdio] : stdio;
  if (!Array.isArray(entries)) throw new ConfineArgumentError('command: options.stdio must be a string or an array');
  entries.forEach((e, i) => {
    if (e === null || e === undefined || e === 'pipe' || e === 'inherit' || e === 'ignore') return;
    if (typeof e === 'number' && Number.isInteger(e) && e >= 0) return;
    if (typeof e === 'object' && typeof (e as { pipe?: unknown }).pipe === 'function') return;
    if (typeof e === 'object' && typeof (e as { on?: unknown }).on === 'function') return;
    throw new ConfineArgumentError(`command: options.stdio[${i}] must be 'pipe', 'inherit', 'ignore', an fd or a stream`);
  });
  if (typeof stdio === 'string' && !['pipe', 'inherit', 'ignore'].includes(stdio)) {
    throw new ConfineArgumentError(`command: options.stdio must be 'pipe', 'inherit', 'ignore' or an array`);
  }
}

/** Validates a runAs spec's shape (the user database is asked later, in start()). */
export function validateRunAs(spec: unknown): RunAsSpec {
  if (typeof spec === 'number') {
    if (!Number.isInteger(spec) || spec < 0 || spec > 0xfffffffe)
      throw new ConfineArgumentError(`runAs: uid must be an integer 0..4294967294, got ${spec}`);
    return spec;
  }
  if (typeof spec === 'string') {
    validateCString(spec, 'runAs');
    if (spec === '') throw new ConfineArgumentError('runAs: user must not be empty');
    const m = /^(\d+):(\d+)$/.exec(spec);
    if (m) {
      validateId(Number(m[1]), 'runAs: uid');
      validateId(Number(m[2]), 'runAs: gid');
    } else if (spec.includes(':')) {
      throw new ConfineArgumentError(`runAs: expected a user name, a uid or "uid:gid", got ${show(spec)}`);
    }
    return spec;
  }
  if (isPlainObject(spec)) {
    const keys = ['user', 'uid', 'gid', 'groups', 'restricted', 'integrity'];
    for (const k of Object.keys(spec)) {
      if (!keys.includes(k)) throw unknownKey('runAs', k, keys);
    }
    const s = spec as {
      user?: unknown;
      uid?: unknown;
      gid?: unknown;
      groups?: unknown;
      restricted?: unknown;
      integrity?: unknown;
    };
    if (s.restricted !== undefined || s.integrity !== undefined) {
      if (s.restricted !== true)
        throw new ConfineArgumentError('runAs: restricted must be true when given (integrity goes with it)');
      if (s.integrity !== undefined && s.integrity !== 'low' && s.integrity !== 'medium') {
        throw new ConfineArgumentError(`runAs: integrity must be 'low' or 'medium', got ${show(s.integrity)}`);
      }
      if (s.user !== undefined || s.uid !== undefined || s.gid !== undefined || s.groups !== undefined) {
        throw new ConfineArgumentError(
          "runAs: a restricted token is of the supervisor's own user: give no user, uid, gid or groups with it",
        );
      }
      return { restricted: true, integrity: (s.integrity as 'low' | 'medium' | undefined) ?? 'medium' };
    }
    if (s.user !== undefined) validateRunAs(s.user);
    if (s.uid !== undefined) validateId(s.uid, 'runAs: uid');
    if (s.gid !== undefined) validateId(s.gid, 'runAs: gid');
    if (s.user === undefined && s.uid === undefined) throw new ConfineArgumentError('runAs: give a user or a uid');
    if (s.user !== undefined && s.uid !== undefined) throw new ConfineArgumentError('runAs: give a user or a uid, not both');
    if (s.groups !== undefined) {
      if (!Array.isArray(s.groups)) throw new ConfineArgumentError('runAs: groups must be an array of gids');
      s.groups.forEach((g, i) => validateId(g, `runAs: groups[${i}]`));
      if (s.groups.length > 65536) throw new ConfineArgumentError('runAs: too many groups');
    }
    return { ...(spec as object) } as RunAsSpec;
  }
  throw new ConfineArgumentError(`runAs: expected a user name, uid, "uid:gid" or an object, got ${typeOf(spec)}`);
}

function validateId(v: unknown, what: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 0xfffffffe) {
    throw new ConfineArgumentError(`${what} must be an integer 0..4294967294, got ${String(v)}`);
  }
  return v;
}

/**
 * An IO throttle's value: `{ device, rate }` or a non-empty array of them, as an array of fresh
 * objects. On Linux each device must name something on this host (a path that exists, a device
 * number the kernel has), and no disk may be listed twice; whether the io controller can limit
 * it (tmpfs, NFS... cannot) is for `enforced` to say, not an error.
 */
function validateIoRates(what: string, value: unknown, rule: ResourceRule): IoDeviceRate[] {
  const list = Array.isArray(value) ? value : [value];
  if (list.length === 0) throw new ConfineArgumentError(`${what}: give at least one { device, rate }`);
  const disks = new Map<string, string>();
  return list.map((entry, i) => {
    const at = Array.isArray(value) ? `${what}[${i}]` : what;
    if (!isPlainObject(entry))
      throw new ConfineArgumentError(
        `${at} must be { device, rate } (device: '/dev/vda', '8:0' or a path on the disk), got ${show(entry)}`,
      );
    for (const k of Object.keys(entry))
      if (k !== 'device' && k !== 'rate' && entry[k] !== undefined) throw unknownKey(at, k, ['device', 'rate']);
    const { device, rate } = entry;
    validateCString(device, `${at}.device`);
    if (device === '') throw new ConfineArgumentError(`${at}.device must not be empty`);
    if (
      typeof rate !== 'number' ||
      Number.isNaN(rate) ||
      (Number.isFinite(rate) && (!Number.isInteger(rate) || rate < rule.min || rate > rule.max))
    )
      throw new ConfineArgumentError(
        `${at}.rate must be an integer between ${rule.min} and ${rule.max} (${rule.unit}), or Infinity for no limit, got ${String(rate)}`,
      );
    if (process.platform === 'linux') {
      const r = resolveBlockDevice(device as string);
      if (r.kind === 'bad') throw new ConfineArgumentError(`${at}.device: ${r.reason}`);
      if (r.kind === 'disk') {
        const other = disks.get(r.device);
        if (other !== undefined)
          throw new ConfineArgumentError(
            `${at}.device: ${JSON.stringify(device)} and ${JSON.stringify(other)} are both the disk ${r.name} (${r.device}); give it once`,
          );
        disks.set(r.device, device as string);
      }
    }
    return { device: device as string, rate };
  });
}
