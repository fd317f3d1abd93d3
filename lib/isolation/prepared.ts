// The addon's prepared requests (addon.prepare(), docs/native-api.md): an isolated spawn's
// isolation request and guards are the same from one start to the next of a spec, yet reading
// them through N-API (a property lookup per key, every mount and rule) cost about a tenth of the
// supervisor's CPU per isolated spawn. The addon reads each distinct request once into a native
// handle; a spawn passes the handle and its own fds. Kept here per distinct content, not per
// object: the request objects are made anew for every start.

import type { PosixAddon, PosixPreparedRequest, PosixPrepareRequest } from '../addon.js';

/** The most recently used first; a request is a few objects and one native copy. */
const entries: { request: PosixPrepareRequest; handle: PosixPreparedRequest }[] = [];
const MAX_PREPARED = 16;

/**
 * The addon's handle for `request` (no fds in it: those are each spawn's), or null where the
 * addon has no prepare(). The handle's content is a copy taken here, compared by value on every
 * later call: a change to the caller's objects after a start is a new request, never a stale hit.
 */
export function preparedRequest(addon: PosixAddon, request: PosixPrepareRequest): PosixPreparedRequest | null {
  if (!addon.prepare) return null;
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i];
    if (!sameValue(e.request, request)) continue;
    if (i > 0) {
      entries.splice(i, 1);
      entries.unshift(e);
    }
    return e.handle;
  }
  const copy = snapshot(request);
  const handle = addon.prepare(copy);
  entries.unshift({ request: copy, handle });
  // The evicted handle's native copy goes with its object, once collected (a spawn in progress
  // holds its own copy of the content).
  if (entries.length > MAX_PREPARED) entries.pop();
  return handle;
}

/**
 * A copy of plain data that cannot change under us: deeply frozen parts (a view's mounts and
 * rules, made once per view) are kept by reference, so that the next comparison finds them by
 * identity; the rest is copied.
 */
function snapshot<T>(v: T): T {
  if (typeof v !== 'object' || v === null || immutable(v)) return v;
  if (Array.isArray(v)) return v.map(snapshot) as T;
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) out[k] = snapshot(x);
  return out as T;
}

function immutable(v: unknown): boolean {
  if (typeof v !== 'object' || v === null) return true;
  return Object.isFrozen(v) && Object.values(v).every(immutable);
}

/** Plain data (objects, arrays, strings, numbers, bigints, booleans, null) equal by value. */
function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  const array = Array.isArray(a);
  if (array !== Array.isArray(b)) return false;
  if (array) {
    const bs = b as unknown[];
    if (a.length !== bs.length) return false;
    for (let i = 0; i < a.length; i++) if (!sameValue(a[i], bs[i])) return false;
    return true;
  }
  // Own keys counted with for-in, not Object.keys(): no array made per object on every start.
  const ao = a as Record<string, unknown>;
  const bo = b as Record<string, unknown>;
  let keys = 0;
  for (const k in ao) {
    if (!Object.hasOwn(bo, k) || !sameValue(ao[k], bo[k])) return false;
    keys++;
  }
  for (const _ in bo) keys--;
  return keys === 0;
}
