// Input validation. Everything a caller can get wrong is checked here, in JavaScript, before
// any backend sees it: the native side trusts what it is given.

import { DELEGATED } from './cgroup/delegation.js';
import { readFileSync } from 'node:fs';
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
  // Below 1 MiB no program can even start: the kernel charges the new process's kernel stack,
  // page tables and the pages exec maps to the tree's memory cgroup. Smaller limits failed in
  // ways the kernel does not report (measured: 4 KiB makes execve fail with ENOMEM; 1 KiB kills
  // the child before it can write why, so the start looked fine and the child exited 127).
  memoryBytes: { min: 1 << 20, max: MAX, integer: true, unit: 'bytes' },
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

/** Validates a resources object; returns a copy (own properties only, no prototype) without undefined entries. */
export function validateResources(input: unknown, what = 'limit'): Resources {
  if (!isPlainObject(input)) throw new ConfineArgumentError(`${what}: expected an object of resources`);
  const out: Record<string, unknown> = Object.create(null);
  for (const [key, value] of Object.entries(input)) {
    if (value === undefined) continue;
    if (key === 'cpus') {
      if (typeof value !== 'string' || !CPUSET.test(value)) {
        throw new ConfineArgumentError(`${what}: cpus must be a CPU list such as "0-1" or "0,2", got ${show(value)}`);
      }
      checkCpusOnline(value, what);
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
    if (key === 'memoryBytes' && value < rule.min) {
      throw new ConfineArgumentError(
        `${what}: memoryBytes must be at least ${rule.min} (1 MiB), got ${value}: below that no program can even exec ` +
          "(the kernel charges the new process's kernel stack, page tables and the pages exec maps to the tree's cgroup, " +
          'and the start then fails in ways the kernel does not report)',
      );
    }
    if (key === 'openFiles') checkNrOpen(value, what);
    if (value < rule.min || value > rule.max) {
      throw new ConfineArgumentError(`${what}: ${key} must be between ${rule.min} and ${rule.max} (${rule.unit}), got ${value}`);
    }
    out[key] = value;
  }
  return out as Resources;
}

/** Linux: the kernel's ceiling for RLIMIT_NOFILE; null elsewhere or when unreadable. */
let nrOpen: number | null | undefined;
function nrOpenLimit(): number | null {
  if (nrOpen === undefined) {
    try {
      nrOpen = process.platform === 'linux' ? Number(readFileSync('/proc/sys/fs/nr_open', 'utf8')) || null : null;
    } catch {
      nrOpen = null;
    }
  }
  return nrOpen;
}

/** openFiles above fs.nr_open fails in the child with EPERM (prlimit), even for root: say why now. */
function checkNrOpen(value: number, what: string): void {
  const max = nrOpenLimit();
  if (max !== null && value > max) {
    throw new ConfineArgumentError(
      `${what}: openFiles must be between ${RESOURCE_RULES.openFiles.min} and ${max} here, got ${value}: ` +
        `fs.nr_open (/proc/sys/fs/nr_open), the kernel's ceiling for RLIMIT_NOFILE, is ${max}`,
    );
  }
}

/** The CPUs of a list such as "0-3,8". */
function cpuSet(list: string): Set<number> {
  const out = new Set<number>();
  for (const part of list.split(',')) {
    const [a, b] = part.split('-').map(Number) as [number, number | undefined];
    for (let c = a; c <= (b ?? a) && out.size <= 65536; c++) out.add(c);
  }
  return out;
}

/** Linux: a CPU list naming CPUs that are not online would fail later as ERANGE from the cgroup. */
function checkCpusOnline(value: string, what: string): void {
  if (process.platform !== 'linux') return;
  let online: string;
  try {
    online = readFileSync('/sys/devices/system/cpu/online', 'utf8').trim();
  } catch {
    return;
  }
  const have = cpuSet(online);
  const missing = [...cpuSet(value)].filter((c) => !have.has(c));
  if (missing.length > 0) {
    throw new ConfineArgumentError(
      `${what}: cpus ${JSON.stringify(value)} names CPUs that are not online here (${missing.slice(0, 5).join(', ')}` +
        `${missing.length > 5 ? ', ...' : ''}); online: ${online}`,
    );
  }
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
  'windowsVerbatimArguments',
  'uid',
  'gid',
  'serialization',
  'limits',
  'runAs',
  'isolate',
] as const;

const KINDS: readonly ExecutorKind[] = ['linux', 'posix', 'windows', 'universal'];

/**
 * confine's own checks of options that normalizeSpawnArguments() (lib/child-process) has already
 * checked by child_process's rules and copied (own properties only). `unknownKeys: 'reject'`
 * (command()) names a typo with a hint; spawn() ignores unknown keys, as child_process does.
 */
export function validateOptions(o: CommandOptions, unknownKeys: 'reject' | 'ignore'): CommandOptions {
  if (unknownKeys === 'reject') {
    for (const key of Object.keys(o)) {
      if (o[key as keyof CommandOptions] === undefined) continue;
      if (!(OPTION_KEYS as readonly string[]).includes(key)) throw unknownKey('command: options', key, OPTION_KEYS);
    }
  }
  if (o.env !== undefined && o.env !== null) {
    for (const k of Object.keys(o.env)) {
      if (k === '' || k.includes('='))
        throw new ConfineArgumentError(`command: options.env key ${JSON.stringify(k)} is not a valid name`);
    }
  }
  if (o.graceMs !== undefined) validateGrace(o.graceMs, 'command: options.graceMs');
  if (o.killSignal !== undefined && o.killSignal !== null) signalNumber(o.killSignal, 'command: options.killSignal');
  if (o.signal !== undefined && !(o.signal instanceof AbortSignal)) {
    throw new ConfineArgumentError('command: options.signal must be an AbortSignal');
  }
  if (o.executor !== undefined && !KINDS.includes(o.executor)) {
    throw new ConfineArgumentError(`command: options.executor must be one of ${KINDS.join(', ')}, got ${show(o.executor)}`);
  }
  if (o.cgroupParent !== undefined) validateCgroupParent(o.cgroupParent, 'command: options.cgroupParent');
  for (const k of ['strict', 'killOnParentExit'] as const) {
    if (o[k] !== undefined && typeof o[k] !== 'boolean')
      throw new ConfineArgumentError(`command: options.${k} must be a boolean`);
  }
  if (o.limits !== undefined) o.limits = validateResources(o.limits, 'command: options.limits');
  if (o.runAs !== undefined) {
    if (o.uid !== undefined || o.gid !== undefined)
      throw new ConfineArgumentError('command: give options.runAs or options.uid/gid, not both');
    o.runAs = validateRunAs(o.runAs);
  }
  return o;
}

/**
 * cgroupParent: the keyword 'delegated' (the supervisor's delegated cgroup v2 subtree, with leave
 * to move its processes into a leaf: lib/cgroup/delegation.ts), or a directory inside the cgroup
 * hierarchy as a clean absolute path. Anything else was silently normalised before ('rel/path'
 * became /rel/path, '/../../etc' became /etc), which made directories where nobody asked for
 * them. Whether this supervisor may use the path is checked when the parent is chosen
 * (lib/cgroup/parent.ts), before anything starts.
 */
export function validateCgroupParent(value: unknown, what: string): string {
  const p = validateCString(value, what);
  if (p === DELEGATED) return p;
  const clean = p === '/' || (/^(\/[^/]+)+$/.test(p) && !p.split('/').some((seg) => seg === '.' || seg === '..'));
  if (!clean) {
    throw new ConfineArgumentError(
      `${what} must be 'delegated' or a clean absolute path inside the cgroup hierarchy (such as "/confine" or "/services/ci"), ` +
        `got ${show(p)}: no relative path, no "." or ".." segment, no empty segment or trailing slash`,
    );
  }
  return p;
}

export function validateGrace(ms: unknown, what: string): number {
  if (typeof ms !== 'number' || !Number.isInteger(ms) || ms < 0 || ms > 2 ** 31 - 1) {
    throw new ConfineArgumentError(`${what} must be a non-negative integer of milliseconds, got ${String(ms)}`);
  }
  return ms;
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
    // Own properties only: an inherited gid or groups (a polluted Object.prototype) must never
    // decide whom the child runs as.
    const s = Object.assign(Object.create(null), spec) as {
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
      s.groups = [...s.groups];
    }
    return s as RunAsSpec;
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
  // Loaded here, not above: only IO limits name devices, and a run without them need not load it.
  const { resolveBlockDevice } = require('./block-devices.js') as typeof import('./block-devices.js');
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
