// /proc/<pid>/mountinfo: the mount point and propagation of the mount that holds a
// path. Shared by the daemon (checking a CRI mount's host propagation) and the
// runtime's init (the rootfs's parent mount, which pivot_root needs unshared).

export interface MountInfoEntry {
  mountPoint: string;
  /** The optional fields: shared:N, master:N, propagate_from:N, unbindable. */
  optional: string[];
}

export type Propagation = 'shared' | 'slave' | 'private';

/** Parses one mountinfo line; null for a line that is not one. */
export function parseMountInfoLine(line: string): MountInfoEntry | null {
  const fields = line.split(' ');
  if (fields.length < 7) return null;
  const sep = fields.indexOf('-', 6);
  if (sep < 0) return null;
  // The kernel escapes space, tab, newline and backslash as \ooo.
  const unescape = (s: string) => s.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8)));
  return { mountPoint: unescape(fields[4]!), optional: fields.slice(6, sep) };
}

/**
 * The mount that holds path p (absolute, symlinks resolved): the longest mount point
 * that is p or a parent directory of it; of mounts stacked on one point, the last
 * listed, which is the one on top.
 */
export function mountContaining(mountInfo: string, p: string): MountInfoEntry | null {
  let best: MountInfoEntry | null = null;
  for (const line of mountInfo.split('\n')) {
    const entry = parseMountInfoLine(line);
    if (!entry) continue;
    const mp = entry.mountPoint;
    const contains = mp === '/' || p === mp || p.startsWith(mp + '/');
    if (contains && (!best || mp.length >= best.mountPoint.length)) best = entry;
  }
  return best;
}

export function propagationOf(entry: MountInfoEntry): Propagation {
  if (entry.optional.some((o) => o.startsWith('shared:'))) return 'shared';
  if (entry.optional.some((o) => o.startsWith('master:'))) return 'slave';
  return 'private';
}

/**
 * Mount points at `dir` or below it, deepest first (the order to unmount them in);
 * a point with mounts stacked on it is listed once per mount.
 */
export function mountsUnder(mountInfo: string, dir: string): string[] {
  const prefix = dir.endsWith('/') ? dir : `${dir}/`;
  return mountInfo.split('\n').map(parseMountInfoLine)
    .filter((e): e is MountInfoEntry => e !== null && (e.mountPoint === dir || e.mountPoint.startsWith(prefix)))
    .map((e) => e.mountPoint)
    .sort((a, b) => b.length - a.length);
}
