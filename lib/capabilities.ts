// What this host can enforce, and why not: the answer `confine doctor` prints.

import { isolationSupport } from './isolation/index.js';
import { userInfo } from 'node:os';
import { nativeAddon, nativeAddonPath, nativeLoadError } from './loader.js';
import { availableBackends, backendFor } from './backends/select.js';
import { sampleBlockDevice } from './block-devices.js';
import { IO_RATE_RULES, RESOURCE_NAMES } from './validate.js';
import { detectCgroups } from './cgroup/index.js';
import { DELEGATED, describeDelegation } from './cgroup/delegation.js';
import { describeOnly, parentFor } from './cgroup/wiring.js';
import { ConfineError } from './errors.js';
import { isRoot } from './proc.js';
import type { Capabilities, ExecutorKind, Resources } from './types.js';

/** The best available backend, by capability testing. */
export function autoselectExecutor(): ExecutorKind {
  return availableBackends()[0] ?? 'universal';
}

export function capabilities(): Capabilities {
  // A description: with CONFINE_CGROUP_PARENT=delegated it says what a supervisor would move,
  // and moves nothing itself.
  return describeOnly(describe);
}

function describe(): Capabilities {
  const addon = nativeAddon();
  const backends = availableBackends();
  const kind = backends[0] ?? 'universal';
  const backend = backendFor(kind);
  const every: Resources = {};
  // An IO throttle is asked of the host's first disk (or of / where it has none: the row says why).
  const disk = process.platform === 'linux' ? (sampleBlockDevice() ?? '/') : '/';
  for (const name of RESOURCE_NAMES)
    (every as Record<string, unknown>)[name] =
      name === 'cpus' ? '0' : Object.hasOwn(IO_RATE_RULES, name) ? { device: disk, rate: 1 } : 1;
  const missing: { what: string; why: string }[] = [];
  const request = (cgroupParent: string | undefined) =>
    backend.plan({
      resources: every,
      identity: null,
      runAs: true,
      restricted: false,
      killOnParentExit: true,
      cgroupParent,
      customArgv0: false,
      isolation: null,
    });
  let plan: ReturnType<typeof request>;
  try {
    plan = request(process.env.CONFINE_CGROUP_PARENT || undefined);
  } catch (e) {
    // A CONFINE_CGROUP_PARENT this supervisor cannot use: every start would reject; say why.
    if (!(e instanceof ConfineError)) throw e;
    missing.push({ what: 'CONFINE_CGROUP_PARENT', why: e.message });
    plan = request(undefined);
  }
  const loadError = nativeLoadError();
  if (loadError) missing.push({ what: 'native addon', why: loadError });
  for (const k of ['linux', 'posix', 'windows'] as ExecutorKind[]) {
    const why = backendFor(k).unavailable();
    if (why && !(loadError && why === loadError)) missing.push({ what: `${k} backend`, why });
  }
  for (const [k, e] of Object.entries(plan)) if (e && !e.enforced) missing.push({ what: k, why: e.note ?? e.mechanism });
  const isolation = isolationSupport();
  if (isolation.mechanism === 'none') missing.push({ what: 'isolation', why: isolation.reason ?? 'no namespaces' });
  const resources: Capabilities['resources'] = {};
  for (const name of RESOURCE_NAMES) if (plan[name]) resources[name] = plan[name];
  const features: Capabilities['features'] = {};
  if (addon) for (const [k, v] of Object.entries(addon.probe().features ?? {})) features[k] = v;
  let user = null as string | null;
  try {
    user = userInfo().username;
  } catch {
    /* no passwd entry */
  }
  return {
    native: addon !== null,
    backend: kind,
    reason: loadError ?? (kind === 'universal' ? (missing.find((m) => m.what.endsWith('backend'))?.why ?? null) : null),
    platform: process.platform,
    root: isRoot(),
    backends,
    features,
    resources,
    missing,
    isolation,
    addon: addon ? { version: addon.probe().version, path: nativeAddonPath() } : null,
    detail: {
      user,
      treeStop: plan.treeStop,
      runAs: plan.runAs,
      groups: plan.groups,
      killOnParentExit: plan.killOnParentExit,
      ...(process.platform === 'linux' ? { cgroup: cgroupDetail(user) } : {}),
    },
  };
}

/**
 * Linux: the hierarchy this host has, the parent task cgroups would go under, and the delegated
 * subtree a non-root supervisor needs for tree limits (whether the no-internal-processes rule
 * blocks it, and how to get one).
 */
function cgroupDetail(user: string | null): Record<string, unknown> {
  const layout = detectCgroups();
  const parentPath = process.env.CONFINE_CGROUP_PARENT || undefined;
  const parent = layout.mode === 'none' ? null : parentFor(parentPath);
  const made = parent?.delegation ?? null;
  return {
    mode: layout.mode,
    version: parent?.version ?? null,
    parent: parent?.ok ? parent.paths : null,
    controllers: parent?.controllers ?? [],
    note: parent?.note ?? null,
    reason: parent?.ok ? null : (parent?.reason ?? layout.reason),
    delegation: describeDelegation(detectCgroups().mode, detectCgroups().unified, parentPath === DELEGATED, made, user),
  };
}
