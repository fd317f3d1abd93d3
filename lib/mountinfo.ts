// /proc/self/mountinfo, parsed (proc(5)): one entry per mount this process sees. The cgroup
// module reads the cgroup mounts from it, lib/block-devices.ts the filesystem behind a path.

export interface MountEntry {
  /** The device number of the filesystem, 'MAJ:MIN' (as stat's st_dev; 0:N for tmpfs, overlay...). */
  device: string;
  /** The part of the filesystem this mount shows. */
  root: string;
  mountPoint: string;
  fstype: string;
  /** The mount source ('/dev/vda1', 'tmpfs', 'server:/export'). */
  source: string;
  superOpts: string[];
}

/** mountinfo escapes space, tab, newline and backslash as \ooo. */
function unescapeMount(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8)));
}

export function parseMountinfo(text: string): MountEntry[] {
  const out: MountEntry[] = [];
  for (const line of text.split('\n')) {
    if (!line) continue;
    const sep = line.indexOf(' - ');
    if (sep < 0) continue;
    const left = line.slice(0, sep).split(' ');
    const right = line.slice(sep + 3).split(' ');
    if (left.length < 5 || right.length < 3) continue;
    out.push({
      device: left[2]!,
      root: unescapeMount(left[3]!),
      mountPoint: unescapeMount(left[4]!),
      fstype: right[0]!,
      source: unescapeMount(right[1]!),
      superOpts: right[2]!.split(','),
    });
  }
  return out;
}
