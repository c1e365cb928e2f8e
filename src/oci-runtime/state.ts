// Container state under --root: <root>/<id>/state.json plus exec.fifo while the
// container is created-not-started. Status is derived as runc derives it.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { OciHooks } from '../common/oci-spec';

export const DEFAULT_ROOT = '/run/cradle-runtime';
export const OCI_VERSION = '1.0.2';

export type Status = 'creating' | 'created' | 'running' | 'paused' | 'stopped';

/** What `create` records; everything later commands need without re-reading the bundle. */
export interface SavedState {
  id: string;
  pid: number;
  /** Field 22 of /proc/<pid>/stat at create: tells a reused pid from ours. */
  startTime: string;
  bundle: string;
  rootfs: string;
  created: string;
  annotations: Record<string, string>;
  cgroupVersion: 1 | 2;
  cgroupsPath: string;
  cgroupPaths: Record<string, string>;
  /** /proc/<pid>/ns/* recorded for `exec`. */
  namespacePaths: Record<string, string>;
  hooks?: OciHooks;
  systemdCgroup?: boolean;
}

/** The OCI state document `state` prints (runc's field set). */
export interface OciState {
  ociVersion: string;
  id: string;
  pid: number;
  status: Status;
  bundle: string;
  rootfs: string;
  created: string;
  owner: string;
  annotations?: Record<string, string>;
}

const ID_RE = /^[\w+\-.]+$/;

export function validateId(id: string): void {
  if (!ID_RE.test(id) || id === '.' || id === '..') throw new Error(`invalid container id ${JSON.stringify(id)}`);
}

export function containerDir(root: string, id: string): string {
  validateId(id);
  return path.join(root, id);
}

/** Makes a new container's state dir (and the root): an id in use is an error naming it. */
export function makeContainerDir(root: string, id: string): string {
  fs.mkdirSync(root, { recursive: true, mode: 0o700 });
  const dir = containerDir(root, id);
  try {
    fs.mkdirSync(dir, { mode: 0o711 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new Error(`container with id ${JSON.stringify(id)} already exists`);
    throw err;
  }
  return dir;
}

export function readSaved(root: string, id: string): SavedState {
  const file = path.join(containerDir(root, id), 'state.json');
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new ContainerNotFound(id);
    throw err;
  }
  return JSON.parse(text) as SavedState;
}

export class ContainerNotFound extends Error {
  constructor(readonly id: string) {
    super(`container ${JSON.stringify(id)} does not exist`);
    this.name = 'ContainerNotFound';
  }
}

/** Start time of pid (field 22 of /proc/<pid>/stat) and its state letter; undefined when gone. */
export function procStat(pid: number): { startTime: string; state: string } | undefined {
  let text: string;
  try {
    text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // comm may contain spaces and parentheses: fields start after the last ')'.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { state: fields[0]!, startTime: fields[19]! };
}

export function isAlive(saved: Pick<SavedState, 'pid' | 'startTime'>): boolean {
  const st = procStat(saved.pid);
  return st !== undefined && st.state !== 'Z' && st.state !== 'X' && st.startTime === saved.startTime;
}

export function deriveStatus(root: string, saved: SavedState, isFrozen: () => boolean): Status {
  if (saved.pid <= 0 || !isAlive(saved)) return 'stopped';
  if (fs.existsSync(path.join(containerDir(root, saved.id), 'exec.fifo'))) return 'created';
  if (isFrozen()) return 'paused';
  return 'running';
}

export function ociState(saved: SavedState, status: Status): OciState {
  return {
    ociVersion: OCI_VERSION,
    id: saved.id,
    pid: status === 'stopped' ? 0 : saved.pid,
    status,
    bundle: saved.bundle,
    rootfs: saved.rootfs,
    created: saved.created,
    owner: '',
    ...(Object.keys(saved.annotations).length ? { annotations: saved.annotations } : {}),
  };
}

const nap = new Int32Array(new SharedArrayBuffer(4));
export function sleepMs(ms: number): void {
  Atomics.wait(nap, 0, 0, ms);
}

/** Waits (bounded) until pid is gone or a zombie, so its cgroups can be removed. */
export function waitGone(pid: number, timeoutMs = 5000): boolean {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const st = procStat(pid);
    if (!st || st.state === 'Z' || st.state === 'X') return true;
    sleepMs(5);
  }
  return false;
}

/**
 * Replaces a file atomically (temp file + rename), without fsync: state under
 * /run is tmpfs, and this avoids loading node:crypto on the CLI's hot path.
 */
export function replaceFile(file: string, data: string): void {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`);
  fs.writeFileSync(tmp, data, { mode: 0o644 });
  try {
    fs.renameSync(tmp, file);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw err;
  }
}
