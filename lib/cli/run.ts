// `confine run [options] [--] FILE [ARGS...]`: runs a program confined, passes stdio through, and
// exits with its status. It loads the Executor itself when it runs something (not for --help),
// and never the package index (openPid, capabilities() and the orphan scan are not a run's
// business).

import type { Executor } from '../executor.js';
import type { CommandOptions } from '../types.js';
import { inFlags, parseRunArgs, runUsage, type RunRequest } from './flags.js';
import { endReason, exitCodeOf, formatEnforced, formatStatus } from './report.js';
import { UsageError } from './values.js';

const DEFAULT_GRACE_MS = 5000;

/**
 * Process warnings (a limit the backend does not enforce) as one line each, in the command
 * line's words: "confine: warning: --memory is not enforced by …". Node's own printer goes (it
 * adds "(node:PID)" and a "Use `node --trace-warnings`" line meant for developers of the program).
 */
function printWarningsInFlags(): void {
  process.removeAllListeners('warning');
  process.on('warning', (w) => {
    const text = w.name === 'ConfineWarning' ? inFlags(w.message) : `${w.name}: ${w.message}`;
    process.stderr.write(`confine: warning: ${text}\n`);
  });
}

function childEnv(req: RunRequest): NodeJS.ProcessEnv | undefined {
  if (req.env.length === 0 && !req.clearEnv) return undefined;
  const env: NodeJS.ProcessEnv = req.clearEnv ? {} : { ...process.env };
  for (const [k, v] of req.env) env[k] = v;
  return env;
}

function executorFor(file: string, args: string[], req: RunRequest): Executor {
  const { Executor } = require('../executor.js') as typeof import('../executor.js');
  const options: CommandOptions = {
    stdio: 'inherit',
    graceMs: DEFAULT_GRACE_MS,
    strict: false,
    ...req.options,
    killOnParentExit: req.killOnParentExit,
  };
  const env = childEnv(req);
  if (env) options.env = env;
  let ex = new Executor(file, args, options).limit(req.resources);
  // killOnParentExit is confine run's default, not the user's request: where the backend cannot
  // enforce it, run without it rather than warn on every run.
  if (req.killOnParentExit && !ex.enforced.killOnParentExit?.enforced)
    ex = new Executor(file, args, { ...options, killOnParentExit: false }).limit(req.resources);
  if (req.runAs !== null) ex.runAs(req.runAs);
  if (req.isolate) ex.isolate();
  if (Object.keys(req.isolation).length) ex.isolate(req.isolation);
  return ex;
}

export async function run(argv: readonly string[]): Promise<number> {
  const { request: req, command, help } = parseRunArgs(argv);
  if (help) {
    process.stdout.write(`${runUsage()}\n`);
    return 0;
  }
  const [file, ...args] = command;
  if (file === undefined) throw new UsageError('missing the program to run: confine run [options] [--] FILE [ARGS...]', 'run');
  printWarningsInFlags();
  const ex = executorFor(file, args, req);
  const graceMs = req.options.graceMs ?? DEFAULT_GRACE_MS;

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
  for (const [i, sig] of received.entries()) act(sig, i + 1);

  const status = await ex.wait();
  const reason = endReason(status, req);
  if (reason) process.stderr.write(`confine: ${reason}\n`);
  if (req.report) {
    if (req.json) {
      process.stderr.write(`${JSON.stringify({ backend: ex.kind, enforced: ex.enforced, status })}\n`);
    } else {
      process.stderr.write(`confine: ${ex.kind} backend\n${formatEnforced(ex.enforced)}\nconfine: ${formatStatus(status)}\n`);
    }
  }
  return exitCodeOf(status);
}
