// Usage of a container's writable layer (the overlay upper directory), measured as
// `du` does and as containerd's snapshotter Usage does: allocated blocks (st_blocks ×
// 512) and inodes, each hard-linked inode counted once. The walk is asynchronous so a
// large layer does not stall the daemon; entries that vanish mid-walk are skipped.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { FilesystemSample } from './types';

export async function measureDirectory(dir: string): Promise<{ usedBytes: bigint; inodesUsed: bigint }> {
  const seen = new Set<bigint>();
  let usedBytes = 0n;
  let inodesUsed = 0n;
  const visit = async (p: string): Promise<void> => {
    let st: fs.BigIntStats;
    try {
      st = await fs.promises.lstat(p, { bigint: true });
    } catch (err) {
      if ((err as { code?: string }).code === 'ENOENT') return;
      throw err;
    }
    if (st.nlink > 1n && !st.isDirectory()) {
      if (seen.has(st.ino)) return;
      seen.add(st.ino);
    }
    usedBytes += st.blocks * 512n;
    inodesUsed += 1n;
    if (!st.isDirectory()) return;
    let names: string[];
    try {
      names = await fs.promises.readdir(p);
    } catch (err) {
      if ((err as { code?: string }).code === 'ENOENT') return;
      throw err;
    }
    for (const name of names) await visit(path.join(p, name));
  };
  await visit(dir);
  return { usedBytes, inodesUsed };
}

/** The writable layer's usage plus its filesystem's capacity (statfs). */
export async function readFilesystemUsage(dir: string): Promise<FilesystemSample> {
  const { usedBytes, inodesUsed } = await measureDirectory(dir);
  const sample: FilesystemSample = { mountpoint: dir, usedBytes, inodesUsed };
  try {
    const st = await fs.promises.statfs(dir, { bigint: true });
    sample.capacityBytes = st.blocks * st.bsize;
    sample.inodesTotal = st.files;
    sample.inodesFree = st.ffree;
  } catch {
    // the directory vanished between the walk and statfs: usage alone is still right
  }
  return sample;
}
