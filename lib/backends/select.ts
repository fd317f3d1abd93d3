// Capability testing: which backends can run here, and the best one. The order of preference is
// the design's: linux (cgroups + native spawn), posix (native spawn), windows (Job Objects),
// universal (pure JS, anywhere).

import { BackendUnavailableError } from '../errors.js';
import { nativeAddon, nativeLoadError } from '../loader.js';
import type { ExecutorKind } from '../types.js';
import type { Backend } from './backend.js';
import { NativeBackend } from './native.js';
import { UniversalBackend } from './universal.js';
import { WindowsBackend } from './windows.js';

const cache = new Map<ExecutorKind, Backend>();

function make(kind: ExecutorKind): Backend {
  let b = cache.get(kind);
  if (!b) {
    if (kind === 'universal') b = new UniversalBackend();
    else if ((kind === 'linux' || kind === 'posix') && whyUnavailable(kind) === null) b = new NativeBackend(kind);
    else if (kind === 'windows' && whyUnavailable(kind) === null) b = new WindowsBackend();
    else b = new UnavailableBackend(kind);
    cache.set(kind, b);
  }
  return b;
}

/** A native backend that cannot run on this host: every call says why. */
class UnavailableBackend extends UniversalBackend {
  // The pure-JS plan is still a useful answer to "what would happen", but launch refuses.
  constructor(private readonly wanted: ExecutorKind) {
    super();
  }
  override unavailable(): string {
    return whyUnavailable(this.wanted) ?? 'not implemented';
  }
  override launch(): never {
    throw new BackendUnavailableError(this.wanted, this.unavailable());
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

/** The backends usable on this host, best first. */
export function availableBackends(): ExecutorKind[] {
  return (['linux', 'posix', 'windows', 'universal'] as ExecutorKind[]).filter((k) => backendFor(k).unavailable() === null);
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
