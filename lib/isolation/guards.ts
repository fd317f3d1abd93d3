// The kernel guards of isolate() (issue 17): the system call filter (`syscalls`), the capability
// sets (`capabilities`), and Landlock where namespaces are not allowed (a sysctl, Ubuntu 24.04's
// AppArmor switch, or CONFINE_ISOLATION=landlock): files by path, TCP bind and connect (ABI 4),
// signals and abstract unix sockets kept inside the tree (scopes, ABI 6). The rows of
// `executor.enforced` for them are here (plan.ts asks), and so is the addon's guard request
// (docs/native-api.md, "Kernel guards"). The addon builds each filter and ruleset once per
// policy; the child only installs them.

import { chmodSync, chownSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { PosixLandlockPathRule, PosixLandlockRequest, PosixLandlockRule, PosixSeccompRequest } from '../addon.js';
import { ConfineArgumentError, IsolationError } from '../errors.js';
import { posixAddon } from '../loader.js';
import type { EnforcedMap, Enforcement } from '../types.js';
import type { Availability, IsolationSupport } from './support.js';
import type { IsolationSpec } from './validate.js';
import type { View } from './view.js';

/** CONFINE_ISOLATION: 'auto' (namespaces where allowed, Landlock where not) or one forced. */
export type IsolationMode = 'auto' | 'namespaces' | 'landlock';

/** `check`: an unknown value is a typed error (start() asks so); the plan reads it as 'auto'. */
export function isolationMode(check = false): IsolationMode {
  const v = process.env.CONFINE_ISOLATION;
  if (v === 'namespaces' || v === 'landlock') return v;
  if (v === undefined || v === '' || v === 'auto' || !check) return 'auto';
  throw new ConfineArgumentError(`CONFINE_ISOLATION must be 'namespaces' or 'landlock' (or unset), got ${JSON.stringify(v)}`);
}

const FORCED = 'CONFINE_ISOLATION=landlock: namespaces are not used';

/** support as the plan sees it under `mode`: with 'landlock', no namespace is available. */
export function supportUnder(s: IsolationSupport, mode: IsolationMode): IsolationSupport {
  if (mode !== 'landlock') return s;
  const no: Availability = { ok: false, reason: FORCED };
  return {
    ...s,
    mechanism: s.landlock.abi ? 'landlock' : 'none',
    viaUserNamespace: false,
    namespaces: { mount: no, pid: no, net: no, ipc: no, uts: no },
    mounts: no,
    proc: no,
    loopback: no,
  };
}

// ---- names: what the addon's filter and capability step accept ----

/** The names the addon knows on this architecture; null without the addon (only shapes are checked). */
function addonNames(): { syscalls: string[]; capabilities: string[] } | null {
  const names = posixAddon()?.probe().names;
  return names && names.syscalls.length > 0 ? names : null;
}

/**
 * syscalls.deny and capabilities checked against the addon's tables (a typed error names the
 * unknown one); capabilities come back as 'CAP_NET_BIND_SERVICE'. Shapes are validate.ts's.
 */
export function checkGuardNames(spec: IsolationSpec, fail: (m: string) => never): void {
  const names = addonNames();
  if (spec.capabilities) {
    spec.capabilities = [...new Set(spec.capabilities.map((c) => `CAP_${c.replace(/^cap_/i, '').toUpperCase()}`))].sort();
    if (names) {
      const bad = spec.capabilities.find((c) => !names.capabilities.includes(c.slice(4).toLowerCase()));
      if (bad !== undefined)
        fail(`capabilities: unknown capability ${JSON.stringify(bad)} (known: ${names.capabilities.join(', ')})`);
    }
  }
  if (names && typeof spec.syscalls === 'object') {
    const bad = spec.syscalls.deny.find((n) => !names.syscalls.includes(n));
    if (bad !== undefined)
      fail(`syscalls.deny: ${JSON.stringify(bad)} is not a system call of this architecture (${process.arch})`);
  }
}

// ---- rows ----

const none = (note: string): Enforcement => ({ enforced: false, mechanism: 'none', scope: 'none', note });

/** What Landlock's file rules leave open on an ABI (the rights it does not know are not handled). */
function landlockFileGaps(abi: number): string {
  const gaps: string[] = [];
  if (abi < 2) gaps.push('renaming or linking a file into another directory is always denied (ABI 1 has no refer right)');
  if (abi < 3) gaps.push('truncate is not controlled before ABI 3 (allowed wherever file permissions allow)');
  if (abi < 5) gaps.push('ioctl on devices is not controlled before ABI 5');
  return gaps.length ? `; ${gaps.join('; ')}` : '';
}

/** The child's uid is 0 on the host (the capability step applies only there). */
export interface GuardContext {
  childIsRoot: boolean;
  /** The child's uid, for the notes. */
  childUid: number | null;
}

/**
 * The rows of the keys the guards serve, and the Landlock fallback of filesystem, network and
 * processes where the namespace rows in `rows` could not be enforced. Changes `rows` in place.
 */
export function guardRows(
  spec: IsolationSpec,
  rows: EnforcedMap,
  s: IsolationSupport,
  mode: IsolationMode,
  ctx: GuardContext,
): void {
  const abi = s.landlock.abi ?? 0;
  const fallback = mode !== 'namespaces' && abi > 0;
  const seccompOk = s.seccomp.available === true;
  const notNs = (k: 'filesystem' | 'network' | 'processes') =>
    rows[k] !== undefined && rows[k]!.mechanism === 'none' && !rows[k]!.enforced;
  const why = (k: 'filesystem' | 'network' | 'processes') => rows[k]?.note ?? 'no namespace here';

  if (spec.filesystem && notNs('filesystem') && fallback) {
    const sized = spec.filesystem.tmpSizes ? '; a tmp size is not enforced (a directory of the host filesystem)' : '';
    rows.filesystem = {
      enforced: true,
      mechanism: 'landlock',
      scope: 'tree',
      note:
        `Landlock ABI ${abi} (no mount namespace: ${why('filesystem')}): read paths read and execute, write paths every file right of the ABI, everything else denied; ` +
        (spec.filesystem.tmp.length
          ? `tmp paths (${spec.filesystem.tmp.join(', ')}) are denied, the tree gets a private directory of its own instead (mode 0700, removed with the tree) in $TMPDIR; `
          : '') +
        "/dev's null, zero, full, random, urandom and tty usable; /proc is the host's, readable; " +
        'paths stay visible (stat, readlink, path walks are not controlled); connecting to a named unix socket is not controlled' +
        landlockFileGaps(abi) +
        sized,
    };
  }

  if (spec.filesystem && rows.filesystem?.mechanism === 'mount-namespace' && secondLayer(s)) {
    rows.filesystem = {
      ...rows.filesystem,
      note: `${rows.filesystem.note}; Landlock ABI ${abi} on top as a second layer (the same paths on the host's inodes; /proc read-only to it)`,
    };
  }

  if (spec.network !== undefined && spec.network !== 'host' && notNs('network') && fallback) {
    if (spec.network === 'loopback') {
      rows.network = none(`${why('network')}; a private loopback needs a network namespace (Landlock cannot give one)`);
    } else {
      const tcp = abi >= 4;
      const sock = seccompOk && spec.syscalls !== 'host';
      if (tcp || sock) {
        const open: string[] = [];
        if (!sock)
          open.push(
            spec.syscalls === 'host'
              ? "UDP and every other family stay open (syscalls: 'host' installs no socket filter)"
              : `UDP and every other family stay open (${s.seccomp.reason ?? 'no seccomp filter here'})`,
          );
        if (abi < 6) open.push(`abstract unix sockets stay reachable (scopes need Landlock ABI 6; this host has ${abi})`);
        open.push(
          'named unix sockets stay reachable where the filesystem lets the tree reach them',
          'inherited sockets stay usable',
        );
        const how = [
          tcp ? 'Landlock TCP rules deny every bind and connect' : null,
          sock
            ? `a seccomp filter answers socket() of every family but AF_UNIX with EAFNOSUPPORT, io_uring denied${spec.syscalls === undefined ? " (the filter is the default one: syscalls: 'default' comes with it)" : ''}`
            : null,
          abi >= 6 ? 'Landlock scopes keep abstract unix sockets inside the tree' : null,
        ].filter(Boolean);
        rows.network = {
          enforced: sock,
          mechanism: tcp ? 'landlock-tcp' : 'seccomp',
          scope: 'tree',
          note: `no network namespace (${why('network')}): ${how.join('; ')}; open: ${open.join('; ')}`,
        };
      } else {
        rows.network = none(
          `${why('network')}; Landlock ABI ${abi} has no TCP rules (ABI 4) and ${s.seccomp.reason ?? 'no seccomp filter here'}`,
        );
      }
    }
  }

  if (spec.processes === 'private' && notNs('processes') && fallback && abi >= 6) {
    rows.processes = none(
      `${why('processes')}; Landlock scopes (ABI ${abi}) keep the tree's signals inside it, but /proc and every other process stay visible`,
    );
  }

  if (spec.syscalls !== undefined) {
    if (spec.syscalls === 'host')
      rows.syscalls = { enforced: true, mechanism: 'none', scope: 'none', note: "syscalls: the host's, as asked" };
    else if (!seccompOk) rows.syscalls = none(s.seccomp.reason ?? 'seccomp filters cannot be installed here');
    else {
      const extra =
        typeof spec.syscalls === 'object' && spec.syscalls.deny.length
          ? `; also denied (EPERM): ${spec.syscalls.deny.join(', ')}`
          : '';
      rows.syscalls = {
        enforced: true,
        mechanism: 'seccomp',
        scope: 'tree',
        note:
          'the default denylist (docs/isolation.md): new user namespaces, mount, ptrace, bpf, keyctl, perf_event_open, userfaultfd, ' +
          "open_by_handle_at, kexec, modules, setns, reboot, swap, acct and the rest of Docker's list answered EPERM; clone3 ENOSYS " +
          `(glibc falls back to clone); calls of another ABI (i386, x32) denied; installed last before execve, after no_new_privs` +
          (denyIoUring(spec) ? "; io_uring denied (the network is not the host's)" : '') +
          extra,
      };
    }
  }

  if (spec.capabilities !== undefined) {
    const kept = spec.capabilities.length ? spec.capabilities.join(', ') : 'none';
    if (ctx.childIsRoot) {
      rows.capabilities = {
        enforced: true,
        mechanism: 'capabilities',
        scope: 'tree',
        note: `the child runs as uid 0: bounding set dropped to the kept ones (${kept}), kept ones ambient, securebits locked (uid 0 alone grants nothing)`,
      };
    } else if (spec.capabilities.length) {
      rows.capabilities = none(
        `capabilities are kept only for a child that runs as uid 0; this one runs as uid ${ctx.childUid ?? '?'} and execve leaves it none`,
      );
    } else {
      rows.capabilities = {
        enforced: true,
        mechanism: 'uid',
        scope: 'tree',
        note: `the child runs as ${ctx.childUid === null ? 'another user (runAs)' : `uid ${ctx.childUid}`}: execve leaves it no capabilities`,
      };
    }
  }
}

/** Landlock on top of a mount namespace: as root (not in a user namespace), where Landlock is. */
function secondLayer(s: IsolationSupport): boolean {
  return !s.viaUserNamespace && (s.landlock.abi ?? 0) > 0 && process.env.CONFINE_LANDLOCK_LAYER !== '0';
}

function denyIoUring(spec: IsolationSpec): boolean {
  return spec.network === 'none' || spec.network === 'loopback';
}

// ---- the addon's request ----

/** request.capabilities, .seccomp, .landlock and .noNewPrivs for the rows in `enforced`. */
export interface GuardRequest {
  capabilities: string[] | null;
  seccomp: PosixSeccompRequest | null;
  landlock: PosixLandlockRequest | null;
  /** Landlock and a filter need no_new_privs (a uid-0 child has dropped CAP_SYS_ADMIN). */
  noNewPrivs: boolean;
  /** filesystem.tmp on the Landlock path: the directory made for this tree ($TMPDIR); null for none. */
  privateTmp: string | null;
}

/** Devices a program expects, as the mount namespace's private /dev holds them. */
const DEVICES: [string, 'read' | 'write'][] = [
  ['/dev/null', 'write'],
  ['/dev/zero', 'write'],
  ['/dev/full', 'write'],
  ['/dev/tty', 'write'],
  ['/dev/random', 'read'],
  ['/dev/urandom', 'read'],
];

function ruleOf(p: string, access: 'read' | 'write', required: boolean): PosixLandlockRule | null {
  try {
    const st = statSync(p, { bigint: true });
    // Frozen: kept per view and shared by every request made from it (prepared.ts keeps it by reference).
    return Object.freeze({ path: p, access, dev: st.dev, ino: st.ino });
  } catch (e) {
    if (!required) return null;
    const errno = (e as NodeJS.ErrnoException).code ?? 'EIO';
    throw new IsolationError(`filesystem: ${p}: ${errno}`, { path: p, errno, syscall: 'stat', stage: 'landlock' });
  }
}

/**
 * The view's paths as rules, stat'd once per view (a view is reused for VIEW_TTL_MS: view.ts). Safe
 * to reuse: the addon opens each path again and refuses one whose dev/ino changed (ESTALE).
 */
const rulesOfView = new WeakMap<View, { layer?: PosixLandlockRule[]; alone?: PosixLandlockRule[]; init?: PosixLandlockRule }>();
/** `alone`: the Landlock path, where /dev's devices and /proc are the host's and need rules too. */
function viewRules(view: View, alone: boolean): PosixLandlockRule[] {
  const cached = rulesOfView.get(view) ?? {};
  let rules = alone ? cached.alone : cached.layer;
  if (!rules) {
    rules = view.hostBinds().map((b) => ruleOf(b.path, b.readOnly ? 'read' : 'write', true)!);
    if (alone) {
      for (const [p, access] of DEVICES) {
        const r = ruleOf(p, access, false);
        if (r) rules.push(r);
      }
      rules.push(ruleOf('/proc', 'read', true)!);
    }
    rulesOfView.set(view, { ...cached, [alone ? 'alone' : 'layer']: rules });
  }
  return [...rules];
}

/** The init executable's rule (the Landlock layer lets the child exec it from the host), kept and reused as the view's. */
function initRule(view: View, initPath: string): PosixLandlockRule {
  const cached = rulesOfView.get(view) ?? {};
  if (cached.init?.path !== initPath) rulesOfView.set(view, { ...cached, init: ruleOf(initPath, 'read', true)! });
  return rulesOfView.get(view)!.init!;
}

/** A private tmp directory for one tree: 0700, owned by the child's user. */
export function makePrivateTmp(uid: number | null, gid: number | null): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'confine-tmp-'));
  try {
    chmodSync(dir, 0o700);
    if (uid !== null && gid !== null && (uid !== process.getuid?.() || gid !== process.getgid?.())) chownSync(dir, uid, gid);
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  return dir;
}

export function removePrivateTmp(dir: string): void {
  rmSync(dir, { recursive: true, force: true, maxRetries: 2 });
}

/**
 * The guard fields of the addon's request for what `enforced` says. `view`: the filesystem view
 * resolved on the host (the Landlock rules come from its real paths). Makes the private tmp when
 * the Landlock path needs one (the caller removes it with the tree, or when the spawn fails).
 */
export function nativeGuardRequest(
  spec: IsolationSpec,
  enforced: EnforcedMap,
  view: View | null,
  s: IsolationSupport,
  ctx: GuardContext & { uid: number | null; gid: number | null; initPath: string | null },
): GuardRequest {
  const abi = s.landlock.abi ?? 0;
  const fsLandlock = enforced.filesystem?.mechanism === 'landlock' && view !== null;
  const netMech = enforced.network?.mechanism;
  const netGuard = netMech === 'landlock-tcp' || netMech === 'seccomp';
  const scopeSignals = spec.processes === 'private' && enforced.processes?.mechanism !== 'pid-namespace' && abi >= 6;

  const filter =
    enforced.syscalls?.mechanism === 'seccomp' || (netGuard && spec.syscalls !== 'host' && s.seccomp.available === true);
  const seccomp: PosixSeccompRequest | null = filter
    ? {
        deny: typeof spec.syscalls === 'object' ? spec.syscalls.deny : [],
        denyIoUring: denyIoUring(spec),
        unixSocketsOnly: netGuard,
      }
    : null;

  // As root, Landlock also goes on top of the mount namespace: a second layer that holds on the
  // host's inodes even where a mount is changed (a child keeping CAP_SYS_ADMIN) or a path leads
  // out of the new root.
  const fsLayer = enforced.filesystem?.mechanism === 'mount-namespace' && view !== null && secondLayer(s);

  let landlock: PosixLandlockRequest | null = null;
  let privateTmp: string | null = null;
  if (abi > 0 && (fsLandlock || fsLayer || (netGuard && abi >= 4) || scopeSignals)) {
    let rules: PosixLandlockRule[];
    const childRules: PosixLandlockPathRule[] = [];
    if (fsLandlock || fsLayer) {
      rules = viewRules(view!, fsLandlock);
    } else {
      rules = [ruleOf('/', 'write', true)!]; // files as the host has them: Landlock here is for the network or signals
    }
    if (fsLandlock) {
      if (spec.filesystem!.tmp.length) privateTmp = makePrivateTmp(ctx.uid, ctx.gid);
    } else if (fsLayer) {
      // The new root's own tmpfs (its directories and links) read, its /dev and tmps writable:
      // opened by the child once it has mounted them. The init is exec'd from the host.
      childRules.push(
        { path: '/', access: 'read' },
        { path: '/dev', access: 'write' },
        ...view!.tmpTargets().map((t) => ({ path: t, access: 'write' as const })),
      );
      if (ctx.initPath) rules.push(initRule(view!, ctx.initPath));
    }
    landlock = {
      rules,
      treeRules: privateTmp ? [{ path: privateTmp, access: 'write' }] : [],
      childRules,
      denyTcp: netGuard && abi >= 4,
      scopeSignals,
      scopeAbstractUnix: netGuard && abi >= 6,
    };
  }
  const capabilities =
    spec.capabilities !== undefined && enforced.capabilities?.mechanism === 'capabilities' ? spec.capabilities : null;
  return { capabilities, seccomp, landlock, noNewPrivs: seccomp !== null || landlock !== null, privateTmp };
}
