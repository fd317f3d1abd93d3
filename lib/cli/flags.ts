// The flags of `confine run`, in one table: each flag's value, its line in --help, and what it sets
// in the API request. A new flag is one entry here (and a line in the README's synopsis, which
// test/cli.test.mjs compares with this table); parsing, --help and the flag wording of the API's
// error and warning messages all read the table.
//
// Flags come before the program: the first word that is not a flag (or everything after `--`)
// is FILE and its ARGS, as with env(1), timeout(1), nice(1) and `docker run`. So
// `confine run ls --help` runs `ls --help`, and `confine run --help` is confine's help.

import type { CommandOptions, Isolation, Resources, RunAsSpec } from '../types.js';
import { EXIT_STATUS } from './usage.js';
import {
  UsageError,
  parseDirectory,
  parseDuration,
  parseInteger,
  parseIoRate,
  parseNumber,
  parsePositiveDuration,
  parseSize,
} from './values.js';

/** What the flags ask for, before it becomes an Executor. */
export interface RunRequest {
  resources: Resources;
  options: CommandOptions;
  runAs: RunAsSpec | null;
  /** --env K=V in order; with clearEnv the child gets only these. */
  env: [string, string][];
  clearEnv: boolean;
  killOnParentExit: boolean;
  /** --isolate: isolate()'s preset, then `isolation` over it key by key. */
  isolate: boolean;
  /** The isolation flags' keys (--ro/--rw/--tmpfs give the whole filesystem key). */
  isolation: Isolation;
  report: boolean;
  json: boolean;
  /** The flags as given, by the API name they set ("--memory 64M" under memoryBytes), for messages. */
  given: Map<string, string>;
}

interface RunFlag {
  /** The long name, without the dashes. */
  name: string;
  /** The value's placeholder in --help (SIZE, N, DURATION); absent for a switch. */
  value?: string;
  /** The section of --help it is listed in. */
  group: 'limits' | 'identity and environment' | 'isolation' | 'lifetime' | 'output' | 'backend';
  help: string;
  /** The API name it sets (a Resources or CommandOptions key, or runAs): messages say the flag. */
  api?: string;
  /** Applies the value (a switch gets ''); throws UsageError for a value that does not parse. */
  set(req: RunRequest, value: string, flag: string): void;
}

/** A resource limit flag: the value parsed by kind into Resources[api] (a CPU LIST as given). */
function limit(name: string, value: 'SIZE' | 'N' | 'CORES' | 'LIST', api: keyof Resources, help: string): RunFlag {
  const parse = { SIZE: parseSize, N: parseInteger, CORES: parseNumber, LIST: (text: string) => text }[value];
  return {
    name,
    value,
    group: 'limits',
    help,
    api,
    set: (req, v, flag) => {
      (req.resources as Record<string, number | string>)[api] = parse(v, flag);
    },
  };
}

type IoRateKey = 'ioReadBytesPerSecond' | 'ioWriteBytesPerSecond' | 'ioReadOpsPerSecond' | 'ioWriteOpsPerSecond';

/** A per-disk IO throttle, DEV:SIZE or DEV:N; repeatable, one disk each time. */
function ioRate(name: string, value: 'SIZE' | 'N', api: IoRateKey, help: string): RunFlag {
  const parse = value === 'SIZE' ? parseSize : parseInteger;
  return {
    name,
    value: `DEV:${value}`,
    group: 'limits',
    help,
    api,
    set: (req, v, flag) => {
      const rates = req.resources[api];
      req.resources[api] = [...(Array.isArray(rates) ? rates : []), parseIoRate(v, flag, parse)];
    },
  };
}

/** A flag that sets one CommandOptions key: its value (parsed, if a parser is given), or true for a switch. */
function option(
  name: string,
  value: string | undefined,
  group: RunFlag['group'],
  api: keyof CommandOptions,
  help: string,
  parse?: (text: string, flag: string) => unknown,
): RunFlag {
  return {
    name,
    value,
    group,
    help,
    api,
    set: (req, v, flag) => {
      (req.options as Record<string, unknown>)[api] = value === undefined ? true : parse ? parse(v, flag) : v;
    },
  };
}

/** A path of the isolated view (--ro, --rw, --tmpfs), repeatable: any of them gives the whole filesystem key. */
function viewPath(name: string, kind: 'read' | 'write' | 'tmp', help: string): RunFlag {
  return {
    name,
    value: 'PATH',
    group: 'isolation',
    help,
    set: (req, v) => {
      req.isolation.filesystem ??= { read: [], write: [], tmp: [] };
      (req.isolation.filesystem[kind] as string[]).push(v);
    },
  };
}

/** A switch of the command line itself (not an API option). */
function toggle(name: string, group: RunFlag['group'], help: string, set: (req: RunRequest) => void): RunFlag {
  return { name, group, help, set };
}

/** The table. Order is the order of --help within each group. */
export const RUN_FLAGS: readonly RunFlag[] = [
  limit('memory', 'SIZE', 'memoryBytes', 'memory of the whole tree (e.g. 256M, 1G)'),
  limit('swap', 'SIZE', 'memorySwapBytes', 'swap of the whole tree'),
  limit('cpu', 'CORES', 'cpu', 'CPU share in cores (0.5 = half a core)'),
  limit('cpu-weight', 'N', 'cpuWeight', 'relative CPU weight 1..10000'),
  limit('cpus', 'LIST', 'cpus', 'CPU set, e.g. 0-1 or 0,2'),
  limit('pids', 'N', 'maxProcesses', 'processes (and threads) in the tree'),
  limit('io-weight', 'N', 'ioWeight', 'relative disk IO weight 1..10000 (BFQ, iocost)'),
  ioRate(
    'io-read-bps',
    'SIZE',
    'ioReadBytesPerSecond',
    'bytes per second the tree may read from DEV (repeatable; DEV: /dev/vda, 8:0, a path on it)',
  ),
  ioRate('io-write-bps', 'SIZE', 'ioWriteBytesPerSecond', 'bytes per second the tree may write to DEV (repeatable)'),
  ioRate('io-read-iops', 'N', 'ioReadOpsPerSecond', 'read operations per second on DEV (repeatable)'),
  ioRate('io-write-iops', 'N', 'ioWriteOpsPerSecond', 'write operations per second on DEV (repeatable)'),
  limit('nofile', 'N', 'openFiles', 'open files per process'),
  limit('cpu-seconds', 'N', 'cpuSeconds', 'CPU seconds per process'),
  limit('fsize', 'SIZE', 'fileSizeBytes', 'largest file a process may write'),
  limit('core', 'SIZE', 'coreBytes', 'largest core dump (0 disables)'),
  limit('stack', 'SIZE', 'stackBytes', 'stack size per process'),
  limit('as', 'SIZE', 'addressSpaceBytes', 'address space per process (breaks V8, JVM)'),
  {
    name: 'user',
    value: 'USER',
    group: 'identity and environment',
    help: 'run as USER (name, uid or uid:gid)',
    api: 'runAs',
    set: (req, v) => {
      req.runAs = v;
    },
  },
  option('cwd', 'DIR', 'identity and environment', 'cwd', 'working directory', parseDirectory),
  {
    name: 'env',
    value: 'K=V',
    group: 'identity and environment',
    help: 'set a variable (repeatable); the rest is inherited',
    api: 'env',
    set: (req, v, flag) => {
      const i = v.indexOf('=');
      if (i <= 0) throw new UsageError(`${flag}: expected K=V, got ${JSON.stringify(v)}`, 'run');
      req.env.push([v.slice(0, i), v.slice(i + 1)]);
    },
  },
  toggle('clear-env', 'identity and environment', 'start from an empty environment (--env only)', (req) => {
    req.clearEnv = true;
  }),
  toggle(
    'isolate',
    'isolation',
    'the isolation preset: system paths read-only, the cwd writable, a private /tmp, no network, its own processes, IPC and hostname (docs/isolation.md)',
    (req) => {
      req.isolate = true;
    },
  ),
  viewPath('ro', 'read', "the view holds PATH read-only (repeatable; --ro, --rw and --tmpfs replace the preset's filesystem)"),
  viewPath('rw', 'write', 'the view holds PATH read-write (repeatable)'),
  viewPath('tmpfs', 'tmp', 'a fresh tmpfs at PATH (repeatable)'),
  {
    name: 'network',
    value: 'MODE',
    group: 'isolation',
    help: 'none (nothing), loopback (its own lo, up) or host',
    set: (req, v, flag) => {
      if (v !== 'none' && v !== 'loopback' && v !== 'host')
        throw new UsageError(`${flag}: none, loopback or host, got ${JSON.stringify(v)}`, 'run');
      req.isolation.network = v;
    },
  },
  toggle('private-pids', 'isolation', 'its own pid namespace: it sees only its own processes', (req) => {
    req.isolation.processes = 'private';
  }),
  toggle('private-ipc', 'isolation', 'its own System V IPC and POSIX message queues', (req) => {
    req.isolation.ipc = 'private';
  }),
  {
    name: 'hostname',
    value: 'NAME',
    group: 'isolation',
    help: 'its own hostname',
    set: (req, v) => {
      req.isolation.hostname = v;
    },
  },
  {
    name: 'syscalls',
    value: 'MODE',
    group: 'isolation',
    help: 'default (the system call filter: docs/isolation.md) or host (none)',
    set: (req, v, flag) => {
      if (v !== 'default' && v !== 'host') throw new UsageError(`${flag}: default or host, got ${JSON.stringify(v)}`, 'run');
      if (v === 'host' && typeof req.isolation.syscalls === 'object')
        throw new UsageError(`${flag} host: --deny-syscall adds to the default filter, which host leaves out`, 'run');
      if (typeof req.isolation.syscalls !== 'object') req.isolation.syscalls = v;
    },
  },
  {
    name: 'deny-syscall',
    value: 'NAME',
    group: 'isolation',
    help: 'deny one more system call, on top of the default filter (repeatable)',
    set: (req, v, flag) => {
      if (req.isolation.syscalls === 'host')
        throw new UsageError(`${flag}: adds to the default filter; --syscalls host installs none`, 'run');
      const before = typeof req.isolation.syscalls === 'object' ? req.isolation.syscalls.deny : [];
      req.isolation.syscalls = { deny: [...before, v] };
    },
  },
  {
    name: 'cap',
    value: 'NAME',
    group: 'isolation',
    help: 'keep a capability for a child that runs as root, e.g. net_bind_service (repeatable)',
    set: (req, v) => {
      req.isolation.capabilities = [...(req.isolation.capabilities ?? []), v];
    },
  },
  option(
    'timeout',
    'DURATION',
    'lifetime',
    'timeout',
    'stop the tree after DURATION (e.g. 10s, 500ms, 2m)',
    parsePositiveDuration,
  ),
  option('grace', 'DURATION', 'lifetime', 'graceMs', 'time between the polite signal and the kill (default 5s)', parseDuration),
  toggle(
    'no-kill-on-parent-exit',
    'lifetime',
    'let the tree outlive confine (by default it dies with confine, where the backend can)',
    (req) => {
      req.killOnParentExit = false;
    },
  ),
  option('strict', undefined, 'backend', 'strict', 'fail instead of running when a limit cannot be enforced'),
  option('executor', 'KIND', 'backend', 'executor', 'force a backend: linux, posix, windows, universal'),
  option(
    'cgroup-parent',
    'DIR',
    'backend',
    'cgroupParent',
    "parent cgroup of the tree's cgroup (a path in the cgroup hierarchy)",
  ),
  toggle('report', 'output', 'print how each limit was enforced, and the usage at exit, to stderr', (req) => {
    req.report = true;
  }),
  toggle('json', 'output', 'with --report: the report as one line of JSON', (req) => {
    req.json = true;
  }),
];

const BY_NAME = new Map(RUN_FLAGS.map((f) => [f.name, f]));
const BY_API = new Map(RUN_FLAGS.filter((f) => f.api).map((f) => [f.api!, `--${f.name}`]));

export interface ParsedRun {
  request: RunRequest;
  /** The program and its arguments; empty when none was given. */
  command: string[];
  help: boolean;
}

/** Parses `confine run`'s arguments: flags up to the program, the program and its arguments. */
export function parseRunArgs(argv: readonly string[]): ParsedRun {
  const request: RunRequest = {
    resources: {},
    options: {},
    runAs: null,
    env: [],
    clearEnv: false,
    killOnParentExit: true,
    isolate: false,
    isolation: {},
    report: false,
    json: false,
    given: new Map(),
  };
  const applied: [RunFlag, string, string][] = [];
  let command: string[] = [];
  let help = false;
  for (let i = 0; i < argv.length; i++) {
    const tok = argv[i]!;
    if (tok === '--') {
      command = argv.slice(i + 1);
      break;
    }
    if (!tok.startsWith('-') || tok === '-') {
      command = argv.slice(i);
      break;
    }
    if (tok === '-h' || tok === '--help') {
      help = true;
      continue;
    }
    const eq = tok.indexOf('=');
    const written = eq < 0 ? tok : tok.slice(0, eq);
    const f = written.startsWith('--') ? BY_NAME.get(written.slice(2)) : undefined;
    if (!f) throw new UsageError(`unknown option ${written}${didYouMean(written)}`, 'run');
    let value = '';
    if (f.value === undefined) {
      if (eq >= 0) throw new UsageError(`${written} takes no value`, 'run');
    } else if (eq >= 0) value = tok.slice(eq + 1);
    else if (i + 1 < argv.length) value = argv[++i]!;
    else throw new UsageError(`${written} needs a value (${f.value})`, 'run');
    applied.push([f, value, written]);
  }
  // --help wins over a bad value elsewhere: whoever asks for help gets it.
  if (help) return { request, command, help };
  for (const [f, value, written] of applied) {
    f.set(request, value, written);
    if (f.api) request.given.set(f.api, f.value === undefined ? written : `${written} ${value}`);
  }
  if (request.json && !request.report)
    throw new UsageError('--json selects the format of --report, which was not given (add --report)', 'run');
  return { request, command, help };
}

function didYouMean(written: string): string {
  // validate.js (the API's "did you mean") only on this error path: --help loads none of the library.
  const { closest } = require('../validate.js') as typeof import('../validate.js');
  const hit = closest(written.replace(/^-+/, ''), [...BY_NAME.keys(), 'help']);
  return hit ? ` (did you mean --${hit}?)` : '';
}

/** The flag that sets an API name ('memoryBytes' → '--memory'), or null. */
export function flagOf(api: string): string | null {
  return BY_API.get(api) ?? null;
}

/**
 * An API message in the command line's words: the API name it starts with becomes the flag
 * ("limit: memoryBytes must be …" → "--memory must be …", "command: options.timeout …" →
 * "--timeout …", "memoryBytes is not enforced …" → "--memory is not enforced …",
 * "limit: ioWriteBytesPerSecond[0].rate must be …" → "--io-write-bps #1: rate must be …").
 */
export function inFlags(message: string): string {
  // A repeatable flag's value is an array entry: "ioWriteBytesPerSecond[1].rate" → "--io-write-bps #2: rate".
  const api = /^(?:limit: |command: options\.|command: )?([A-Za-z]\w*)(?:\[(\d+)\](?:\.(\w+))?)?/;
  return message.replace(api, (all, name: string, index?: string, field?: string) => {
    if (name === 'file') return 'FILE';
    const flag = BY_API.get(name);
    if (!flag) return all;
    return index === undefined ? flag : `${flag} #${Number(index) + 1}:${field ? ` ${field}` : ''}`;
  });
}

/** --help fits a terminal of 80 columns. */
const HELP_COLUMNS = 80;

/** Lines of at most `columns` characters, broken between words (a longer word stays whole). */
function wrapWords(text: string, columns: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line && line.length + 1 + word.length > columns) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  lines.push(line);
  return lines;
}

/** `confine run --help`. */
export function runUsage(): string {
  const lines = [
    'usage: confine run [options] [--] FILE [ARGS...]',
    '',
    'Runs FILE confined, passes stdio through, and exits with its exit code (128+N',
    'when it ended by signal N). Options come before FILE; `--` ends them where FILE',
    'starts with a dash.',
    'SIGINT, SIGTERM and SIGHUP stop the tree gracefully (a second one kills it).',
  ];
  const groups = [...new Set(RUN_FLAGS.map((f) => f.group))];
  const left = (f: RunFlag) => `--${f.name}${f.value ? ` ${f.value}` : ''}`;
  const width = Math.max(...RUN_FLAGS.map((f) => left(f).length)) + 2;
  for (const g of groups) {
    lines.push('', `${g}:`);
    for (const f of RUN_FLAGS.filter((x) => x.group === g)) {
      const [first, ...more] = wrapWords(f.help, HELP_COLUMNS - 2 - width);
      lines.push(`  ${left(f).padEnd(width)}${first}`, ...more.map((l) => `${' '.repeat(2 + width)}${l}`));
    }
  }
  lines.push('', `  ${'-h, --help'.padEnd(width)}this help`, '', EXIT_STATUS);
  return lines.join('\n');
}
