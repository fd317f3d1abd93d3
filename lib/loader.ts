// The one place the addon is loaded. node-gyp-build finds a prebuild for this platform, ABI and
// libc, or the local build; when neither loads, confine runs on the pure-JS backend and
// `loadError` says why. CONFINE_NATIVE=0 forces that fallback, so both paths are tested on every
// machine. CONFINE_ADDON_PATH loads one specific build instead (test rigs: Wine, sanitizers).

import * as path from 'node:path';
import type { Addon, PosixAddon, WindowsAddon } from './addon.js';

interface LoadResult {
  addon: Addon | null;
  /** probe().platform of the loaded build: 'win32' for the Windows one. */
  platform?: string;
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
      const addon = require(explicit) as Addon;
      return { addon, platform: addon.probe().platform, reason: null, path: explicit };
    } catch (e) {
      return {
        addon: null,
        reason: `CONFINE_ADDON_PATH=${explicit} did not load: ${(e as Error).message?.split('\n')[0]}`,
        path: null,
      };
    }
  }
  try {
    const nodeGypBuild = require('node-gyp-build') as { (dir: string): Addon; resolve?: (dir: string) => string };
    // Resolved once: nodeGypBuild(dir) would search build/ and prebuilds/ again to load it.
    const file = nodeGypBuild.resolve ? nodeGypBuild.resolve(PACKAGE_ROOT) : null;
    const addon = file ? (require(file) as Addon) : nodeGypBuild(PACKAGE_ROOT);
    return { addon, platform: addon.probe().platform, reason: null, path: file };
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

/** The addon when it is the POSIX build (Linux, macOS), else null. */
export function posixAddon(): PosixAddon | null {
  loaded ??= load();
  return loaded.addon && loaded.platform !== 'win32' ? (loaded.addon as PosixAddon) : null;
}

/** The addon when it is the Windows build, else null. */
export function windowsAddon(): WindowsAddon | null {
  loaded ??= load();
  return loaded.addon && loaded.platform === 'win32' ? (loaded.addon as WindowsAddon) : null;
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
