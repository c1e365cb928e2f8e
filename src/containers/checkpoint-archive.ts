// Checkpoint archives in cri-o's layout (what the kubelet's checkpoint API and
// checkpointctl read): an uncompressed tar holding checkpoint/ (CRIU's images),
// config.dump, spec.dump, rootfs-diff.tar (the writable layer's files),
// deleted.files (paths removed from the image), bind.mounts, stats-dump and
// dump.log, plus the container's log. Reading one back is hostile-input safe:
// nothing is written outside the directory or root filesystem it is meant for.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { pipeline } from 'node:stream/promises';
import * as tar from 'tar-stream';
import { errors } from '../common/errors';
import { secureJoin } from '../common/secure-join';

export const ARCHIVE = {
  checkpointDir: 'checkpoint',
  configDump: 'config.dump',
  specDump: 'spec.dump',
  rootfsDiff: 'rootfs-diff.tar',
  deletedFiles: 'deleted.files',
  bindMounts: 'bind.mounts',
  statsDump: 'stats-dump',
  dumpLog: 'dump.log',
  /** cri-o's name for the container's log inside the archive (its annotation's key). */
  containerLog: 'io.kubernetes.cri-o.LogPath',
} as const;

/** checkpointctl's ContainerConfig (config.dump), as cri-o fills it. */
export interface CheckpointConfigDump {
  id: string;
  name: string;
  rootfsImage?: string;
  rootfsImageRef?: string;
  rootfsImageName?: string;
  runtime?: string;
  createdTime: string;
  checkpointedTime: string;
  restoredTime: string;
  restored: boolean;
}

/** cri-o's bind.mounts entries: lets a restore recreate a missing source of the right kind. */
export interface ExternalBindMount {
  source: string;
  destination: string;
  file_type: 'directory' | 'file';
  permissions: number;
}

/** Directories never part of a rootfs diff: mount points the runtime makes (cri-o's containerMounts). */
const CONTAINER_MOUNTS = new Set(['/dev', '/dev/shm', '/proc', '/run', '/run/.containerenv', '/run/secrets', '/sys']);

export interface RootfsDiff {
  /** Paths relative to the upper dir, parents before children. */
  entries: string[];
  /** Absolute paths (in the container) the writable layer deleted from the image. */
  deleted: string[];
}

/**
 * The writable layer's changes: every file, directory and symlink of the overlay's
 * upper dir, and its whiteouts (0:0 character devices) as deleted paths. Mount
 * points the runtime made (bind mount destinations, /dev, /proc, ...) are left out.
 */
export function rootfsDiff(upper: string, bindDestinations: Iterable<string>): RootfsDiff {
  const skip = new Set([...CONTAINER_MOUNTS, ...bindDestinations]);
  const entries: string[] = [];
  const deleted: string[] = [];
  const walk = (rel: string): void => {
    for (const e of fs.readdirSync(path.join(upper, rel), { withFileTypes: true })) {
      const child = rel === '' ? e.name : `${rel}/${e.name}`;
      if (skip.has(`/${child}`)) continue;
      const st = fs.lstatSync(path.join(upper, child));
      if (st.isCharacterDevice() && st.rdev === 0) {
        deleted.push(`/${child}`);
        continue;
      }
      if (!st.isFile() && !st.isDirectory() && !st.isSymbolicLink()) continue;
      entries.push(child);
      if (st.isDirectory()) walk(child);
    }
  };
  walk('');
  return { entries, deleted };
}

/** Writes a tar of baseDir's named entries (directories with their content) to out (mode 0600: it holds memory pages). */
export async function writeTar(out: string, baseDir: string, names: string[], recursive = true): Promise<void> {
  const pack = tar.pack();
  const writing = pipeline(pack, fs.createWriteStream(out, { mode: 0o600 }));
  const add = async (rel: string): Promise<void> => {
    const full = path.join(baseDir, rel);
    const st = fs.lstatSync(full);
    const base = { name: rel, mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, mtime: st.mtime };
    if (st.isDirectory()) {
      pack.entry({ ...base, type: 'directory' });
      if (recursive) for (const child of fs.readdirSync(full).sort()) await add(`${rel}/${child}`);
    } else if (st.isSymbolicLink()) {
      pack.entry({ ...base, type: 'symlink', linkname: fs.readlinkSync(full) });
    } else if (st.isFile()) {
      const sink = pack.entry({ ...base, type: 'file', size: st.size });
      await pipeline(fs.createReadStream(full), sink);
    }
  };
  try {
    for (const name of names) if (fs.existsSync(path.join(baseDir, name))) await add(name);
    pack.finalize();
  } catch (err) {
    pack.destroy(err as Error);
  }
  await writing;
}

/** A member name made relative and checked: no absolute paths, no "..", nothing empty. */
function safeName(name: string, archive: string): string {
  const clean = path.posix.normalize(name.replace(/^\.\//, '')).replace(/\/$/, '');
  if (clean === '' || clean === '.' || path.posix.isAbsolute(clean) || clean === '..' || clean.startsWith('../')) {
    throw errors.invalidArgument(`checkpoint archive ${archive}: member ${JSON.stringify(name)} leaves the archive`);
  }
  return clean;
}

/**
 * Extracts a checkpoint archive into dest (an empty directory): regular files and
 * directories only (CRIU images, dumps, inner tars), every one inside dest.
 * `only`, when given, limits it to those top-level names.
 */
export async function extractCheckpointArchive(archive: string, dest: string, only?: readonly string[]): Promise<void> {
  const extract = tar.extract();
  const feeding = pipeline(fs.createReadStream(archive), extract);
  feeding.catch(() => undefined);
  for await (const entry of extract) {
    const name = safeName(entry.header.name, archive);
    if (only && !only.includes(name.split('/')[0]!)) {
      entry.resume();
      continue;
    }
    const target = path.join(dest, name);
    if (entry.header.type === 'directory') {
      fs.mkdirSync(target, { recursive: true, mode: 0o700 });
      entry.resume();
    } else if (entry.header.type === 'file' || entry.header.type === 'contiguous-file') {
      fs.mkdirSync(path.dirname(target), { recursive: true, mode: 0o700 });
      if (fs.existsSync(target) && fs.lstatSync(target).isSymbolicLink()) throw errors.invalidArgument(`checkpoint archive ${archive}: ${name} twice`);
      await pipeline(entry, fs.createWriteStream(target, { mode: 0o600 }));
    } else {
      throw errors.invalidArgument(`checkpoint archive ${archive}: member ${JSON.stringify(name)} is a ${entry.header.type}, not a file or directory`);
    }
  }
  await feeding.catch((err: unknown) => {
    throw errors.invalidArgument(`checkpoint archive ${archive}: not a readable tar (${(err as Error).message})`);
  });
}

/**
 * Applies a rootfs diff to a mounted root filesystem: each member resolved inside
 * the root (symlinks clamped to it), with its mode, owner and times.
 */
export async function applyRootfsDiff(diffTar: string, rootfs: string): Promise<void> {
  const extract = tar.extract();
  const feeding = pipeline(fs.createReadStream(diffTar), extract);
  feeding.catch(() => undefined);
  for await (const entry of extract) {
    const h = entry.header;
    const name = safeName(h.name, diffTar);
    const parent = secureJoin(rootfs, path.posix.dirname(name));
    const target = path.join(parent, path.posix.basename(name));
    fs.mkdirSync(parent, { recursive: true, mode: 0o755 });
    const existing = fs.existsSync(target) || isSymlink(target) ? fs.lstatSync(target) : undefined;
    if (h.type === 'directory') {
      if (existing && !existing.isDirectory()) fs.rmSync(target, { force: true });
      if (!existing?.isDirectory()) fs.mkdirSync(target, { mode: 0o755 });
      entry.resume();
    } else if (h.type === 'file' || h.type === 'contiguous-file') {
      if (existing) fs.rmSync(target, { recursive: true, force: true });
      await pipeline(entry, fs.createWriteStream(target, { mode: 0o600, flags: 'wx' }));
    } else if (h.type === 'symlink') {
      if (existing) fs.rmSync(target, { recursive: true, force: true });
      fs.symlinkSync(h.linkname, target);
      entry.resume();
    } else if (h.type === 'link') {
      if (existing) fs.rmSync(target, { recursive: true, force: true });
      fs.linkSync(secureJoin(rootfs, safeName(h.linkname, diffTar)), target);
      entry.resume();
    } else {
      entry.resume();
      continue;
    }
    fs.lchownSync(target, h.uid, h.gid);
    if (h.type !== 'symlink') {
      fs.chmodSync(target, h.mode & 0o7777);
      fs.utimesSync(target, h.mtime, h.mtime);
    }
  }
  await feeding;
}

function isSymlink(p: string): boolean {
  try {
    return fs.lstatSync(p).isSymbolicLink();
  } catch {
    return false;
  }
}

/** Removes what the checkpointed container had deleted from its image (deleted.files), inside the root. */
export function removeDeletedFiles(rootfs: string, deleted: readonly string[]): void {
  for (const p of deleted) {
    const clean = path.posix.normalize(`/${p}`);
    if (clean === '/') continue;
    const parent = secureJoin(rootfs, path.posix.dirname(clean));
    fs.rmSync(path.join(parent, path.posix.basename(clean)), { recursive: true, force: true });
  }
}
