// The windows backend: every child starts suspended inside a Job Object of its own (created
// suspended, put in the job, then resumed: no instruction runs outside it), so the job's limits
// hold for the whole tree, the tree stops as a whole (TerminateJobObject) and kill-on-close ends
// it with the supervisor. The addon's surface is in docs/native-win.md; this file converts the
// public API's requests into its calls and its facts into the API's answers.
//
// What Windows has no equivalent for (the rlimit-only resources, running as another user by
// name) is reported as not enforced, and so is what Wine accepts but ignores (memory and
// process-count limits, CPU time, CPU rate control).

import * as net from 'node:net';
import * as path from 'node:path';
import { isolationEnforcement, isolationSupport } from '../isolation/index.js';
import { randomBytes } from 'node:crypto';
import { PassThrough, type Readable, type Writable } from 'node:stream';
import {
  CommandNotFoundError,
  ConfineArgumentError,
  ConfineError,
  SpawnError,
  StaleHandleError,
  SystemError,
} from '../errors.js';
import type {
  AddonError,
  WinExit,
  WinJobEvent,
  WinLimitErrors,
  WinLimits,
  WinSpawnResult,
  WinStdio,
  WindowsAddon,
} from '../addon.js';
import { windowsAddon } from '../loader.js';
import type { EnforcedMap, Enforcement, Resources, Stats, StdioValue } from '../types.js';
import {
  encodeHandle,
  type Backend,
  type HandleData,
  type LaunchRequest,
  type PlanRequest,
  type RawExit,
  type Tree,
} from './backend.js';
import { drainStdio, notEnforced, stdioClosed, streamFd } from './shared.js';

const SIGKILL = 9;
/** Exit code of a tree ended by forceStop (TerminateJobObject), as taskkill /F and libuv's kill give. */
const TERMINATED_EXIT_CODE = 1;

/** The public resources a Job Object holds, and how. */
const JOB_RESOURCES: Partial<Record<keyof Resources, { scope: 'tree' | 'process'; note: string }>> = {
  memoryBytes: {
    scope: 'tree',
    note: 'JobMemoryLimit: committed memory of the whole tree; the tree is terminated (oomKilled) when the limit message arrives',
  },
  maxProcesses: { scope: 'tree', note: 'ActiveProcessLimit: a process past the limit fails to start' },
  cpu: { scope: 'tree', note: 'CPU rate control, hard cap' },
  cpuWeight: { scope: 'tree', note: 'CPU rate control, weight based (1..9, mapped from 1..10000)' },
  cpuSeconds: {
    scope: 'process',
    note: 'PerProcessUserTimeLimit: user time of each process (system time is not counted, unlike RLIMIT_CPU)',
  },
};

/** What the Job Object cannot express, per resource. */
const NOT_ON_WINDOWS: Partial<Record<keyof Resources, string>> = {
  memorySwapBytes: 'Windows has no separate swap limit: memoryBytes limits committed memory, which includes the pagefile',
  cpus: 'CPU affinity of the job is not implemented by the addon',
  openFiles: 'Windows has no per-process handle limit (RLIMIT_NOFILE)',
  fileSizeBytes: 'Windows has no file size limit (RLIMIT_FSIZE)',
  coreBytes: 'Windows writes no core dumps (RLIMIT_CORE); crash dumps are configured system-wide',
  stackBytes: 'the stack size is fixed by the executable header on Windows (RLIMIT_STACK has no equivalent)',
  addressSpaceBytes: 'Windows has no address-space limit (RLIMIT_AS); memoryBytes limits committed memory',
  ioWeight: 'disk IO limits of a job (JobObjectIoRateControlInformation) are not implemented by the addon',
  ioReadBytesPerSecond: 'disk IO limits of a job (JobObjectIoRateControlInformation) are not implemented by the addon',
  ioWriteBytesPerSecond: 'disk IO limits of a job (JobObjectIoRateControlInformation) are not implemented by the addon',
  ioReadOpsPerSecond: 'disk IO limits of a job (JobObjectIoRateControlInformation) are not implemented by the addon',
  ioWriteOpsPerSecond: 'disk IO limits of a job (JobObjectIoRateControlInformation) are not implemented by the addon',
};

interface Probe {
  wine: string | null;
  cpuRateControl: boolean;
  console: boolean;
}

let probed: Probe | null = null;
function probe(addon: WindowsAddon): Probe {
  if (!probed) {
    const f = addon.probe().features ?? {};
    probed = {
      wine: typeof f.wine === 'string' ? f.wine : null,
      cpuRateControl: f.cpuRateControl === true,
      console: f.console === true,
    };
  }
  return probed;
}

/** Enforcement of one job-held resource on this host. */
function jobEnforcement(key: keyof Resources, p: Probe, resources: Resources): Enforcement {
  const rule = JOB_RESOURCES[key]!;
  const e = (enforced: boolean, note: string): Enforcement => ({ enforced, mechanism: 'job', scope: rule.scope, note });
  if (key === 'cpu' || key === 'cpuWeight') {
    if (!p.cpuRateControl) {
      return e(
        false,
        p.wine !== null
          ? `Wine ${p.wine} refuses Job Object CPU rate control`
          : 'this system refused Job Object CPU rate control (measured by the addon)',
      );
    }
    if (key === 'cpuWeight' && resources.cpu !== undefined)
      return e(
        false,
        'a CPU hard cap (cpu) and a weight exclude each other on a Job Object: the cap is written, the weight dropped',
      );
    return e(true, rule.note);
  }
  if (p.wine !== null)
    return e(
      false,
      `Wine ${p.wine} accepts the Job Object limit but does not enforce it (${rule.note.split(':')[0]}); real Windows does`,
    );
  return e(true, rule.note);
}

/** The addon's `limits` for the job-held resources of a request. */
function jobLimits(resources: Resources): WinLimits {
  const out: Record<string, number> = {};
  for (const key of Object.keys(JOB_RESOURCES) as (keyof Resources)[]) {
    const v = resources[key];
    if (typeof v === 'number') out[key] = v;
  }
  return out;
}

function isBatch(file: string): boolean {
  return /\.(bat|cmd)$/i.test(file);
}

/**
 * `.bat`/`.cmd` run through cmd.exe, which re-parses the command line: every argument is quoted,
 * and what cmd expands even inside quotes (%VAR%, and quotes that would end the quoting) is
 * refused rather than escaped badly (the "BatBadBut" class of bugs).
 */
function batchCommand(file: string, args: string[]): { file: string; argv: string[] } {
  for (const a of [file, ...args]) {
    if (/["%\r\n\0]/.test(a)) {
      throw new ConfineArgumentError(
        `cannot pass ${JSON.stringify(a)} to a batch file: cmd.exe would expand or split it (", %, line breaks are refused)`,
      );
    }
  }
  const quote = (a: string) => `"${a.replace(/(\\+)$/, '$1$1')}"`;
  const line = [file, ...args].map(quote).join(' ');
  const root = process.env.SystemRoot ?? process.env.windir ?? 'C:\\Windows';
  const cmd =
    process.env.ComSpec && path.win32.isAbsolute(process.env.ComSpec)
      ? process.env.ComSpec
      : path.win32.join(root, 'System32', 'cmd.exe');
  return { file: cmd, argv: ['cmd.exe', '/d', '/v:off', '/s', '/c', `"${line}"`] };
}

/**
 * One named-pipe server for a 'pipe' slot: the addon connects the child's end during spawn. Its
 * listen is synchronous (libuv creates the first pipe instance in bind), so spawn can follow at
 * once; the accepted socket arrives on a later turn of the loop, so the caller gets a stand-in
 * stream now (`end`) that is joined to the socket when it comes: spawn() returns with its stdio.
 */
interface PipeSlot {
  path: string;
  server: net.Server;
  socket: Promise<net.Socket>;
  /** The parent's end as the caller sees it. */
  end: PassThrough;
}

function pipeSlot(fd: number): PipeSlot {
  const name = `\\\\.\\pipe\\confine-${process.pid}-${randomBytes(16).toString('hex')}`;
  const server = net.createServer();
  const end = new PassThrough();
  const socket = new Promise<net.Socket>((resolve, reject) => {
    server.once('error', reject);
    server.once('connection', (s) => {
      server.close();
      resolve(s);
    });
  });
  server.listen(name);
  void socket.then(
    (s) => {
      // fd 0 is written by us, the others read.
      if (fd === 0) end.pipe(s);
      else s.pipe(end);
      s.on('error', (e) => end.destroy(e));
      end.once('close', () => s.destroy());
    },
    (e: unknown) => end.destroy(e as Error),
  );
  return { path: name, server, socket, end };
}

/** The addon's errors carry stage/syscall/errno (Win32) and posixErrno: give them their class. */
function toTypedError(e: unknown, file: string): unknown {
  if (e instanceof ConfineError) return e;
  const err = e as AddonError | null;
  if (err?.code !== 'ERR_CONFINE_SPAWN' && err?.code !== 'ERR_CONFINE_SYSTEM') return e;
  const stage = err.stage ?? 'spawn';
  const errno = err.posixErrno ?? err.errno ?? null;
  const detail = `${stage} failed: ${err.syscall ?? ''} ${err.errno ?? ''}${err.message ? ` (${err.message})` : ''}`.replace(
    /\s+/g,
    ' ',
  );
  if (err.posixErrno === 'ENOENT' && stage === 'create') {
    return new CommandNotFoundError(file, {
      stage,
      syscall: err.syscall ?? 'CreateProcessW',
      errno: 'ENOENT',
      path: file,
      message: `command not found: ${file} (${detail})`,
      cause: e,
    });
  }
  return new SpawnError(`cannot start ${file}: ${detail}`, { stage, errno, syscall: err.syscall ?? null, path: file, cause: e });
}

function warn(message: string): void {
  process.emitWarning(message, { type: 'ConfineWarning', code: 'CONFINE_UNENFORCED' });
}

export class WindowsBackend implements Backend {
  readonly kind = 'windows' as const;

  private get addon(): WindowsAddon {
    const a = windowsAddon();
    if (!a) throw new SystemError('the native addon is not loaded', {});
    return a;
  }

  unavailable(): string | null {
    return null; // select.ts only makes a WindowsBackend where the addon has the Windows spawn()
  }

  plan(req: PlanRequest): EnforcedMap {
    const p = probe(this.addon);
    const out: EnforcedMap = {};
    for (const key of Object.keys(req.resources) as (keyof Resources)[]) {
      if (req.resources[key] === undefined) continue;
      if (JOB_RESOURCES[key]) out[key] = jobEnforcement(key, p, req.resources);
      else out[key] = notEnforced(NOT_ON_WINDOWS[key] ?? 'no Windows mechanism');
    }
    if (req.runAs && req.restricted) {
      out.runAs =
        p.wine !== null
          ? notEnforced(
              'restricted token: created and used, but Wine does not apply it (the child keeps the full token); enforced on real Windows',
            )
          : {
              enforced: true,
              mechanism: 'restricted-token',
              scope: 'tree',
              note: 'CreateRestrictedToken: Administrators and other privileged groups deny-only, privileges removed; children inherit it',
            };
    } else if (req.runAs) {
      out.runAs = notEnforced(
        "running as another user by name or uid needs a password or a service on Windows; not supported: use runAs({ restricted: true }) for a restricted token of the supervisor's own user",
      );
    }
    if (req.killOnParentExit) {
      out.killOnParentExit = {
        enforced: true,
        mechanism: 'job',
        scope: 'tree',
        note: 'JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE: the tree dies when the supervisor closes the job or dies in any way',
      };
    }
    out.treeStop = {
      enforced: true,
      mechanism: 'job',
      scope: 'tree',
      note: 'TerminateJobObject; every descendant is born in the job and breakaway is never allowed',
    };
    out.closeFds = {
      enforced: true,
      mechanism: 'handle-list',
      scope: 'process',
      note: 'PROC_THREAD_ATTRIBUTE_HANDLE_LIST: the child inherits its stdio handles and nothing else',
    };
    // No namespaces here: every isolation key is reported as not enforced, saying why.
    if (req.isolation) Object.assign(out, isolationEnforcement(req.isolation, this.kind, isolationSupport));
    return out;
  }

  launch(req: LaunchRequest): Tree {
    const addon = this.addon;
    const slots: (PipeSlot | null)[] = [];
    const stdio: WinStdio[] = [];
    let started: WinSpawnResult | null = null;
    try {
      req.stdio.forEach((s, i) => {
        if (i > 2 && s !== 'ignore' && s !== null && s !== undefined) {
          throw new ConfineArgumentError(`stdio[${i}]: the windows backend passes only stdin, stdout and stderr to the child`);
        }
      });
      for (let i = 0; i < 3; i++) {
        const s: StdioValue = req.stdio[i] ?? 'ignore';
        if (s === 'pipe' || s === 'overlapped') {
          const slot = pipeSlot(i);
          slots[i] = slot;
          stdio.push({ type: 'pipe', path: slot.path });
          continue;
        }
        slots[i] = null;
        if (s === 'inherit' || s === 'ignore') stdio.push(s);
        else if (typeof s === 'number') stdio.push({ type: 'fd', fd: s });
        else if (s === null) stdio.push('ignore');
        else {
          const fd = streamFd(s);
          if (fd === null)
            throw new ConfineArgumentError(`stdio[${i}]: the stream has no file descriptor (open it first, or use 'pipe')`);
          stdio.push({ type: 'fd', fd });
        }
      }
      const cmd = isBatch(req.file) ? batchCommand(req.file, req.argv.slice(1)) : { file: req.file, argv: req.argv };
      started = addon.spawn({
        file: cmd.file,
        argv: cmd.argv,
        verbatimArguments: cmd.file !== req.file || req.windowsVerbatimArguments === true,
        env: Object.entries(req.env).map(([k, v]) => `${k}=${v}`),
        cwd: req.cwd,
        stdio,
        limits: jobLimits(req.resources),
        killOnClose: req.killOnParentExit,
        ...(req.restricted ? { restrictedToken: { integrity: req.restricted.integrity } } : {}),
        strictLimits: false, // strict is the Executor's, from plan(); a limit the job refuses is warned about below
        windowsHide: true,
      });
      // A limit the plan expected to hold but the job refused is never silent.
      const planned = this.plan({
        resources: req.resources,
        identity: null,
        runAs: false,
        killOnParentExit: false,
        cgroupParent: undefined,
        customArgv0: false,
        isolation: null,
      });
      for (const [k, err] of Object.entries(started.limitErrors ?? {})) {
        if (planned[k as keyof Resources]?.enforced)
          warn(
            `${k} is not enforced by the windows backend: the Job Object refused it (${err.errno ?? ''} ${err.message ?? ''})`.trim(),
          );
      }
      const tree = new WindowsTree(
        addon,
        started.job,
        started.pid,
        started.jobName,
        String(started.startTimeMicros),
        slots.map((slot) => slot?.end ?? null),
      );
      // Running once every pipe the addon connected has been accepted.
      tree.started = Promise.all(slots.map((slot) => slot?.socket)).then(() => undefined);
      return tree;
    } catch (e) {
      if (started) {
        try {
          addon.terminate(started.job, TERMINATED_EXIT_CODE);
          addon.close(started.job);
        } catch {
          /* already gone */
        }
      }
      for (const slot of slots) {
        if (!slot) continue;
        slot.server.close();
        slot.end.destroy();
        void slot.socket.then(
          (s) => s.destroy(),
          () => {},
        );
      }
      throw toTypedError(e, req.file);
    }
  }

  async attach(data: HandleData): Promise<Tree> {
    const addon = this.addon;
    const name = data.extra?.job;
    if (typeof name !== 'string') {
      throw new ConfineArgumentError(
        'openPid on Windows needs executor.handle: a bare pid names no Job Object, so its identity cannot be proved',
      );
    }
    let r: ReturnType<WindowsAddon['openJob']> & { pid: number; startTimeMicros: number };
    try {
      r = addon.openJob(name, data.pid);
    } catch (e) {
      const err = e as AddonError;
      throw new StaleHandleError(
        err.stage === 'identity'
          ? `openPid: pid ${data.pid} is not in the handle's job (it exited and the pid was reused)`
          : `openPid: the job of this handle is gone (${err.errno ?? err.message ?? 'OpenJobObjectW failed'})`,
        { errno: err.errno ?? null, syscall: err.syscall ?? null, stage: err.stage ?? null, cause: e },
      );
    }
    if (data.startTime !== null && data.startTime !== undefined && String(r.startTimeMicros) !== data.startTime) {
      addon.close(r.job);
      throw new StaleHandleError(`openPid: pid ${data.pid} now belongs to another process (start time differs)`, {
        errno: 'ESRCH',
      });
    }
    return new WindowsTree(addon, r.job, r.pid, r.jobName, String(r.startTimeMicros), [null, null, null]);
  }
}

class WindowsTree implements Tree {
  /** Set by launch() (the pipes accepted); resolved for an attached job. */
  started: Promise<void> = Promise.resolve();
  readonly handle: string;
  readonly stdio: (Readable | Writable | null)[];
  readonly exited: Promise<RawExit>;
  readonly closed: Promise<void>;
  private gone = false;
  private jobClosed = false;
  private releaseWanted = false;
  private oom = false;
  private peak: number | null = null;
  private cpu: { user: number; system: number } | null = null;

  constructor(
    private readonly addon: WindowsAddon,
    private readonly job: number,
    readonly pid: number,
    jobName: string,
    startTime: string,
    stdio: (Readable | Writable | null)[],
  ) {
    this.stdio = stdio;
    this.handle = encodeHandle({ kind: 'windows', pid, startTime, extra: { job: jobName } });
    this.exited = new Promise((resolve) => {
      addon.watch(
        job,
        (info: WinExit) => {
          this.gone = true;
          this.oom = info.oomKilled === true;
          this.peak = info.memoryPeakBytes || info.processMemoryPeakBytes || this.peak;
          this.cpu = { user: info.userMicros, system: info.systemMicros };
          drainStdio(stdio);
          resolve({
            exitCode: info.exitCode,
            signal: null,
            cpuUserMicros: info.userMicros ?? null,
            cpuSystemMicros: info.systemMicros ?? null,
            memoryPeakBytes: this.peak || null,
          });
        },
        (ev: WinJobEvent) => {
          // Not guaranteed by Windows; only a hint to close a job whose stragglers are gone.
          if (ev.type === 'activeProcessZero' && this.releaseWanted) setImmediate(() => void this.release());
        },
      );
    });
    this.closed = stdioClosed(stdio, this.exited);
  }

  /** Node's ChildProcess.kill on Windows: any signal but 0 is TerminateProcess of the leader. */
  signal(sig: number): boolean {
    if (this.gone || this.jobClosed) return false;
    try {
      // Safe by pid: the addon holds the process handle until close(job), so the pid cannot be reused.
      process.kill(this.pid, sig === 0 ? 0 : 'SIGKILL');
      return true;
    } catch {
      return false;
    }
  }

  signalTree(sig: number): void {
    if (this.jobClosed || sig === 0) return;
    if (sig === SIGKILL) {
      this.terminate();
      return;
    }
    // Graceful where Windows has a way: CTRL_BREAK to the child's process group (console
    // programs; Node sees SIGBREAK), else WM_CLOSE to the tree's windows.
    const brk = this.addon.ctrlBreak(this.job);
    if (brk.delivered) return;
    // Not under Wine: its EnumWindows starts Wine's desktop process, and a process exiting while
    // that desktop starts can hang in Wine's exit (measured: ~1 run in 5 of the executor tests).
    const wine = probe(this.addon).wine;
    const cw = wine === null ? this.addon.closeWindows(this.job) : null;
    if (cw && cw.windows > 0) return;
    process.emitWarning(
      `signal ${sig} could not be delivered to the windows tree ${this.pid}: CTRL_BREAK not delivered (${brk.reason ?? 'unknown'}) and ${cw ? 'it has no top-level window to close' : `WM_CLOSE is not tried under Wine ${wine}`}; it ends only when it exits or at forceStop (shutdown does that after graceMs)`,
      { type: 'ConfineWarning', code: 'CONFINE_SIGNAL_UNDELIVERED' },
    );
  }

  private terminate(): void {
    try {
      this.addon.terminate(this.job, TERMINATED_EXIT_CODE);
    } catch (e) {
      const err = e as AddonError;
      // Terminating a job whose processes all exited is not a failure.
      if (!this.gone)
        throw new SystemError(`cannot terminate the job of ${this.pid}`, {
          syscall: err.syscall ?? 'TerminateJobObject',
          errno: err.errno ?? null,
          cause: e,
        });
    }
  }

  private processCount(): number {
    if (this.jobClosed) return 0;
    try {
      return this.addon.stats(this.job).processes;
    } catch {
      return 0;
    }
  }

  async killTree(): Promise<void> {
    if (this.jobClosed) return;
    this.terminate();
    // TerminateJobObject returns before the processes are gone; wait a little for them.
    for (let i = 0; i < 100 && this.processCount() > 0; i++) await new Promise((r) => setTimeout(r, 20));
    if (this.releaseWanted) await this.release();
  }

  async stats(): Promise<Stats> {
    if (this.jobClosed) {
      return {
        memoryBytes: 0,
        memoryPeakBytes: this.peak,
        cpuUserMicros: this.cpu?.user ?? null,
        cpuSystemMicros: this.cpu?.system ?? null,
        processes: 0,
      };
    }
    const s = this.addon.stats(this.job);
    const peak = Math.max(s.memoryPeakBytes || 0, s.processMemoryPeakBytes || 0, this.peak ?? 0, s.memoryBytes || 0);
    this.peak = peak || null;
    return {
      memoryBytes: s.memoryBytes,
      memoryPeakBytes: this.peak,
      cpuUserMicros: s.userMicros,
      cpuSystemMicros: s.systemMicros,
      processes: s.processes,
    };
  }

  async update(resources: Resources): Promise<EnforcedMap> {
    const out: EnforcedMap = {};
    const limits = jobLimits(resources);
    let errors: WinLimitErrors = {};
    if (Object.keys(limits).length) {
      if (this.jobClosed) {
        for (const k of Object.keys(limits)) out[k as keyof Resources] = notEnforced('the job is closed: the tree has exited');
      } else {
        errors = this.addon.updateLimits(this.job, limits).limitErrors ?? {};
      }
    }
    const p = probe(this.addon);
    for (const key of Object.keys(resources) as (keyof Resources)[]) {
      if (out[key]) continue;
      if (!JOB_RESOURCES[key]) {
        out[key] = notEnforced(NOT_ON_WINDOWS[key] ?? 'no Windows mechanism');
        continue;
      }
      const err = errors[key];
      out[key] = err
        ? {
            enforced: false,
            mechanism: 'job',
            scope: JOB_RESOURCES[key]!.scope,
            note: `the Job Object refused it: ${err.errno ?? ''} ${err.message ?? ''}`.trim(),
          }
        : jobEnforcement(key, p, resources);
    }
    return out;
  }

  oomKilled(): boolean {
    return this.oom;
  }

  /**
   * Closes our job handle once the tree is gone. While processes remain (the leader exited, a
   * descendant runs on) the handle is kept so forceStop can still end them; it is closed at
   * forceStop or when the job reports itself empty. Without killOnClose a closed handle leaves
   * the tree running; with it, closing kills what is left.
   */
  async release(): Promise<void> {
    if (this.jobClosed) return;
    this.releaseWanted = true;
    if (!this.gone || this.processCount() > 0) return;
    this.jobClosed = true;
    try {
      this.addon.close(this.job);
    } catch {
      /* closed already */
    }
  }
}
