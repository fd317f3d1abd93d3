// What isolation this host allows this supervisor, measured once by the addon
// (probeIsolation: each step done for real in a throwaway child), and why not where it does not:
// the sysctls and the AppArmor switch that turn user namespaces off are read to name the cause.

import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import type { PosixIsolationProbe, PosixIsolationProbePath } from '../addon.js';
import { nativeAddonPath, posixAddon } from '../loader.js';
import { isRoot } from '../proc.js';
import type { IsolationAvailability, IsolationCapabilities } from '../types.js';

type ProbePath = PosixIsolationProbePath;
type Step = PosixIsolationProbePath[keyof PosixIsolationProbePath];

export type Availability = IsolationAvailability;
export type IsolationSupport = IsolationCapabilities;

function readSysctl(file: string): string | null {
  try {
    return readFileSync(file, 'utf8').trim();
  } catch {
    return null;
  }
}

/** Why this host refuses unprivileged user namespaces, when a sysctl or AppArmor says so. */
function userNamespaceBlocker(): string | null {
  if (readSysctl('/proc/sys/user/max_user_namespaces') === '0')
    return 'user namespaces are off (sysctl user.max_user_namespaces = 0)';
  if (readSysctl('/proc/sys/kernel/unprivileged_userns_clone') === '0')
    return 'unprivileged user namespaces are off (sysctl kernel.unprivileged_userns_clone = 0)';
  if (readSysctl('/proc/sys/kernel/apparmor_restrict_unprivileged_userns') === '1')
    return 'AppArmor restricts unprivileged user namespaces (kernel.apparmor_restrict_unprivileged_userns = 1)';
  return null;
}

const STEP_TEXT: Record<string, string> = {
  clone: 'making the namespaces',
  user: 'a new user namespace',
  mount: 'a new mount namespace',
  pid: 'a new pid namespace',
  net: 'a new network namespace',
  ipc: 'a new IPC namespace',
  uts: 'a new UTS namespace',
  uidMap: "writing the user namespace's id maps",
  mounts: 'mounting in a private mount namespace',
  proc: 'mounting a fresh /proc',
  loopback: 'bringing lo up',
};

function availability(step: keyof ProbePath, value: Step, prefix = ''): Availability {
  if (value === null) return { ok: true, reason: null };
  return {
    ok: false,
    reason:
      value === undefined
        ? `${prefix}${STEP_TEXT[step]}: not tried (an earlier step failed)`
        : `${prefix}${STEP_TEXT[step]} failed: ${value}`,
  };
}

/** Where the init executable is: beside the loaded addon (build/Release or prebuilds/<platform>). */
function initPath(): string | null {
  const addon = nativeAddonPath();
  const candidates = addon ? [path.join(path.dirname(addon), 'confine-init')] : [];
  return candidates.find((p) => existsSync(p)) ?? candidates[0] ?? null;
}

const NO_ADDON: Availability = { ok: false, reason: 'needs the native addon on Linux (the linux backend)' };
/** Landlock and seccomp, from the addon's own probe (issue 17's guards use them). */
function guardsOf(features: Record<string, unknown> | undefined): Pick<IsolationCapabilities, 'landlock' | 'seccomp'> {
  const abi = typeof features?.landlockAbi === 'number' ? features.landlockAbi : null;
  const filter = typeof features?.seccompFilter === 'boolean' ? features.seccompFilter : null;
  return {
    landlock:
      abi === null
        ? { abi: null, reason: 'not probed by this addon' }
        : {
            abi: abi > 0 ? abi : null,
            reason: abi > 0 ? null : 'Landlock is not built into this kernel or not enabled at boot (lsm=)',
          },
    seccomp:
      filter === null
        ? { available: null, reason: 'not probed by this addon' }
        : { available: filter, reason: filter ? null : 'seccomp filters cannot be installed here' },
  };
}

function unsupported(reason: string): IsolationSupport {
  const no = { ok: false, reason };
  return {
    mechanism: 'none',
    viaUserNamespace: false,
    reason,
    userNamespaces: no,
    namespaces: { mount: no, pid: no, net: no, ipc: no, uts: no },
    mounts: no,
    proc: no,
    loopback: no,
    init: { ...no, path: null },
    recursiveReadOnly: false,
    ...guardsOf(posixAddon()?.probe().features),
  };
}

let cached: IsolationSupport | null = null;

/** What isolation the linux backend can give here; measured on first use and kept. */
export function isolationSupport(): IsolationSupport {
  if (cached) return cached;
  const addon = posixAddon();
  if (process.platform !== 'linux' || !addon?.probeIsolation) {
    cached = unsupported(process.platform !== 'linux' ? 'namespaces are Linux-only' : (NO_ADDON.reason as string));
    return cached;
  }
  const probe: PosixIsolationProbe = addon.probeIsolation();
  const blocker = userNamespaceBlocker();
  const userOk = probe.userns.user === null && probe.userns.uidMap === null && probe.userns.mounts === null;
  const userNamespaces: Availability = userOk
    ? { ok: true, reason: null }
    : {
        ok: false,
        reason:
          blocker ??
          (probe.userns.user !== null
            ? availability('user', probe.userns.user).reason
            : probe.userns.uidMap !== null
              ? availability('uidMap', probe.userns.uidMap).reason
              : availability('mounts', probe.userns.mounts, 'in a user namespace: ').reason),
      };
  // Root makes the namespaces directly; anyone else through a user namespace of the child's own.
  const direct = isRoot() && probe.direct !== null && probe.direct.clone === null ? probe.direct : null;
  const use = direct ?? probe.userns;
  const viaUser = direct === null;
  const prefix = viaUser ? 'in a user namespace: ' : '';
  const gate = viaUser && !userOk ? userNamespaces.reason : null;
  const avail = (step: keyof ProbePath): Availability =>
    gate !== null ? { ok: false, reason: gate } : availability(step, use[step], prefix);
  const init = initPath();
  const initAvail: Availability & { path: string | null } =
    init && existsSync(init)
      ? { ok: true, reason: null, path: init }
      : { ok: false, reason: `the init of private pid namespaces is missing: ${init ?? 'no addon path'}`, path: init };
  const namespaces = { mount: avail('mount'), pid: avail('pid'), net: avail('net'), ipc: avail('ipc'), uts: avail('uts') };
  const any = Object.values(namespaces).some((a) => a.ok);
  const guards = guardsOf(addon.probe().features);
  cached = {
    // Where no namespace is allowed, Landlock (issue 17) isolates files, TCP, signals and sockets.
    mechanism: any ? 'namespaces' : guards.landlock.abi ? 'landlock' : 'none',
    viaUserNamespace: viaUser,
    reason: any ? null : (gate ?? namespaces.mount.reason),
    userNamespaces,
    namespaces,
    mounts: avail('mounts'),
    proc: avail('proc'),
    loopback: avail('loopback'),
    init: initAvail,
    recursiveReadOnly: probe.mountSetattr,
    ...guards,
  };
  return cached;
}
