// Which cgroup hierarchies this process sees, per controller: pure v2, pure v1, or hybrid (v1
// controllers plus a v2 tree; on a hybrid host a controller lives in exactly one of them).
// Read from /proc/self/mountinfo (where each hierarchy is mounted, and which part of it the
// mount shows) and /proc/self/cgroup (where this process sits in each hierarchy).

import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseMountinfo } from '../mountinfo.js';

export interface ControllerInfo {
  version: 1 | 2;
  /** Mount point of the hierarchy that carries this controller. */
  mount: string;
  /** The supervisor's own cgroup in that hierarchy, relative to `mount` ('/' = the mount root). */
  own: string;
}

export interface HierarchyInfo {
  version: 1 | 2;
  mount: string;
  own: string;
  /** Controllers bound to this hierarchy (v2: the ones listed in the mount root's cgroup.controllers). */
  controllers: string[];
}

export interface CgroupLayout {
  mode: 'v2' | 'v1' | 'hybrid' | 'none';
  /** Per controller: which hierarchy carries it. */
  controllers: Record<string, ControllerInfo>;
  /** Why cgroups cannot be used at all (mode 'none'), else null. */
  reason: string | null;
  /** The v2 (unified) hierarchy, also when it carries no controller (hybrid). */
  unified: { mount: string; own: string } | null;
  /** Every mounted hierarchy, one entry per mount (v1 co-mounts such as cpu,cpuacct share one). */
  hierarchies: HierarchyInfo[];
}

/** The v1 controllers the kernel knows; named hierarchies (name=systemd) carry none. */
const V1_CONTROLLERS = new Set([
  'cpu',
  'cpuacct',
  'cpuset',
  'memory',
  'devices',
  'freezer',
  'net_cls',
  'net_prio',
  'blkio',
  'perf_event',
  'hugetlb',
  'pids',
  'rdma',
  'misc',
]);

/** /proc/self/cgroup: "id:controllers:path" per line; v2 is "0::/path". */
function parseProcCgroup(text: string): { v2: string | null; v1: Map<string, string> } {
  let v2: string | null = null;
  const v1 = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (!line) continue;
    const a = line.indexOf(':');
    const b = line.indexOf(':', a + 1);
    if (a < 0 || b < 0) continue;
    const id = line.slice(0, a);
    const ctrls = line.slice(a + 1, b);
    const p = line.slice(b + 1);
    if (id === '0' && ctrls === '') v2 = p;
    else for (const c of ctrls.split(',')) if (c) v1.set(c, p);
  }
  return { v2, v1 };
}

/**
 * The cgroup path seen in /proc/self/cgroup is relative to the hierarchy root; a mount may show
 * only a subtree of it (mountinfo field 4, e.g. inside a container without a cgroup namespace).
 * Returns the path relative to the mount point, or null when the own cgroup lies outside what
 * the mount shows.
 */
function relativeToMount(cgPath: string, mountRoot: string): string | null {
  // " (deleted)" can follow a path whose cgroup was removed; cgroup namespaces show "/.." paths.
  const p = path.posix.normalize(cgPath.replace(/ \(deleted\)$/, ''));
  const r = path.posix.normalize(mountRoot);
  if (r === '/') return p;
  if (p === r) return '/';
  if (p.startsWith(r + '/')) return p.slice(r.length);
  return null;
}

/**
 * Pure function behind detectCgroups(), for tests with recorded files. `readControllers(mount)`
 * returns the v2 mount root's cgroup.controllers (or null when unreadable).
 */
export function parseCgroupLayout(
  mountinfo: string,
  procCgroup: string,
  readControllers: (mount: string) => string | null,
): CgroupLayout {
  const mounts = parseMountinfo(mountinfo);
  const self = parseProcCgroup(procCgroup);
  const controllers: Record<string, ControllerInfo> = {};
  const hierarchies: HierarchyInfo[] = [];
  const seenV1 = new Set<string>();
  let unified: { mount: string; own: string } | null = null;
  const problems: string[] = [];

  for (const m of mounts) {
    if (m.fstype === 'cgroup2') {
      if (unified) continue; // the first mount wins (the same hierarchy can be mounted twice)
      if (self.v2 === null) {
        problems.push(`cgroup2 at ${m.mountPoint} but no 0:: line in /proc/self/cgroup`);
        continue;
      }
      const own = relativeToMount(self.v2, m.root);
      if (own === null) {
        problems.push(`cgroup2 at ${m.mountPoint} does not show our cgroup ${self.v2}`);
        continue;
      }
      unified = { mount: m.mountPoint, own };
      const list = (readControllers(m.mountPoint) ?? '').split(/\s+/).filter(Boolean);
      hierarchies.push({ version: 2, mount: m.mountPoint, own, controllers: list });
    } else if (m.fstype === 'cgroup') {
      const ctrls = m.superOpts.filter((o) => V1_CONTROLLERS.has(o));
      if (ctrls.length === 0) continue; // name=systemd and other named hierarchies
      const key = ctrls.slice().sort().join(',');
      if (seenV1.has(key)) continue;
      const cgPath = self.v1.get(ctrls[0]!);
      if (cgPath === undefined) {
        problems.push(`${key} mounted at ${m.mountPoint} but absent from /proc/self/cgroup`);
        continue;
      }
      const own = relativeToMount(cgPath, m.root);
      if (own === null) {
        problems.push(`${key} at ${m.mountPoint} does not show our cgroup ${cgPath}`);
        continue;
      }
      seenV1.add(key);
      hierarchies.push({ version: 1, mount: m.mountPoint, own, controllers: ctrls });
    }
  }
  // v1 first: a controller bound to a v1 hierarchy is not available in v2 (the kernel lists it
  // in the v2 root's cgroup.controllers only when it is not bound elsewhere, but be safe).
  for (const h of hierarchies)
    if (h.version === 1) for (const c of h.controllers) controllers[c] = { version: 1, mount: h.mount, own: h.own };
  for (const h of hierarchies)
    if (h.version === 2)
      for (const c of h.controllers) if (!controllers[c]) controllers[c] = { version: 2, mount: h.mount, own: h.own };

  const hasV1 = hierarchies.some((h) => h.version === 1);
  let mode: CgroupLayout['mode'];
  if (hasV1 && unified) mode = 'hybrid';
  else if (hasV1) mode = 'v1';
  else if (unified) mode = 'v2';
  else mode = 'none';
  let reason: string | null = null;
  if (mode === 'none') {
    reason = problems.length ? problems.join('; ') : 'no cgroup filesystem is mounted (see /proc/self/mountinfo)';
  }
  return { mode, controllers, reason, unified, hierarchies };
}

let cached: CgroupLayout | null = null;

/** The cgroup layout of this process; cached, so it is cheap after the first call. */
export function detectCgroups(opts: { refresh?: boolean } = {}): CgroupLayout {
  if (cached && !opts.refresh) return cached;
  if (process.platform !== 'linux') {
    cached = {
      mode: 'none',
      controllers: {},
      reason: `cgroups are Linux only (platform ${process.platform})`,
      unified: null,
      hierarchies: [],
    };
    return cached;
  }
  let mountinfo: string;
  let procCgroup: string;
  try {
    mountinfo = fs.readFileSync('/proc/self/mountinfo', 'utf8');
    procCgroup = fs.readFileSync('/proc/self/cgroup', 'utf8');
  } catch (e) {
    cached = {
      mode: 'none',
      controllers: {},
      reason: `cannot read /proc: ${(e as Error).message}`,
      unified: null,
      hierarchies: [],
    };
    return cached;
  }
  cached = parseCgroupLayout(mountinfo, procCgroup, (mount) => {
    try {
      return fs.readFileSync(path.join(mount, 'cgroup.controllers'), 'utf8');
    } catch {
      return null;
    }
  });
  return cached;
}
