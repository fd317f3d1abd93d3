// How a backend enforces each isolation key (the rows of `executor.enforced`), and the addon's
// isolation request for a spawn. Mechanism names are the contract's (design.md, "Isolation").

import type { EnforcedMap, Enforcement, ExecutorKind } from '../types.js';
import { type GuardContext, guardRows, type IsolationMode, isolationMode, supportUnder } from './guards.js';
import type { Availability, IsolationSupport } from './support.js';
import type { IsolationKey, IsolationSpec } from './validate.js';
import type { View, ViewMount } from './view.js';

const none = (note: string): Enforcement => ({ enforced: false, mechanism: 'none', scope: 'none', note });
const asHost = (what: string): Enforcement => ({
  enforced: true,
  mechanism: 'none',
  scope: 'none',
  note: `${what}: the host's, as asked`,
});

/** The first availability among `needs` that is missing, as a not-enforced row. */
function missing(...needs: Availability[]): Enforcement | null {
  const no = needs.find((a) => !a.ok);
  return no ? none(no.reason ?? 'not available here') : null;
}

/**
 * Rows for every key of spec. `kind` is the backend's; isolation is the native backends' on
 * Linux only (linux, and posix where Linux has no usable cgroup). Namespaces where allowed, the
 * kernel guards (guards.ts) for syscalls and capabilities, and Landlock where namespaces are not
 * allowed (or CONFINE_ISOLATION=landlock, `mode`).
 */
export function isolationEnforcement(
  spec: IsolationSpec,
  kind: ExecutorKind,
  support: () => IsolationSupport,
  ctx: GuardContext = { childIsRoot: false, childUid: null },
  mode: IsolationMode = isolationMode(),
): EnforcedMap {
  const nativeLinux = process.platform === 'linux' && (kind === 'linux' || kind === 'posix');
  if (!nativeLinux) return rowsOf(spec, kind, support, ctx, mode);
  // The rows are a function of the spec, the backend, the child, the mode, the host's support
  // (one object, kept for the process) and CONFINE_LANDLOCK_LAYER: a start asks for the same
  // spec's rows in its request and again in its launch, and every read of `enforced` before a
  // preset's start plans the one plannedSpec() object. Rows are frozen: callers share them
  // (executor.enforced copies).
  const s = support();
  const key = `${kind}\0${ctx.childIsRoot}\0${ctx.childUid}\0${mode}\0${process.env.CONFINE_LANDLOCK_LAYER}`;
  const hit = lastRows.get(spec);
  if (hit && hit.key === key && hit.support === s) return { ...hit.rows };
  const rows = rowsOf(spec, kind, () => s, ctx, mode);
  for (const row of Object.values(rows)) Object.freeze(row);
  lastRows.set(spec, { key, support: s, rows });
  return { ...rows };
}

/** isolationEnforcement()'s last answer for each spec object (specs are not changed once made). */
const lastRows = new WeakMap<IsolationSpec, { key: string; support: IsolationSupport; rows: EnforcedMap }>();

function rowsOf(
  spec: IsolationSpec,
  kind: ExecutorKind,
  support: () => IsolationSupport,
  ctx: GuardContext,
  mode: IsolationMode,
): EnforcedMap {
  const out: EnforcedMap = {};
  const keys = Object.keys(spec) as IsolationKey[];
  if (keys.length === 0) return out;
  const nativeLinux = process.platform === 'linux' && (kind === 'linux' || kind === 'posix');
  if (!nativeLinux) {
    const why =
      process.platform === 'linux'
        ? `the ${kind} backend has no namespaces (isolation needs the native addon: the linux backend)`
        : `isolation needs Linux namespaces; the ${kind} backend has none`;
    for (const k of keys) {
      const host = spec[k] === 'host' || (k === 'syscalls' && spec.syscalls === 'host');
      out[k] = host ? asHost(k) : none(why);
    }
    return out;
  }
  const s = supportUnder(support(), mode);
  const via = s.viaUserNamespace ? ' (in a user namespace of its own)' : '';
  const privatePids = spec.processes === 'private';
  if (spec.filesystem) {
    const procNeed = privatePids ? [s.proc] : [];
    out.filesystem = missing(s.namespaces.mount, s.mounts, ...procNeed) ?? {
      enforced: true,
      mechanism: 'mount-namespace',
      scope: 'tree',
      note:
        `a new root holding only the listed paths${via}: read ones read-only, nosuid, nodev; write ones read-write; ` +
        `tmp a fresh tmpfs; a private /dev; ${privatePids ? "/proc of the tree's own pid namespace" : "/proc is the host's (processes: 'host'), so /proc/<pid>/root of a process of the same user leads out"}` +
        (s.recursiveReadOnly ? '' : '; before Linux 5.12 a mount below a read path keeps its own flags'),
    };
  }
  if (spec.network !== undefined) {
    out.network =
      spec.network === 'host'
        ? asHost('network')
        : (missing(s.namespaces.net, ...(spec.network === 'loopback' ? [s.loopback] : [])) ?? {
            enforced: true,
            mechanism: 'net-namespace',
            scope: 'tree',
            note:
              spec.network === 'none'
                ? `a network namespace with no interface up${via}`
                : `a network namespace with its own lo, up${via}`,
          });
  }
  if (spec.processes !== undefined) {
    out.processes = !privatePids
      ? asHost('processes')
      : (missing(s.namespaces.pid, s.namespaces.mount, s.proc, s.init) ?? {
          enforced: true,
          mechanism: 'pid-namespace',
          scope: 'tree',
          note: `a pid namespace${via}: pid 1 is confine-init, the program its child; /proc shows the tree alone`,
        });
  }
  if (spec.ipc !== undefined) {
    out.ipc =
      spec.ipc === 'host'
        ? asHost('ipc')
        : (missing(s.namespaces.ipc) ?? {
            enforced: true,
            mechanism: 'ipc-namespace',
            scope: 'tree',
            note:
              `System V IPC and POSIX message queues of its own${via}` +
              (spec.filesystem
                ? '; /dev/shm a private tmpfs'
                : "; POSIX shared memory lives in /dev/shm, which stays the host's without filesystem"),
          });
  }
  if (spec.hostname !== undefined) {
    out.hostname = missing(s.namespaces.uts) ?? {
      enforced: true,
      mechanism: 'uts-namespace',
      scope: 'tree',
      note: `its own hostname, ${spec.hostname}${via}`,
    };
  }
  guardRows(spec, out, s, mode, ctx);
  return out;
}

/** request.isolation for the addon (docs/native-api.md). */
export interface NativeIsolationRequest {
  user: boolean;
  mount: boolean;
  pid: boolean;
  net: boolean;
  ipc: boolean;
  uts: boolean;
  newRoot: boolean;
  mounts: ViewMount[];
  hostname: string | null;
  loopback: boolean;
  spares: boolean;
  initFd: number;
  statusFd: number;
}

/**
 * The addon's request for what `enforced` says is enforced (an unenforced key is left as the
 * host has it: best effort, warned about or refused by strict before this is built).
 */
export function nativeIsolationRequest(
  spec: IsolationSpec,
  enforced: EnforcedMap,
  view: View | null,
  support: IsolationSupport,
  fds: { initFd: number; statusFd: number },
  childIsRoot: boolean,
): NativeIsolationRequest | null {
  // Only the namespace rows: Landlock and seccomp rows are the guards' (guards.ts).
  const on = (k: IsolationKey) => enforced[k]?.enforced === true && enforced[k]?.mechanism.endsWith('-namespace') === true;
  const fsOn = on('filesystem') && view !== null;
  const pid = on('processes');
  const net = on('network');
  const req: NativeIsolationRequest = {
    user: support.viaUserNamespace,
    mount: fsOn || pid,
    pid,
    net,
    ipc: on('ipc'),
    uts: on('hostname'),
    newRoot: fsOn,
    // A fresh /proc keeps the kernel's own files read-only for a child with root's capabilities.
    mounts: fsOn
      ? viewMounts(view!, childIsRoot && !support.viaUserNamespace)
      : pid
        ? [{ kind: 'proc', target: '/proc', readOnlyKernelFiles: childIsRoot && !support.viaUserNamespace }]
        : [],
    hostname: on('hostname') ? (spec.hostname ?? null) : null,
    loopback: net && spec.network === 'loopback',
    // Spare net and IPC namespaces are joined with setns, which needs root over them.
    spares: !support.viaUserNamespace && process.env.CONFINE_NAMESPACE_POOL !== '0',
    initFd: pid ? fds.initFd : -1,
    statusFd: pid ? fds.statusFd : -1,
  };
  const any = req.mount || req.pid || req.net || req.ipc || req.uts;
  return any ? req : null;
}

/** A view's mounts as the addon gets them, made once per view (reused for VIEW_TTL_MS: view.ts) and child kind. */
const mountsOfView = new WeakMap<View, Map<boolean, ViewMount[]>>();
function viewMounts(view: View, readOnlyKernelFiles: boolean): ViewMount[] {
  const byKind = mountsOfView.get(view) ?? new Map<boolean, ViewMount[]>();
  mountsOfView.set(view, byKind);
  let mounts = byKind.get(readOnlyKernelFiles);
  if (!mounts) {
    mounts = view.mounts.map((m) => Object.freeze(m.kind === 'proc' ? { ...m, readOnlyKernelFiles } : m));
    byKind.set(readOnlyKernelFiles, mounts);
  }
  return mounts;
}
