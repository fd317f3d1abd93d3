// Isolation (ex.isolate()): what a tree can see and reach. The pieces:
//   validate.ts  the argument's shape and paths          preset.ts  isolate() without one
//   support.ts   what this host allows, and why not      view.ts    the filesystem view
//   plan.ts      the enforced rows, the addon's request
// and here, what start() does with them: the preset made concrete for the working directory,
// the view resolved on the host, the program and the cwd looked up in it.

import { openSync } from 'node:fs';
import { CommandNotFoundError, IsolationError } from '../errors.js';
import { lookPath } from '../lookpath.js';
import { PRESET, presetFilesystem, systemPathsListing } from './preset.js';
import { isolationSupport } from './support.js';
import type { IsolationSpec } from './validate.js';
import { View } from './view.js';

export { ISOLATION_KEYS, validateIsolation, type IsolationKey, type IsolationSpec } from './validate.js';
export { isolationSupport, type IsolationSupport } from './support.js';
export { isolationEnforcement, nativeIsolationRequest, type NativeIsolationRequest } from './plan.js';
export { View } from './view.js';
export { preparedRequest } from './prepared.js';

/** What isolate() was given: a spec, or the preset (whose filesystem waits for the cwd). */
export type IsolationRequest = { preset: true; overrides: IsolationSpec } | { preset: false; spec: IsolationSpec };

/** isolate() again merges key by key: the later call's keys win, the preset included. */
export function mergeIsolation(prev: IsolationRequest | null, next: IsolationRequest): IsolationRequest {
  if (next.preset) return { preset: true, overrides: {} };
  if (prev?.preset) return { preset: true, overrides: { ...prev.overrides, ...next.spec } };
  return { preset: false, spec: { ...(prev?.spec ?? {}), ...next.spec } };
}

/**
 * The preset's concrete spec (no overrides) by cwd, for one listing of the system paths: the same
 * frozen object for every start in that cwd, so that its rows are planned once (plan.ts) and its
 * view is found by identity (view.ts). A new listing (preset.ts: "/" is listed again once per
 * VIEW_TTL_MS) that finds other names starts over.
 */
let presetSpecs: { listing: readonly string[]; byCwd: Map<string, IsolationSpec> } | null = null;
const MAX_PRESET_CWDS = 256;

/** The spec for a child whose working directory is cwd. */
export function concreteSpec(req: IsolationRequest, cwd: string): IsolationSpec {
  if (!req.preset) return req.spec;
  if (Object.keys(req.overrides).length > 0) return { ...PRESET, filesystem: presetFilesystem(cwd), ...req.overrides };
  const listing = systemPathsListing();
  let spec = presetSpecs?.listing === listing ? presetSpecs.byCwd.get(cwd) : undefined;
  if (!spec) {
    // Started over when the listing changed, or before an insert into a full map (a hit never
    // resets it: more cwds than the cap in rotation would otherwise miss every time).
    if (presetSpecs?.listing !== listing || presetSpecs.byCwd.size >= MAX_PRESET_CWDS)
      presetSpecs = { listing, byCwd: new Map() };
    spec = deepFreeze({ ...PRESET, filesystem: presetFilesystem(cwd, listing) });
    presetSpecs.byCwd.set(cwd, spec);
  }
  return spec;
}

/** The preset's planned spec without overrides: one object, so that its rows are planned once (plan.ts). */
const PLANNED_PRESET: IsolationSpec = deepFreeze({ ...PRESET, filesystem: { read: [], write: [], tmp: [] } });

function deepFreeze<T>(o: T): T {
  if (typeof o === 'object' && o !== null && !Object.isFrozen(o)) {
    for (const v of Object.values(o)) deepFreeze(v);
    Object.freeze(o);
  }
  return o;
}

/** The spec as far as it is known before start() (the preset's filesystem stands for the cwd's). */
export function plannedSpec(req: IsolationRequest): IsolationSpec {
  if (!req.preset) return req.spec;
  if (Object.keys(req.overrides).length === 0) return PLANNED_PRESET;
  return { ...PRESET, filesystem: { read: [], write: [], tmp: [] }, ...req.overrides };
}

/**
 * start()'s part: the view of spec.filesystem resolved on the host, the program looked up in PATH
 * inside it (candidates outside the view are skipped), the program's interpreters and the cwd
 * checked. Throws IsolationError (a path missing, a program or cwd outside the view) before
 * anything has started; synchronous, as the rest of the start before the clone. `useView` false: the filesystem is not enforced here (no view is built).
 */
export function prepareView(
  spec: IsolationSpec,
  opts: { file: string; cwd: string; pathEnv: string | undefined; privatePids: boolean; useView: boolean },
): { view: View | null; path: string } {
  if (!spec.filesystem || !opts.useView) return { view: null, path: lookPath(opts.file, opts.cwd, opts.pathEnv) };
  const view = View.cached(spec.filesystem, opts.privatePids ? 'fresh' : 'host');
  view.checkCwd(opts.cwd);
  let found: string;
  try {
    found = lookPath(opts.file, opts.cwd, opts.pathEnv, (candidate) => {
      const real = view.resolve(candidate);
      return real !== null && view.hostContent(real);
    });
  } catch (e) {
    if (!(e instanceof CommandNotFoundError)) throw e;
    // On the host, outside the view? Say so rather than "not found".
    let outside: string;
    try {
      outside = lookPath(opts.file, opts.cwd, opts.pathEnv);
    } catch {
      throw e;
    }
    throw new IsolationError(`the program ${outside} is not in the isolated view (filesystem.read/write do not hold it)`, {
      path: outside,
      errno: 'ENOENT',
      stage: 'view',
    });
  }
  view.checkProgram(found);
  return { view, path: found };
}

let initFd: number | null = null;

/** The init executable, opened once (O_CLOEXEC, as libuv opens every file) and kept. */
export function openInit(): number {
  if (initFd !== null) return initFd;
  const p = isolationSupport().init.path;
  if (!p) throw new IsolationError('the init of private pid namespaces (confine-init) was not found beside the addon', {});
  initFd = openSync(p, 'r');
  return initFd;
}
