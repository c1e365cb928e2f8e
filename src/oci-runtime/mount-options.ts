// OCI mount options -> mount(2) flags, propagation flags and the data string.
import * as c from '../sys/constants';

export interface ParsedMountOptions {
  flags: number;
  /** Flags explicitly cleared ("rw", "suid"...): only matter on remount. */
  clear: number;
  propagation: number[];
  data: string[];
  bind: boolean;
  recursive: boolean;
  /** "rro": the bind and every mount below it read-only (mount_setattr AT_RECURSIVE), as runc. */
  recursiveReadOnly: boolean;
}

const FLAG_OPTIONS: Record<string, [clear: boolean, flag: number]> = {
  ro: [false, c.MS_RDONLY], rw: [true, c.MS_RDONLY],
  nosuid: [false, c.MS_NOSUID], suid: [true, c.MS_NOSUID],
  nodev: [false, c.MS_NODEV], dev: [true, c.MS_NODEV],
  noexec: [false, c.MS_NOEXEC], exec: [true, c.MS_NOEXEC],
  sync: [false, c.MS_SYNCHRONOUS], async: [true, c.MS_SYNCHRONOUS],
  dirsync: [false, c.MS_DIRSYNC], remount: [false, c.MS_REMOUNT],
  mand: [false, c.MS_MANDLOCK], nomand: [true, c.MS_MANDLOCK],
  atime: [true, c.MS_NOATIME], noatime: [false, c.MS_NOATIME],
  diratime: [true, c.MS_NODIRATIME], nodiratime: [false, c.MS_NODIRATIME],
  relatime: [false, c.MS_RELATIME], norelatime: [true, c.MS_RELATIME],
  strictatime: [false, c.MS_STRICTATIME], nostrictatime: [true, c.MS_STRICTATIME],
  lazytime: [false, c.MS_LAZYTIME], nolazytime: [true, c.MS_LAZYTIME],
  nosymfollow: [false, c.MS_NOSYMFOLLOW], symfollow: [true, c.MS_NOSYMFOLLOW],
};

const PROPAGATION_OPTIONS: Record<string, number> = {
  private: c.MS_PRIVATE, rprivate: c.MS_PRIVATE | c.MS_REC,
  slave: c.MS_SLAVE, rslave: c.MS_SLAVE | c.MS_REC,
  shared: c.MS_SHARED, rshared: c.MS_SHARED | c.MS_REC,
  unbindable: c.MS_UNBINDABLE, runbindable: c.MS_UNBINDABLE | c.MS_REC,
};

/** Options runc accepts and ignores here (handled elsewhere or meaningless for us). */
const IGNORED = new Set(['tmpcopyup', 'defaults']);

export function parseMountOptions(options: readonly string[] = []): ParsedMountOptions {
  const out: ParsedMountOptions = { flags: 0, clear: 0, propagation: [], data: [], bind: false, recursive: false, recursiveReadOnly: false };
  for (const opt of options) {
    if (opt === 'bind' || opt === 'rbind') {
      out.bind = true;
      out.flags |= c.MS_BIND;
      if (opt === 'rbind') {
        out.recursive = true;
        out.flags |= c.MS_REC;
      }
      continue;
    }
    if (opt === 'rro') {
      out.recursiveReadOnly = true;
      continue;
    }
    const flag = FLAG_OPTIONS[opt];
    if (flag) {
      if (flag[0]) {
        out.flags &= ~flag[1];
        out.clear |= flag[1];
      } else {
        out.flags |= flag[1];
      }
      continue;
    }
    const prop = PROPAGATION_OPTIONS[opt];
    if (prop !== undefined) {
      out.propagation.push(prop);
      continue;
    }
    if (IGNORED.has(opt)) continue;
    if (opt === 'idmap' || opt === 'ridmap') throw new Error(`mount option ${opt} needs user namespaces, which cradle-runtime does not support`);
    out.data.push(opt);
  }
  return out;
}

export function rootfsPropagationFlag(value: string | undefined): number {
  if (!value) return c.MS_SLAVE | c.MS_REC;
  const flag = PROPAGATION_OPTIONS[value];
  if (flag === undefined) throw new Error(`linux.rootfsPropagation: unknown value ${JSON.stringify(value)}`);
  return flag;
}
