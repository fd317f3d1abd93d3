// `confine doctor`: what this host can enforce, and why not; task cgroups left behind.

import { capabilities } from '../capabilities.js';
import type { DelegationReport } from '../cgroup/delegation.js';
import type { IsolationCapabilities } from '../types.js';
import { doctorOrphans, formatOrphans } from '../lifecycle/orphans.js';
import { formatEnforced } from './report.js';
import { DOCTOR_USAGE } from './usage.js';
import { UsageError } from './values.js';

export function doctor(argv: readonly string[]): number {
  let json = false;
  for (const a of argv) {
    if (a === '-h' || a === '--help') {
      process.stdout.write(`${DOCTOR_USAGE}\n`);
      return 0;
    }
    if (a === '--json') json = true;
    else
      throw new UsageError(
        a.startsWith('-') ? `unknown option ${a}` : `doctor takes no arguments, got ${JSON.stringify(a)}`,
        'doctor',
      );
  }
  const caps = capabilities();
  const orphans = doctorOrphans();
  if (json) {
    process.stdout.write(`${JSON.stringify({ ...caps, orphans }, null, 2)}\n`);
    return 0;
  }
  const lines = [
    `backend:   ${caps.backend}${caps.native ? ' (native addon loaded)' : ' (pure JS)'}`,
    `backends:  ${caps.backends.join(', ')}`,
    `platform:  ${caps.platform}${caps.root ? ', running as root' : ', not root'}`,
  ];
  if (caps.addon) lines.push(`addon:     ${caps.addon.version} ${caps.addon.path ?? ''}`);
  const cg = caps.detail?.cgroup as
    | {
        mode: string;
        version: number | null;
        parent: Record<string, string> | null;
        reason: string | null;
        note: string | null;
        delegation?: DelegationReport;
      }
    | undefined;
  const delegation = cg?.delegation && (!caps.root || cg.delegation.allowed) ? formatDelegation(cg.delegation) : [];
  // Each reason is said once. Why no cgroup parent can be used (naming every directory tried),
  // or why the delegated cgroup gives task cgroups no controllers, is long and explains most limit
  // rows and the missing list; those rows point at where it is said. When the delegation lines
  // say it (no delegated v2 subtree, or one the no-internal-processes rule blocks), they are it.
  const unusable = cg && !cg.parent ? cg.reason : null;
  const head = unusable?.split(': ')[0] ?? '';
  const toldBelow = !!(unusable && delegation.length && cg?.delegation?.reason && unusable.includes(cg.delegation.reason));
  const said: [string, string][] = [];
  if (unusable) said.push([unusable, `${head} (${toldBelow ? 'delegated:' : 'cgroups:'} above says why)`]);
  if (cg?.parent && cg.note && cg.delegation?.blocked && !cg.delegation.allowed && delegation.length)
    said.push([
      cg.note,
      'no controllers for task cgroups: the no-internal-processes rule (delegated: above says why and what to do)',
    ]);
  const once = (why: string) => said.reduce((w, [text, pointer]) => w.replace(text, pointer), why);
  if (cg)
    lines.push(
      `cgroups:   ${cg.mode}${cg.parent ? `, tasks under ${[...new Set(Object.values(cg.parent))].join(' ')}` : `, unusable: ${toldBelow ? `${head} (delegated: below says why)` : cg.reason}`}`,
    );
  lines.push(...delegation);
  if (Object.keys(caps.features).length)
    lines.push(
      `kernel:    ${Object.entries(caps.features)
        .map(([k, v]) => `${k}=${v}`)
        .join(' ')}`,
    );
  lines.push('', 'limits:');
  lines.push(
    formatEnforced(
      Object.fromEntries(Object.entries(caps.resources).map(([k, e]) => [k, e?.note ? { ...e, note: once(e.note) } : e])),
    ),
  );
  lines.push('', 'isolation:', ...formatIsolation(caps.isolation));
  if (caps.missing.length) {
    // One line per reason, naming everything it keeps from being enforced.
    const whatBy = new Map<string, string[]>();
    for (const m of caps.missing) whatBy.set(once(m.why), [...(whatBy.get(once(m.why)) ?? []), m.what]);
    lines.push('', 'missing:');
    for (const [why, what] of whatBy) lines.push(`  ${what.join(', ')}: ${why}`);
  }
  lines.push(...formatOrphans(orphans));
  process.stdout.write(`${lines.join('\n')}\n`);
  return 0;
}

/** doctor: capabilities().isolation, one line per mechanism. */
function formatIsolation(iso: IsolationCapabilities): string[] {
  const row = (what: string, a: { ok: boolean; reason: string | null }, yes = 'yes') =>
    `  ${what.padEnd(18)} ${a.ok ? yes : `no: ${a.reason ?? 'not available'}`}`;
  const lines = [
    `  ${'mechanism'.padEnd(18)} ${iso.mechanism}${iso.mechanism === 'none' ? `: ${iso.reason}` : iso.viaUserNamespace ? " (through a user namespace of the child's own)" : ' (made directly: root)'}`,
    row('user namespaces', iso.userNamespaces),
  ];
  for (const [k, v] of Object.entries(iso.namespaces)) lines.push(row(`${k} namespace`, v));
  lines.push(row('mounts', iso.mounts), row('fresh /proc', iso.proc), row('loopback', iso.loopback));
  lines.push(row('init (pid 1)', iso.init, iso.init.path ?? 'yes'));
  lines.push(`  ${'recursive ro binds'.padEnd(18)} ${iso.recursiveReadOnly ? 'yes' : 'no (kernel < 5.12: mount_setattr)'}`);
  lines.push(
    `  ${'landlock'.padEnd(18)} ${iso.landlock.abi !== null ? `ABI ${iso.landlock.abi}` : `no: ${iso.landlock.reason}`}`,
  );
  lines.push(`  ${'seccomp'.padEnd(18)} ${iso.seccomp.available ? 'yes' : `no: ${iso.seccomp.reason}`}`);
  return lines;
}

/** doctor: the delegated cgroup v2 subtree a non-root supervisor needs for tree limits. */
function formatDelegation(d: DelegationReport): string[] {
  const out: string[] = [];
  if (d.applies && d.subtree) {
    const where =
      d.via === 'parent'
        ? "the parent of this process's cgroup"
        : d.via === 'root'
          ? 'the hierarchy root'
          : "this process's own cgroup";
    out.push(`delegated: ${d.subtree} (${where}); controllers: ${d.controllers.join(' ') || 'none'}`);
    if (d.moved > 0) out.push(`           ${d.moved} process(es) moved into ${d.leaf} (the no-internal-processes rule)`);
    else if (d.blocked && d.allowed)
      out.push(
        `           it holds ${d.processes} process(es); a supervisor allowed by 'delegated' moves them into ${d.leaf ?? 'a confine leaf'} at its first tree (the no-internal-processes rule)`,
      );
    else if (d.blocked)
      out.push(
        `           BLOCKED: it holds ${d.processes} process(es), and by cgroup v2's no-internal-processes rule a cgroup with processes cannot enable controllers for task cgroups: no memory, CPU or process-count limits`,
      );
  } else if (d.applies) {
    out.push(`delegated: none: ${d.reason}`);
  } else if (d.mode === 'v1' || d.mode === 'hybrid') {
    out.push('delegated: not what tree limits need here: they come from the cgroup v1 hierarchies');
  }
  if (d.howTo.length) {
    out.push(!d.applies ? 'to get tree limits here:' : d.subtree ? 'to use it:' : 'to get one:');
    for (const h of d.howTo) out.push(`  ${h}`);
  }
  return out;
}
