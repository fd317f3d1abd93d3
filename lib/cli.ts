#!/usr/bin/env node
// The `confine` command: `confine run [limits] -- FILE ARGS...` runs a program confined and exits
// with its status; `confine doctor` says what this host can enforce. Arguments are parsed by
// Node's own util.parseArgs (no dependency).

import { parseArgs } from 'node:util';
import { constants } from 'node:os';
import { command, capabilities, ConfineError } from './index.js';
import type { Executor } from './executor.js';
import { doctorOrphans, formatOrphans } from './lifecycle/orphans.js';
import type { CommandOptions, EnforcedMap, ExitStatus, IoDeviceRate, Resources } from './types.js';
import type { DelegationReport } from './cgroup/delegation.js';

const USAGE = `usage:
  confine run [options] -- FILE [ARGS...]   run FILE confined; exits with its exit code
                                            (128+N when killed by signal N)
  confine doctor [--json]                   what this host can enforce, and why not

run options:
  --memory SIZE       memory of the whole tree (e.g. 256M, 1G)
  --swap SIZE         swap of the whole tree
  --cpu CORES         CPU share in cores (0.5 = half a core)
  --cpu-weight N      relative CPU weight 1..10000
  --cpus LIST         CPU set, e.g. 0-1
  --pids N            processes in the tree
  --io-weight N       relative disk IO weight 1..10000 (BFQ or iocost disks)
  --io-read-bps DEV:SIZE    bytes per second the tree may read from disk DEV (repeatable;
                            DEV: /dev/vda, 8:0 or a path on the disk; e.g. /dev/vda:10M)
  --io-write-bps DEV:SIZE   bytes per second the tree may write to DEV (repeatable)
  --io-read-iops DEV:N      read operations per second on DEV (repeatable)
  --io-write-iops DEV:N     write operations per second on DEV (repeatable)
  --nofile N          open files per process
  --cpu-seconds N     CPU seconds per process
  --fsize SIZE        largest file a process may write
  --core SIZE         largest core dump (0 disables)
  --stack SIZE        stack size
  --as SIZE           address space per process (breaks V8 and JVM children)
  --user USER         run as USER (name, uid or uid:gid)
  --cwd DIR           working directory
  --env K=V           set a variable (repeatable); the rest is inherited
  --clear-env         start from an empty environment (only --env variables)
  --timeout DURATION  stop the tree after DURATION (e.g. 10s, 500ms, 2m)
  --grace DURATION    time between the polite signal and the kill (default 5s)
  --executor KIND     force a backend: linux, posix, windows, universal
  --cgroup-parent DIR parent cgroup for the tree's cgroup
  --no-kill-on-parent-exit   let the tree outlive confine
  --strict            fail instead of running when a limit cannot be enforced
  --report            print how each limit was enforced, and the usage at exit, to stderr
  --json              with --report (and doctor): JSON instead of text

exit status: the program's (128+N when it ended by signal N, also after --timeout);
125 when confine itself failed; 126 not executable; 127 not found; 2 for bad usage.`;

const SIZE_UNITS: Record<string, number> = { '': 1, b: 1, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30, t: 2 ** 40 };

class UsageError extends Error {}

/** "256M" → 268435456. Binary units (K = 1024), as ulimit and cgroup files use. */
export function parseSize(text: string, what: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b)?$/i.exec(text.trim());
  if (!m) throw new UsageError(`${what}: not a size: ${JSON.stringify(text)} (use e.g. 512K, 256M, 1G)`);
  return Math.floor(Number(m[1]) * SIZE_UNITS[m[2]!.toLowerCase()]!);
}

/** "10s" → 10000, "500ms" → 500, "2m" → 120000; a bare number is seconds. */
export function parseDuration(text: string, what: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h)?$/.exec(text.trim());
  if (!m) throw new UsageError(`${what}: not a duration: ${JSON.stringify(text)} (use e.g. 500ms, 10s, 2m)`);
  const scale = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] ?? 's']!;
  return Math.round(Number(m[1]) * scale);
}

function parseInteger(text: string, what: string): number {
  if (!/^\d+$/.test(text.trim())) throw new UsageError(`${what}: not a whole number: ${JSON.stringify(text)}`);
  return Number(text);
}

function parseNumber(text: string, what: string): number {
  const n = Number(text);
  if (text.trim() === '' || !Number.isFinite(n)) throw new UsageError(`${what}: not a number: ${JSON.stringify(text)}`);
  return n;
}

/** "DEV:RATE" (the last colon splits: "8:0:2M" is device 8:0) → { device, rate } for an IO throttle. */
export function parseIoRate(text: string, what: string, parseRate: (t: string, w: string) => number): IoDeviceRate {
  const i = text.lastIndexOf(':');
  if (i <= 0 || i === text.length - 1)
    throw new UsageError(`${what}: expected DEVICE:RATE (e.g. /dev/vda:2M or 8:0:100), got ${JSON.stringify(text)}`);
  return { device: text.slice(0, i), rate: parseRate(text.slice(i + 1), what) };
}

function formatEnforced(enforced: EnforcedMap): string {
  const rows = Object.entries(enforced).map(
    ([k, e]) =>
      `  ${k.padEnd(18)} ${e!.enforced ? 'enforced' : 'NOT enforced'}  ${e!.mechanism} (${e!.scope})${e!.note ? `: ${e!.note}` : ''}`,
  );
  return rows.join('\n');
}

function formatStatus(s: ExitStatus): string {
  const parts = [`exit code ${s.exitCode ?? '-'}`, `signal ${s.signal ?? '-'}`];
  if (s.oomKilled) parts.push('OOM-killed');
  if (s.timedOut) parts.push('timed out');
  if (s.cpuUserMicros !== null) parts.push(`cpu user ${(s.cpuUserMicros / 1e3).toFixed(1)} ms`);
  if (s.cpuSystemMicros !== null) parts.push(`cpu system ${(s.cpuSystemMicros / 1e3).toFixed(1)} ms`);
  if (s.memoryPeakBytes !== null) parts.push(`peak memory ${(s.memoryPeakBytes / 2 ** 20).toFixed(1)} MiB`);
  parts.push(`wall ${s.durationMs} ms`);
  return parts.join(', ');
}

/** The shell's convention: the exit code, or 128 + the signal number. */
function exitCodeOf(s: ExitStatus): number {
  if (s.exitCode !== null) return s.exitCode;
  if (s.signal) return 128 + ((constants.signals as Record<string, number>)[s.signal] ?? 0);
  return 1;
}

async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      memory: { type: 'string' },
      swap: { type: 'string' },
      cpu: { type: 'string' },
      'cpu-weight': { type: 'string' },
      cpus: { type: 'string' },
      pids: { type: 'string' },
      'io-weight': { type: 'string' },
      'io-read-bps': { type: 'string', multiple: true },
      'io-write-bps': { type: 'string', multiple: true },
      'io-read-iops': { type: 'string', multiple: true },
      'io-write-iops': { type: 'string', multiple: true },
      nofile: { type: 'string' },
      'cpu-seconds': { type: 'string' },
      fsize: { type: 'string' },
      core: { type: 'string' },
      stack: { type: 'string' },
      as: { type: 'string' },
      user: { type: 'string' },
      cwd: { type: 'string' },
      env: { type: 'string', multiple: true },
      'clear-env': { type: 'boolean' },
      timeout: { type: 'string' },
      grace: { type: 'string' },
      executor: { type: 'string' },
      'cgroup-parent': { type: 'string' },
      'no-kill-on-parent-exit': { type: 'boolean' },
      strict: { type: 'boolean' },
      report: { type: 'boolean' },
      json: { type: 'boolean' },
    },
  });
  const [file, ...args] = positionals;
  if (!file) throw new UsageError('run: missing the program to run (confine run [options] -- FILE ARGS...)');

  const resources: Resources = {};
  if (values.memory !== undefined) resources.memoryBytes = parseSize(values.memory, '--memory');
  if (values.swap !== undefined) resources.memorySwapBytes = parseSize(values.swap, '--swap');
  if (values.cpu !== undefined) resources.cpu = parseNumber(values.cpu, '--cpu');
  if (values['cpu-weight'] !== undefined) resources.cpuWeight = parseInteger(values['cpu-weight'], '--cpu-weight');
  if (values.cpus !== undefined) resources.cpus = values.cpus;
  if (values.pids !== undefined) resources.maxProcesses = parseInteger(values.pids, '--pids');
  if (values['io-weight'] !== undefined) resources.ioWeight = parseInteger(values['io-weight'], '--io-weight');
  const ioFlags = [
    ['io-read-bps', 'ioReadBytesPerSecond', parseSize],
    ['io-write-bps', 'ioWriteBytesPerSecond', parseSize],
    ['io-read-iops', 'ioReadOpsPerSecond', parseInteger],
    ['io-write-iops', 'ioWriteOpsPerSecond', parseInteger],
  ] as const;
  for (const [flag, key, parseRate] of ioFlags) {
    const given = values[flag];
    if (given?.length) resources[key] = given.map((t) => parseIoRate(t, `--${flag}`, parseRate));
  }
  if (values.nofile !== undefined) resources.openFiles = parseInteger(values.nofile, '--nofile');
  if (values['cpu-seconds'] !== undefined) resources.cpuSeconds = parseInteger(values['cpu-seconds'], '--cpu-seconds');
  if (values.fsize !== undefined) resources.fileSizeBytes = parseSize(values.fsize, '--fsize');
  if (values.core !== undefined) resources.coreBytes = parseSize(values.core, '--core');
  if (values.stack !== undefined) resources.stackBytes = parseSize(values.stack, '--stack');
  if (values.as !== undefined) resources.addressSpaceBytes = parseSize(values.as, '--as');

  let env: NodeJS.ProcessEnv | undefined;
  if (values.env?.length || values['clear-env']) {
    env = values['clear-env'] ? {} : { ...process.env };
    for (const kv of values.env ?? []) {
      const i = kv.indexOf('=');
      if (i <= 0) throw new UsageError(`--env: expected K=V, got ${JSON.stringify(kv)}`);
      env[kv.slice(0, i)] = kv.slice(i + 1);
    }
  }
  const graceMs = values.grace !== undefined ? parseDuration(values.grace, '--grace') : 5000;
  const options: CommandOptions = {
    stdio: 'inherit',
    graceMs,
    killOnParentExit: !values['no-kill-on-parent-exit'],
    strict: values.strict === true,
  };
  if (values.cwd !== undefined) options.cwd = values.cwd;
  if (env) options.env = env;
  if (values.timeout !== undefined) options.timeout = parseDuration(values.timeout, '--timeout');
  if (values.executor !== undefined) options.executor = values.executor as CommandOptions['executor'];
  if (values['cgroup-parent'] !== undefined) options.cgroupParent = values['cgroup-parent'];

  let ex: Executor = command(file, args, options).limit(resources);
  // killOnParentExit is confine run's default, not the user's request: where the backend cannot
  // enforce it, run without it rather than warn on every run.
  if (!ex.enforced.killOnParentExit?.enforced) ex = command(file, args, { ...options, killOnParentExit: false }).limit(resources);
  if (values.user !== undefined) ex.runAs(values.user);
  // A polite stop on the first SIGINT/SIGTERM/SIGHUP, the kill on the second. Installed before
  // the start, so a signal that arrives while the program is being started is not lost (nor
  // does it kill confine by Node's default action and leave the tree behind).
  const received: NodeJS.Signals[] = [];
  let started = false;
  const act = (sig: NodeJS.Signals, nth: number) => {
    if (nth === 1) void ex.shutdown({ signal: sig, graceMs }).catch(() => {});
    else void ex.forceStop().catch(() => {});
  };
  const onSignal = (sig: NodeJS.Signals) => {
    received.push(sig);
    if (started) act(sig, received.length);
  };
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as NodeJS.Signals[]) process.on(sig, onSignal);
  await ex.start();
  started = true;
  received.forEach((sig, i) => act(sig, i + 1));

  const status = await ex.wait();
  if (values.report) {
    if (values.json) {
      process.stderr.write(`${JSON.stringify({ backend: ex.kind, enforced: ex.enforced, status })}\n`);
    } else {
      process.stderr.write(`confine: ${ex.kind} backend\n${formatEnforced(ex.enforced)}\nconfine: ${formatStatus(status)}\n`);
    }
  }
  return exitCodeOf(status);
}

function doctor(argv: string[]): number {
  const { values } = parseArgs({ args: argv, options: { json: { type: 'boolean' } } });
  const caps = capabilities();
  const orphans = doctorOrphans();
  if (values.json) {
    process.stdout.write(`${JSON.stringify({ ...caps, orphans }, null, 2)}\n`);
    return 0;
  }
  const lines = [
    `backend:   ${caps.backend}${caps.native ? ' (native addon loaded)' : ' (pure JS)'}`,
    `backends:  ${caps.backends.join(', ')}`,
    `platform:  ${caps.platform}${caps.root ? ', running as root' : ', not root'}`,
  ];
  if (caps.addon) lines.push(`addon:     ${caps.addon.version} ${caps.addon.path ?? ''}`);
  const cg = caps.detail?.cgroup as
    | {
        mode: string;
        version: number | null;
        parent: Record<string, string> | null;
        reason: string | null;
        delegation?: DelegationReport;
      }
    | undefined;
  if (cg)
    lines.push(
      `cgroups:   ${cg.mode}${cg.parent ? `, tasks under ${[...new Set(Object.values(cg.parent))].join(' ')}` : `, unusable: ${cg.reason}`}`,
    );
  if (cg?.delegation && (!caps.root || cg.delegation.allowed)) lines.push(...formatDelegation(cg.delegation));
  if (Object.keys(caps.features).length)
    lines.push(
      `kernel:    ${Object.entries(caps.features)
        .map(([k, v]) => `${k}=${v}`)
        .join(' ')}`,
    );
  lines.push('', 'limits:');
  lines.push(formatEnforced(caps.resources));
  if (caps.missing.length) {
    lines.push('', 'missing:');
    for (const m of caps.missing) lines.push(`  ${m.what}: ${m.why}`);
  }
  lines.push(...formatOrphans(orphans));
  process.stdout.write(`${lines.join('\n')}\n`);
  return 0;
}

/** doctor: the delegated cgroup v2 subtree a non-root supervisor needs for tree limits. */
function formatDelegation(d: DelegationReport): string[] {
  const out: string[] = [];
  if (d.applies && d.subtree) {
    const where =
      d.via === 'parent'
        ? "the parent of this process's cgroup"
        : d.via === 'root'
          ? 'the hierarchy root'
          : "this process's own cgroup";
    out.push(`delegated: ${d.subtree} (${where}); controllers: ${d.controllers.join(' ') || 'none'}`);
    if (d.moved > 0) out.push(`           ${d.moved} process(es) moved into ${d.leaf} (the no-internal-processes rule)`);
    else if (d.blocked && d.allowed)
      out.push(
        `           it holds ${d.processes} process(es); a supervisor allowed by 'delegated' moves them into ${d.leaf ?? 'a confine leaf'} at its first tree (the no-internal-processes rule)`,
      );
    else if (d.blocked)
      out.push(
        `           BLOCKED: it holds ${d.processes} process(es), and by cgroup v2's no-internal-processes rule a cgroup with processes cannot enable controllers for task cgroups: no memory, CPU or process-count limits`,
      );
  } else if (d.applies) {
    out.push(`delegated: none: ${d.reason}`);
  } else if (d.mode === 'v1' || d.mode === 'hybrid') {
    out.push('delegated: not what tree limits need here: they come from the cgroup v1 hierarchies');
  }
  if (d.howTo.length) {
    out.push(d.subtree && d.applies ? 'to use it:' : 'to get one:');
    for (const h of d.howTo) out.push(`  ${h}`);
  }
  return out;
}

async function main(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  try {
    if (sub === 'run') return await run(rest);
    if (sub === 'doctor') return doctor(rest);
    if (sub === '-h' || sub === '--help' || sub === 'help') {
      process.stdout.write(`${USAGE}\n`);
      return 0;
    }
    throw new UsageError(sub ? `unknown command ${JSON.stringify(sub)}` : 'missing command');
  } catch (e) {
    if (e instanceof UsageError || (e as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`confine: ${(e as Error).message}\n\n${USAGE}\n`);
      return 2;
    }
    if (e instanceof ConfineError) {
      const where = [e.stage && `stage ${e.stage}`, e.syscall, e.errno].filter(Boolean).join(', ');
      process.stderr.write(`confine: ${e.message} [${e.code}${where ? `; ${where}` : ''}]\n`);
      if (e.code === 'ERR_CONFINE_COMMAND_NOT_FOUND') return e.errno === 'EACCES' ? 126 : 127;
      if (e.stage === 'execve') return e.errno === 'ENOENT' ? 127 : 126;
      return 125;
    }
    process.stderr.write(`confine: ${(e as Error)?.stack ?? String(e)}\n`);
    return 125;
  }
}

main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
