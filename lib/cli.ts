#!/usr/bin/env node
// The `confine` command: `confine run [options] [--] FILE ARGS...` runs a program confined and
// exits with its status; `confine doctor` says what this host can enforce. The subcommands live
// in lib/cli/ and are loaded only when asked for: `confine run` pays for the executor, not for
// the doctor's host survey, and --help and --version load nothing of the library.
//
// Exit statuses (usage.ts's EXIT_STATUS): the program's; 2 for bad usage, worded in flags;
// 125 when confine failed; 126 not executable; 127 not found (the shell's, env's, timeout's).

import type { ConfineError } from './errors.js';
import { DOCTOR_USAGE, TOP_USAGE } from './cli/usage.js';
import { UsageError } from './cli/values.js';

/** execve errnos that mean "found, but cannot be executed" (exit status 126). */
const NOT_EXECUTABLE = new Set(['EACCES', 'ENOEXEC', 'EISDIR', 'ETXTBSY', 'ELOOP', 'ENAMETOOLONG', 'ENOTDIR', 'EPERM']);

function version(): string {
  return (require('../package.json') as { version: string }).version;
}

function help(topic: string | undefined): number {
  let text = TOP_USAGE;
  if (topic === 'run') text = (require('./cli/flags.js') as typeof import('./cli/flags.js')).runUsage();
  else if (topic === 'doctor') text = DOCTOR_USAGE;
  else if (topic !== undefined) throw new UsageError(`no help on ${JSON.stringify(topic)}: the commands are run and doctor`);
  process.stdout.write(`${text}\n`);
  return 0;
}

async function main(argv: readonly string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === 'run') return (require('./cli/run.js') as typeof import('./cli/run.js')).run(rest);
  if (sub === 'doctor') return (require('./cli/doctor.js') as typeof import('./cli/doctor.js')).doctor(rest);
  if (sub === '-h' || sub === '--help') return help(undefined);
  if (sub === 'help') return help(rest[0]);
  if (sub === '--version') {
    process.stdout.write(`confine ${version()}\n`);
    return 0;
  }
  if (sub === undefined) throw new UsageError('missing a command: run or doctor');
  throw new UsageError(`unknown command ${JSON.stringify(sub)}: the commands are run and doctor`);
}

/** The exit status for what main() threw, with its one-line message on stderr. */
function failed(e: unknown): number {
  if (e instanceof UsageError) return usageError(e.message, e.subcommand);
  const err = e as ConfineError;
  if (typeof err?.code === 'string' && err.code.startsWith('ERR_CONFINE_')) {
    // The API's messages name its options; every value it got came from a flag.
    const message = (require('./cli/flags.js') as typeof import('./cli/flags.js')).inFlags(err.message);
    // A value the API refused is bad usage.
    if (err.code === 'ERR_CONFINE_INVALID_ARGUMENT') return usageError(message, 'run');
    const where = [err.stage && `stage ${err.stage}`, err.syscall, err.errno].filter(Boolean).join(', ');
    process.stderr.write(`confine: ${message} [${err.code}${where ? `; ${where}` : ''}]\n`);
    // Found but not runnable (a directory, no x bit, a bad ELF) is 126; missing is 127: bash's,
    // env's and timeout's convention (ENOENT or not).
    if (err.code === 'ERR_CONFINE_COMMAND_NOT_FOUND') return err.errno === 'ENOENT' ? 127 : 126;
    // Any other execve failure (ENOMEM under a tight limit, E2BIG) is not the file's fault but
    // confine's to report: 125.
    if (err.stage === 'execve') return err.errno === 'ENOENT' ? 127 : NOT_EXECUTABLE.has(err.errno ?? '') ? 126 : 125;
    return 125;
  }
  process.stderr.write(`confine: ${(e as Error)?.stack ?? String(e)}\n`);
  return 125;
}

function usageError(message: string, subcommand: string | null): number {
  const more = subcommand ? `confine ${subcommand} --help` : 'confine --help';
  process.stderr.write(`confine: ${message}\nTry '${more}' for more information.\n`);
  return 2;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.exitCode = failed(e);
  },
);
