// The child's environment and its envp block ("KEY=value" strings), built once per distinct
// environment. Copying process.env costs a spawn more than most of its other JS work: every key
// read goes through V8's interceptor into getenv. A supervisor that starts one program after
// another hands them the same environment each time, so the copy is kept while environ is
// unchanged (addon.environGeneration() compares its bytes, about a microsecond), and the
// objects given out are frozen so the envp block made from one can be kept with it.

import { flattenEnv } from './child-process/arguments.js';
import { posixAddon } from './loader.js';
import type { Identity } from './types.js';

interface SupervisorEnv {
  generation: number;
  /** process.env flattened, frozen. */
  base: Record<string, string>;
  /** base with a runAs user's HOME/USER/LOGNAME, frozen, per (home, name). */
  asUser: Map<string, Record<string, string>>;
}
/** Distinct runAs users kept per generation: a supervisor runs programs as a handful. */
const MAX_USERS = 16;
let cached: SupervisorEnv | null = null;

/**
 * Where environ can tell when process.env changed: the main thread (in a worker, process.env
 * is the worker's own copy, not environ) with the addon. null elsewhere: no cache. The addon
 * answers for the thread itself (gettid), so node:worker_threads is not loaded (about 3 ms).
 */
function environGeneration(): number | null {
  const addon = posixAddon();
  return addon && typeof addon.environGeneration === 'function' ? addon.environGeneration() : null;
}

/**
 * The child's environment: the given one (already flattened by normalizeSpawnArguments), or the
 * supervisor's. When running as another user with the supervisor's environment, HOME, USER and
 * LOGNAME are the target's (Nomad once handed root's HOME to its tasks). The supervisor's comes
 * back frozen and may be the same object as for the previous spawn; the caller must not change it.
 */
export function childEnv(env: NodeJS.ProcessEnv | undefined, identity: Identity | null): Record<string, string> {
  if (env !== undefined) return { ...(env as Record<string, string>) };
  const generation = environGeneration();
  if (generation === null) return asUser(flattenEnv('confine', process.env), identity);
  if (cached?.generation !== generation)
    cached = { generation, base: Object.freeze(flattenEnv('confine', process.env)), asUser: new Map() };
  if (!identity || (!identity.home && !identity.name)) return cached.base;
  const key = `${identity.home ?? ''}\0${identity.name ?? ''}`;
  let out = cached.asUser.get(key);
  if (!out) {
    out = Object.freeze(asUser(Object.assign(Object.create(null), cached.base), identity));
    if (cached.asUser.size < MAX_USERS) cached.asUser.set(key, out);
  }
  return out;
}

function asUser(env: Record<string, string>, identity: Identity | null): Record<string, string> {
  if (identity?.home) env.HOME = identity.home;
  if (identity?.name) {
    env.USER = identity.name;
    env.LOGNAME = identity.name;
  }
  return env;
}

/** envp blocks of frozen environments (childEnv()'s): made once per object. */
const blocks = new WeakMap<object, readonly string[]>();

/** The "KEY=value" strings of an environment, as execve takes them. */
export function envBlock(env: Record<string, string>): readonly string[] {
  const hit = blocks.get(env);
  if (hit) return hit;
  const out = Object.freeze(Object.entries(env).map(([k, v]) => `${k}=${v}`));
  if (Object.isFrozen(env)) blocks.set(env, out);
  return out;
}
