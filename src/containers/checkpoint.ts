// Container checkpoints (KEP-2008, forensic container checkpointing) and cri-o's
// create-from-checkpoint. A checkpoint: the runtime's `checkpoint --leave-running`
// (CRIU) with the container paused, so the processes' images and the writable
// layer's files are of the same moment; then cri-o's archive at the kubelet's
// location. A restore: CreateContainer whose image is such an archive makes a
// container of the checkpoint's image with the archive's files applied to its
// writable layer; its StartContainer is conmon's --restore instead of a start.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { errors, messageOf, withContext } from '../common/errors';
import type { ContainerConfig__Output } from '../generated/runtime/v1/ContainerConfig';
import type { Mount__Output } from '../generated/runtime/v1/Mount';
import type { OciRuntime } from '../runtime/oci-runtime';
import type { OciSpec } from '../common/oci-spec';
import type { ContainerRecord } from './container';
import {
  ARCHIVE, applyRootfsDiff, extractCheckpointArchive, removeDeletedFiles, rootfsDiff, writeTar,
  type CheckpointConfigDump, type ExternalBindMount,
} from './checkpoint-archive';
import { findCriu } from './criu-binary';

export { findCriu } from './criu-binary';

/** Where a restored container's archive is unpacked until its StartContainer restores it. */
export const RESTORE_DIR = 'restore';
/** Bind mounts whose source each pod makes afresh: a restore takes the new pod's (cri-o's ignoreMounts). */
const POD_PROVIDED_MOUNTS = new Set(['/etc/resolv.conf', '/etc/hostname', '/etc/hosts', '/dev/shm', '/run/secrets', '/run/.containerenv']);
const ZERO_TIME = '0001-01-01T00:00:00Z';

export function requireCriu(): void {
  if (!findCriu()) {
    throw errors.failedPrecondition(`checkpoint and restore need CRIU, and ${process.env.CRADLE_CRIU ? `CRADLE_CRIU (${process.env.CRADLE_CRIU}) is not an executable` : 'criu was not found in PATH'}: install the criu package on this node`);
  }
}

function nanosToIso(ns: string): string {
  return ns === '0' ? ZERO_TIME : new Date(Number(BigInt(ns) / 1_000_000n)).toISOString();
}

function bindMountsOf(spec: OciSpec): { source: string; destination: string }[] {
  return (spec.mounts ?? []).filter((m) => m.type === 'bind' && m.source !== undefined).map((m) => ({ source: m.source!, destination: m.destination }));
}

export interface ExportRequest {
  container: ContainerRecord;
  runtime: OciRuntime;
  runtimeHandler: string;
  /** The archive to write (the kubelet's location). */
  location: string;
  timeoutMs: number;
}

/**
 * Checkpoints a running container into an archive at location; the container keeps
 * running. Everything but the archive is removed afterwards, on failure too.
 */
export async function exportCheckpoint(req: ExportRequest): Promise<void> {
  const c = req.container;
  const target = path.resolve(req.location);
  if (!fs.existsSync(path.dirname(target))) throw errors.invalidArgument(`location: the directory of ${JSON.stringify(req.location)} does not exist`);
  if (fs.existsSync(target) && fs.statSync(target).isDirectory()) throw errors.invalidArgument(`location: ${JSON.stringify(req.location)} is a directory; a checkpoint is a file`);
  const work = path.join(c.dir, `checkpoint-export-${randomBytes(4).toString('hex')}`);
  const partial = `${target}.${randomBytes(4).toString('hex')}.partial`;
  fs.mkdirSync(work, { mode: 0o700 });
  try {
    const spec = JSON.parse(fs.readFileSync(path.join(c.dir, 'config.json'), 'utf8')) as OciSpec;
    fs.writeFileSync(path.join(work, ARCHIVE.specDump), JSON.stringify(spec, null, 2), { mode: 0o600 });
    const config: CheckpointConfigDump = {
      id: c.id, name: c.config.metadata?.name ?? c.id,
      rootfsImage: c.image, rootfsImageRef: c.imageId, rootfsImageName: c.image,
      runtime: req.runtimeHandler, createdTime: nanosToIso(c.createdAt), checkpointedTime: new Date().toISOString(),
      restoredTime: ZERO_TIME, restored: c.restoredFrom !== undefined,
    };
    fs.writeFileSync(path.join(work, ARCHIVE.configDump), JSON.stringify(config, null, 2), { mode: 0o600 });
    const binds = bindMountsOf(spec);
    const external: ExternalBindMount[] = binds.filter((m) => fs.existsSync(m.source)).map((m) => {
      const st = fs.statSync(m.source);
      return { source: m.source, destination: m.destination, file_type: st.isDirectory() ? 'directory' : 'file', permissions: st.mode & 0o777 };
    });
    if (external.length) fs.writeFileSync(path.join(work, ARCHIVE.bindMounts), JSON.stringify(external, null, 2), { mode: 0o600 });

    // Paused across the dump and the diff: both are of the same moment (cri-o's order).
    await req.runtime.pause(c.id);
    try {
      await req.runtime.checkpoint(c.id, { imagePath: path.join(work, ARCHIVE.checkpointDir), workPath: work, leaveRunning: true, timeoutMs: req.timeoutMs });
      const diff = rootfsDiff(c.upperDir, binds.map((m) => m.destination));
      await writeTar(path.join(work, ARCHIVE.rootfsDiff), c.upperDir, diff.entries, false);
      if (diff.deleted.length) fs.writeFileSync(path.join(work, ARCHIVE.deletedFiles), JSON.stringify(diff.deleted), { mode: 0o600 });
    } finally {
      await req.runtime.resume(c.id).catch(() => undefined);
    }
    if (c.logPath && fs.existsSync(c.logPath)) fs.copyFileSync(c.logPath, path.join(work, ARCHIVE.containerLog));
    await writeTar(partial, work, [ARCHIVE.statsDump, ARCHIVE.dumpLog, ARCHIVE.checkpointDir, ARCHIVE.configDump, ARCHIVE.specDump,
      ARCHIVE.bindMounts, ARCHIVE.rootfsDiff, ARCHIVE.deletedFiles, ARCHIVE.containerLog]);
    fs.renameSync(partial, target);
  } catch (err) {
    fs.rmSync(partial, { force: true });
    // CRIU's log outlives the failure, for the operator (the error names it).
    const kept = path.join(c.dir, ARCHIVE.dumpLog);
    if (fs.existsSync(path.join(work, ARCHIVE.dumpLog))) {
      fs.renameSync(path.join(work, ARCHIVE.dumpLog), kept);
      throw withContext(err, `checkpointing container ${c.id} (CRIU's log: ${kept})`);
    }
    throw withContext(err, `checkpointing container ${c.id}`);
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

export interface CheckpointSource {
  /** The archive on this node. */
  archive: string;
  config: CheckpointConfigDump;
  spec: OciSpec;
}

/** Reads config.dump and spec.dump of an archive (nothing else is unpacked yet). */
export async function readCheckpointSource(archive: string, scratchParent: string): Promise<CheckpointSource> {
  const scratch = path.join(scratchParent, `.checkpoint-${randomBytes(6).toString('hex')}`);
  fs.mkdirSync(scratch, { recursive: true, mode: 0o700 });
  try {
    await extractCheckpointArchive(archive, scratch, [ARCHIVE.configDump, ARCHIVE.specDump]);
    const read = <T>(name: string): T => {
      try {
        return JSON.parse(fs.readFileSync(path.join(scratch, name), 'utf8')) as T;
      } catch (err) {
        throw errors.invalidArgument(`checkpoint archive ${archive}: ${name}: ${messageOf(err)}`);
      }
    };
    return { archive, config: read<CheckpointConfigDump>(ARCHIVE.configDump), spec: read<OciSpec>(ARCHIVE.specDump) };
  } catch (err) {
    if (errors.invalidArgument.is(err)) throw err;
    throw errors.invalidArgument(`checkpoint archive ${archive}: ${messageOf(err)}`);
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
}

/**
 * The configuration a restored container is made with (cri-o's CRImportCheckpoint):
 * the checkpoint's image and process, the request's metadata, labels, annotations,
 * resources and security context; every bind mount of the checkpoint (except the
 * pod's own files) must be given again by the request, with a source of this node.
 */
export function restoredConfig(source: CheckpointSource, request: ContainerConfig__Output): ContainerConfig__Output {
  if (source.spec.process?.terminal) throw errors.invalidArgument(`checkpoint archive ${source.archive}: its container had a terminal, which cradle cannot restore`);
  const image = source.config.rootfsImageName || source.config.rootfsImage || source.config.rootfsImageRef;
  if (!image) throw errors.invalidArgument(`checkpoint archive ${source.archive}: config.dump names no image`);
  const normal = (p: string): string => path.posix.normalize(p).replace(/(.)\/$/, '$1');
  const requested = new Map<string, Mount__Output>(request.mounts.map((m) => [normal(m.containerPath), m]));
  const missing = bindMountsOf(source.spec).map((m) => m.destination)
    .filter((d) => !POD_PROVIDED_MOUNTS.has(normal(d)) && !requested.has(normal(d)));
  if (missing.length) {
    throw errors.invalidArgument(`restoring ${source.archive} needs these bind mounts in config.mounts: ${missing.join(', ')}`);
  }
  const proc = source.spec.process;
  return {
    ...request,
    image: { annotations: {}, userSpecifiedImage: '', runtimeHandler: '', imageRef: '', ...request.image, image },
    command: proc?.args ?? request.command,
    args: [],
    workingDir: proc?.cwd ?? request.workingDir,
    tty: false,
  };
}

/**
 * Unpacks the archive into the new container's directory and applies its files to
 * the mounted root filesystem; returns where CRIU's images now are.
 */
export async function unpackForRestore(archive: string, dir: string, rootfs: string): Promise<string> {
  const target = path.join(dir, RESTORE_DIR);
  fs.mkdirSync(target, { mode: 0o700 });
  await extractCheckpointArchive(archive, target);
  const images = path.join(target, ARCHIVE.checkpointDir);
  if (!fs.existsSync(path.join(images, 'inventory.img'))) throw errors.invalidArgument(`checkpoint archive ${archive} holds no CRIU images (checkpoint/inventory.img)`);
  const diff = path.join(target, ARCHIVE.rootfsDiff);
  if (fs.existsSync(diff)) await applyRootfsDiff(diff, rootfs);
  const deleted = path.join(target, ARCHIVE.deletedFiles);
  if (fs.existsSync(deleted)) {
    const list = JSON.parse(fs.readFileSync(deleted, 'utf8')) as unknown;
    if (!Array.isArray(list) || !list.every((p) => typeof p === 'string')) throw errors.invalidArgument(`checkpoint archive ${archive}: ${ARCHIVE.deletedFiles} is not a list of paths`);
    removeDeletedFiles(rootfs, list as string[]);
  }
  return images;
}

/** The checkpointed container's log, put where the restored container logs (cri-o does so): its history continues. */
export function carryOverLog(dir: string, logPath: string): void {
  const archived = path.join(dir, RESTORE_DIR, ARCHIVE.containerLog);
  if (logPath && fs.existsSync(archived) && !fs.existsSync(logPath)) fs.copyFileSync(archived, logPath);
}
