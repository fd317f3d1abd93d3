// The one place the addon is loaded. node-gyp-build finds a prebuild for this platform, ABI and
// libc, or the local build; when neither loads, confine runs on the pure-JS backend and
// `loadError` says why. CONFINE_NATIVE=0 forces that fallback, so both paths are tested on every
// machine. CONFINE_ADDON_PATH loads one specific build instead (test rigs: Wine, sanitizers).

import * as path from 'node:path';

/** The addon's JS surface; see docs/native-api.md. Typed loosely: lib/ validates every input. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Addon = Record<string, any> & {
  probe(): { version: string; platform?: string; features: Record<string, boolean> };
};

interface LoadResult {
  addon: Addon | null;
  reason: string | null;
  path: string | null;
}

let loaded: LoadResult | null = null;

export const PACKAGE_ROOT = path.join(__dirname, '..');

function load(): LoadResult {
  const env = process.env.CONFINE_NATIVE;
  if (env === '0' || env === 'false') {
    return { addon: null, reason: 'CONFINE_NATIVE=0 forces the pure-JS backend', path: null };
  }
  const explicit = process.env.CONFINE_ADDON_PATH;
  if (explicit) {
    // A specific build (a cross-built or sanitizer build in a test rig): that one or none.
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const addon = require(explicit) as Addon;
      addon.probe();
      return { addon, reason: null, path: explicit };
    } catch (e) {
      return {
        addon: null,
        reason: `CONFINE_ADDON_PATH=${explicit} did not load: ${(e as Error).message?.split('\n')[0]}`,
        path: null,
      };
    }
  }
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const nodeGypBuild = require('node-gyp-build') as { (dir: string): Addon; resolve?: (dir: string) => string };
    const file = nodeGypBuild.resolve ? nodeGypBuild.resolve(PACKAGE_ROOT) : null;
    const addon = nodeGypBuild(PACKAGE_ROOT);
    addon.probe();
    return { addon, reason: null, path: file };
  } catch (e) {
    const msg = (e as Error).message?.split('\n')[0] ?? String(e);
    return { addon: null, reason: `the native addon did not load: ${msg}`, path: null };
  }
}

/** The addon, or null when it cannot load here. */
export function nativeAddon(): Addon | null {
  loaded ??= load();
  return loaded.addon;
}

/** Why the addon is not loaded (null when it is). */
export function nativeLoadError(): string | null {
  loaded ??= load();
  return loaded.reason;
}

export function nativeAddonPath(): string | null {
  loaded ??= load();
  return loaded.path;
}
