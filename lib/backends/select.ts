// Capability testing: which backends can run here, and the best one. The order of preference is
// the design's: linux (cgroups + native spawn), posix (native spawn), windows (Job Objects),
// universal (pure JS, anywhere).
//
// A backend's module is loaded when that backend is first made (require, not import): a run on
// the linux backend does not pay for the universal and windows ones (child_process wrappers,
// named pipes, node:crypto), which is most of what `confine run` would load and never use.

import { BackendUnavailableError } from '../errors.js';
import { nativeAddon, nativeLoadError } from '../loader.js';
import type { EnforcedMap, ExecutorKind } from '../types.js';
import type { Backend, PlanRequest } from './backend.js';

const cache = new Map<ExecutorKind, Backend>();

function make(kind: ExecutorKind): Backend {
  let b = cache.get(kind);
  if (!b) {
    if (kind === 'universal') b = new (universal().UniversalBackend)();
    else if ((kind === 'linux' || kind === 'posix') && whyUnavailable(kind) === null)
      b = new (require('./native.js') as typeof import('./native.js')).NativeBackend(kind);
    else if (kind === 'windows' && whyUnavailable(kind) === null)
      b = new (require('./windows.js') as typeof import('./windows.js')).WindowsBackend();
    else b = new UnavailableBackend(kind);
    cache.set(kind, b);
  }
  return b;
}

const universal = () => require('./universal.js') as typeof import('./universal.js');

/**
 * A backend that cannot run on this host: it answers plan() as the pure-JS backend would (a
 * useful "what would happen"), and every start or attach is BackendUnavailableError naming it.
 */
class UnavailableBackend implements Backend {
  private readonly fallback = new (universal().UniversalBackend)();
  constructor(readonly kind: ExecutorKind) {}
  unavailable(): string {
    return whyUnavailable(this.kind) ?? 'not implemented';
  }
  plan(req: PlanRequest): EnforcedMap {
    return this.fallback.plan(req);
  }
  launch(): never {
    throw new BackendUnavailableError(this.kind, this.unavailable());
  }
  attach(): never {
    throw new BackendUnavailableError(this.kind, this.unavailable());
  }
}

function whyUnavailable(kind: ExecutorKind): string | null {
  if (kind === 'universal') return null;
  const addon = nativeAddon();
  if (!addon) return nativeLoadError();
  if (kind === 'windows') {
    if (process.platform !== 'win32') return 'only on Windows';
    return addon.probe().platform === 'win32' && typeof addon.spawn === 'function'
      ? null
      : 'this addon build has no Windows spawn()';
  }
  if (process.platform === 'win32') return 'not on Windows';
  if (kind === 'linux' && process.platform !== 'linux') return 'only on Linux';
  return typeof addon.spawn === 'function' ? null : 'this addon build has no spawn()';
}

/** The backends usable on this host, best first (without making the others). */
export function availableBackends(): ExecutorKind[] {
  return (['linux', 'posix', 'windows', 'universal'] as ExecutorKind[]).filter((k) => whyUnavailable(k) === null);
}

/** The backend for `kind`, or the best available one. */
export function backendFor(kind?: ExecutorKind): Backend {
  if (kind) return make(kind);
  return make(availableBackends()[0] ?? 'universal');
}

/** The kind of the best backend on this host, by capability testing. */
export function autoselectKind(): ExecutorKind {
  return backendFor().kind;
}
