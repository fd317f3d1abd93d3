// Signal names and numbers. Names are what the API speaks; numbers are what the kernel and the
// addon take. A name unknown to this platform is bad input, reported before anything runs.

import { constants } from 'node:os';
import { ConfineArgumentError } from './errors.js';

const byName = constants.signals as Record<string, number>;
const byNumber = new Map<number, NodeJS.Signals>();
for (const [name, n] of Object.entries(byName)) {
  // Several names can share a number (SIGIOT/SIGABRT, SIGPOLL/SIGIO): the first one Node lists
  // is the conventional one.
  if (!byNumber.has(n)) byNumber.set(n, name as NodeJS.Signals);
}

/** Validates a signal given by name or number and returns its number. */
export function signalNumber(sig: NodeJS.Signals | number | string, what = 'signal'): number {
  if (typeof sig === 'number') {
    if (Number.isInteger(sig) && sig >= 0 && (sig === 0 || byNumber.has(sig))) return sig;
    throw new ConfineArgumentError(`${what}: unknown signal number ${sig}`);
  }
  if (typeof sig === 'string') {
    const n = byName[sig] ?? byName[`SIG${sig}`];
    if (n !== undefined) return n;
    throw new ConfineArgumentError(`${what}: unknown signal ${JSON.stringify(sig)}`);
  }
  throw new ConfineArgumentError(`${what}: must be a signal name or number, got ${typeof sig}`);
}

/** Signal number to its name; null for 0. */
export function signalName(n: number): NodeJS.Signals | null {
  if (!n) return null;
  return byNumber.get(n) ?? (`SIG${n}` as NodeJS.Signals);
}
