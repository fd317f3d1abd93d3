// The command line's values: sizes, durations and numbers as a person types them, turned into the
// API's units. A value that does not parse is a UsageError, worded in flags (exit status 2).

import type { IoDeviceRate } from '../types.js';

/** Bad usage of the command line: the message names the flag; `confine` exits 2. */
export class UsageError extends Error {
  /** The subcommand whose --help to point at ('run', 'doctor'), or null for `confine --help`. */
  readonly subcommand: string | null;
  constructor(message: string, subcommand: string | null = null) {
    super(message);
    this.subcommand = subcommand;
  }
}

const SIZE_UNITS: Record<string, number> = { '': 1, b: 1, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30, t: 2 ** 40 };

/** "256M" → 268435456. Binary units (K = 1024), as ulimit and cgroup files use. */
export function parseSize(text: string, flag: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b)?$/i.exec(text.trim());
  if (!m) throw new UsageError(`${flag}: not a size: ${JSON.stringify(text)} (use e.g. 512K, 256M, 1G)`, 'run');
  return Math.floor(Number(m[1]) * SIZE_UNITS[m[2]!.toLowerCase()]!);
}

/** "10s" → 10000, "500ms" → 500, "2m" → 120000; a bare number is seconds. */
export function parseDuration(text: string, flag: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h)?$/.exec(text.trim());
  if (!m) throw new UsageError(`${flag}: not a duration: ${JSON.stringify(text)} (use e.g. 500ms, 10s, 2m)`, 'run');
  const scale = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] ?? 's']!;
  return Math.round(Number(m[1]) * scale);
}

/**
 * A duration that must be more than 0: the API takes timeout 0 as "none" (child_process's
 * meaning), but on the command line a zero --timeout is a mistake, and no flag at all says "none".
 */
export function parsePositiveDuration(text: string, flag: string): number {
  const ms = parseDuration(text, flag);
  if (ms <= 0) throw new UsageError(`${flag} must be a positive integer of milliseconds, got ${ms}`, 'run');
  return ms;
}

/** A directory: the API takes cwd '' as "the supervisor's" (child_process's meaning); here it is a mistake. */
export function parseDirectory(text: string, flag: string): string {
  if (text === '') throw new UsageError(`${flag} must not be empty`, 'run');
  return text;
}

export function parseInteger(text: string, flag: string): number {
  if (!/^\d+$/.test(text.trim())) throw new UsageError(`${flag}: not a whole number: ${JSON.stringify(text)}`, 'run');
  return Number(text);
}

export function parseNumber(text: string, flag: string): number {
  const n = Number(text);
  if (text.trim() === '' || !Number.isFinite(n)) throw new UsageError(`${flag}: not a number: ${JSON.stringify(text)}`, 'run');
  return n;
}

/** "DEV:RATE" (the last colon splits: "8:0:2M" is device 8:0) → { device, rate } for an IO throttle. */
export function parseIoRate(text: string, flag: string, parseRate: (t: string, f: string) => number): IoDeviceRate {
  const i = text.lastIndexOf(':');
  if (i <= 0 || i === text.length - 1)
    throw new UsageError(`${flag}: expected DEVICE:RATE (e.g. /dev/vda:2M or 8:0:100), got ${JSON.stringify(text)}`, 'run');
  return { device: text.slice(0, i), rate: parseRate(text.slice(i + 1), flag) };
}
