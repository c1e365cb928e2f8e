// Crash-safe file writes: write a temp file in the same directory, fsync it, rename
// it over the target and fsync the directory, so readers see the old or the new
// content, never a torn one.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';

export interface AtomicWriteOptions {
  mode?: number;
  /** fsync file and directory (default true). Off only where a power loss needs no guarantee (throwaway state, the CNI cache). */
  durable?: boolean;
}

export async function writeFileAtomic(file: string, data: string | Uint8Array, options: AtomicWriteOptions = {}): Promise<void> {
  const durable = options.durable ?? true;
  const dir = path.dirname(file);
  const tmp = tempName(file);
  const handle = await fs.promises.open(tmp, 'wx', options.mode ?? 0o644);
  try {
    await handle.writeFile(data);
    if (durable) await handle.sync();
  } catch (err) {
    await handle.close();
    await fs.promises.rm(tmp, { force: true });
    throw err;
  }
  await handle.close();
  try {
    await fs.promises.rename(tmp, file);
  } catch (err) {
    await fs.promises.rm(tmp, { force: true });
    throw err;
  }
  if (durable) await fsyncDir(dir);
}

export function writeFileAtomicSync(file: string, data: string | Uint8Array, options: AtomicWriteOptions = {}): void {
  const durable = options.durable ?? true;
  const dir = path.dirname(file);
  const tmp = tempName(file);
  const fd = fs.openSync(tmp, 'wx', options.mode ?? 0o644);
  try {
    fs.writeFileSync(fd, data);
    if (durable) fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  try {
    fs.renameSync(tmp, file);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw err;
  }
  if (durable) {
    const dfd = fs.openSync(dir, 'r');
    try { fs.fsyncSync(dfd); } finally { fs.closeSync(dfd); }
  }
}

/** The name a write of `file` uses for its temp file. */
function tempName(file: string): string {
  return path.join(path.dirname(file), `.${path.basename(file)}.${randomBytes(6).toString('hex')}.tmp`);
}

const TEMP_NAME = /^\..+\.[0-9a-f]{12}\.tmp$/;

/**
 * Removes the temp files of writes that a crash interrupted (they are never renamed).
 * Only for startup, before anything writes into `dir`: a live write's temp file
 * looks the same. Returns the removed paths.
 */
export async function removeInterruptedWrites(dir: string): Promise<string[]> {
  let names: string[];
  try {
    names = await fs.promises.readdir(dir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names.filter((n) => TEMP_NAME.test(n))) {
    await fs.promises.rm(path.join(dir, name), { force: true });
    removed.push(path.join(dir, name));
  }
  return removed;
}

async function fsyncDir(dir: string): Promise<void> {
  const handle = await fs.promises.open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
