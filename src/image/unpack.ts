// Layer unpacking: compressed blob → decompress → hash (diff ID) → untar → files in
// one layer directory, in overlayfs form (OCI whiteouts become character devices
// 0/0 and opaque directories get trusted.overlay.opaque=y).
//
// Layers are hostile input. Every path is resolved component by component with
// lstat inside the layer directory, as securejoin does: symlinks met on the way are
// followed only within the layer root (an absolute target restarts at the root, ".."
// stops at it), the final component is never followed, entry names with ".." are
// rejected, hard links may only point at files already in this layer, and a later
// duplicate entry replaces the earlier one (unlinking it first, never writing
// through it). Nothing the layer contains can make a write land outside `dest`.
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { createHash } from 'node:crypto';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import * as tar from 'tar-stream';
import { errors, errnoOf, messageOf, isCradleError, withContext } from '../common/errors';
import { lsetxattr } from '../sys/xattr';
import { mknod, S_IFCHR, S_IFBLK, S_IFIFO } from '../sys/mknod';
import { startWriteback } from '../sys/writeback';

/**
 * tar-stream decodes PAX record values as UTF-8, which mangles binary xattr
 * values such as security.capability (GNU tar and Go write them raw). Its PAX
 * decoder is wrapped once so that the raw bytes of SCHILY.xattr.* records ride
 * along under a symbol key: string keys, and so every other reader, see exactly
 * what tar-stream produced before.
 */
const RAW_XATTRS = Symbol.for('cradle.tar.rawXattrValues');
type PaxRecords = Record<string, string> & { [RAW_XATTRS]?: Record<string, Buffer> };

function captureRawPaxXattrs(): boolean {
  const file = path.join(path.dirname(require.resolve('tar-stream')), 'headers.js');
  const headers = require(file) as { decodePax?: ((buf: Buffer) => PaxRecords) & { cradleRaw?: boolean } };
  const original = headers.decodePax;
  if (typeof original !== 'function') return false;
  if (original.cradleRaw) return true;
  const wrapped = Object.assign((buf: Buffer): PaxRecords => {
    const result = original(buf);
    const raw: Record<string, Buffer> = {};
    let rest = buf;
    while (rest.length > 0) {
      const space = rest.indexOf(0x20);
      const length = space > 0 ? parseInt(rest.subarray(0, space).toString(), 10) : NaN;
      if (!(length > space + 1) || length > rest.length) break;
      const record = rest.subarray(space + 1, length - 1);
      const equals = record.indexOf(0x3d);
      if (equals > 0) {
        const key = record.subarray(0, equals).toString();
        if (key.startsWith('SCHILY.xattr.')) raw[key] = Buffer.from(record.subarray(equals + 1));
      }
      rest = rest.subarray(length);
    }
    if (Object.keys(raw).length > 0) result[RAW_XATTRS] = raw;
    return result;
  }, { cradleRaw: true });
  headers.decodePax = wrapped;
  return true;
}

const RAW_XATTRS_AVAILABLE = captureRawPaxXattrs();

export const WHITEOUT_PREFIX = '.wh.';
export const OPAQUE_WHITEOUT = '.wh..wh..opq';
export const OVERLAY_OPAQUE_XATTR = 'trusted.overlay.opaque';
const MAX_SYMLINK_HOPS = 40;
const DECOMPRESSED_CHUNK_BYTES = 1 << 20;

/** Where the unpacker reports entries it skips (a pino logger, or a worker's relay). */
export interface UnpackLog {
  warn(fields: object, msg: string): void;
}

export interface UnpackOptions {
  /** Names the layer in errors (its blob digest). */
  layer: string;
  /** The config's rootfs.diff_ids entry; the uncompressed stream must hash to it. */
  expectedDiffId?: string;
  signal?: AbortSignal;
  log?: UnpackLog;
}

export interface UnpackResult {
  /** sha256 of the uncompressed tar stream. */
  diffId: string;
  /** Entries written (whiteouts included). */
  entries: number;
  /** Bytes of regular file content written. */
  contentBytes: number;
}

export type Compression = 'gzip' | 'zstd' | 'none';

/** Detects compression from the first bytes (media types are sometimes wrong). */
export function sniffCompression(head: Uint8Array): Compression {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (head.length >= 4 && head[0] === 0x28 && head[1] === 0xb5 && head[2] === 0x2f && head[3] === 0xfd) return 'zstd';
  return 'none';
}

/** Unpacks a layer blob file into dest, which must be an existing empty directory. */
export async function unpackLayerFile(blobPath: string, dest: string, options: UnpackOptions): Promise<UnpackResult> {
  const head = Buffer.alloc(4);
  const fd = await fs.promises.open(blobPath, 'r');
  let got = 0;
  try {
    got = (await fd.read(head, 0, 4, 0)).bytesRead;
  } finally {
    await fd.close();
  }
  const compression = sniffCompression(head.subarray(0, got));
  return unpackLayerStream(fs.createReadStream(blobPath, { highWaterMark: 1 << 20 }), compression, dest, options);
}

export async function unpackLayerStream(source: Readable, compression: Compression, dest: string, options: UnpackOptions): Promise<UnpackResult> {
  const hash = createHash('sha256');
  const tap = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      hash.update(chunk);
      callback(null, chunk);
    },
  });
  const writer = new LayerWriter(dest, options);
  const extract = tar.extract();
  const stages: NodeJS.ReadWriteStream[] = [];
  // Large output chunks: every chunk becomes a file write of its own, and zlib's default 16 KiB makes many.
  if (compression === 'gzip') stages.push(zlib.createGunzip({ chunkSize: DECOMPRESSED_CHUNK_BYTES }));
  else if (compression === 'zstd') stages.push(zlib.createZstdDecompress({ chunkSize: DECOMPRESSED_CHUNK_BYTES }));
  const feeding = pipeline([source, ...stages, tap, extract], options.signal ? { signal: options.signal } : {});
  // It may fail while an entry is still being written; the failure is read below.
  feeding.catch(() => undefined);
  let failure: unknown;
  try {
    for await (const entry of extract) {
      try {
        await writer.write(entry.header, entry);
      } catch (err) {
        if (isCradleError(err)) throw err;
        throw withContext(err, `layer ${options.layer}: writing entry ${JSON.stringify(entry.header.name)}`);
      } finally {
        entry.resume();
      }
    }
  } catch (err) {
    failure = err;
    source.destroy();
  }
  try {
    await feeding;
  } catch (err) {
    failure ??= err;
  }
  if (failure !== undefined) {
    if (isCradleError(failure)) throw failure;
    if (options.signal?.aborted) throw errors.cancelled(`unpacking layer ${options.layer}: cancelled`);
    throw errors.invalidArgument(`layer ${options.layer}: not a valid ${compression === 'none' ? '' : compression + ' compressed '}tar stream: ${messageOf(failure)}`);
  }
  await writer.finish();
  const diffId = `sha256:${hash.digest('hex')}`;
  if (options.expectedDiffId !== undefined && options.expectedDiffId !== diffId) {
    throw errors.digestMismatch(`layer ${options.layer} (uncompressed content, diff_id)`, options.expectedDiffId, diffId);
  }
  return { diffId, entries: writer.entries, contentBytes: writer.contentBytes };
}

type Header = tar.Header;

/** Writes tar entries into one layer directory, containing every path in it. */
export class LayerWriter {
  entries = 0;
  contentBytes = 0;
  private readonly root: string;
  private readonly directories: { path: string; mtime: Date }[] = [];

  constructor(root: string, private readonly options: UnpackOptions) {
    this.root = path.resolve(root);
  }

  private hostile(entry: string, problem: string): Error {
    return errors.hostileLayer(this.options.layer, entry, problem);
  }

  /** Splits an entry name into clean components; ".." anywhere is hostile. */
  entryComponents(name: string): string[] {
    if (name.includes('\0')) throw this.hostile(name, 'name contains a NUL byte');
    const components = name.split('/').filter((part) => part !== '' && part !== '.');
    if (components.includes('..')) throw this.hostile(name, 'path contains ".." and would escape the layer');
    return components;
  }

  /**
   * Resolves components to a path inside the root, following symlinks already in
   * the layer only within the root. Missing directories are created when asked.
   */
  async resolveInRoot(entry: string, components: string[], createMissing: boolean): Promise<string> {
    const resolved: string[] = [];
    const queue = [...components];
    let hops = 0;
    while (queue.length > 0) {
      const part = queue.shift()!;
      if (part === '' || part === '.') continue;
      if (part === '..') {
        resolved.pop();
        continue;
      }
      const candidate = path.join(this.root, ...resolved, part);
      const stat = await lstatOrUndefined(candidate);
      if (stat === undefined) {
        if (!createMissing) throw this.hostile(entry, `${path.join(...resolved, part)} does not exist in the layer`);
        await fs.promises.mkdir(candidate, { mode: 0o755 });
        resolved.push(part);
        continue;
      }
      if (stat.isSymbolicLink()) {
        if (++hops > MAX_SYMLINK_HOPS) throw this.hostile(entry, 'too many levels of symbolic links');
        const target = await fs.promises.readlink(candidate);
        if (target.startsWith('/')) resolved.length = 0;
        queue.unshift(...target.split('/'));
        continue;
      }
      if (!stat.isDirectory()) {
        // A whiteout made earlier in this layer may be followed by new content under that name.
        if (createMissing && stat.isCharacterDevice() && stat.rdev === 0) {
          await fs.promises.unlink(candidate);
          await fs.promises.mkdir(candidate, { mode: 0o755 });
          resolved.push(part);
          continue;
        }
        throw this.hostile(entry, `${path.join(...resolved, part)} is not a directory`);
      }
      resolved.push(part);
    }
    const result = path.join(this.root, ...resolved);
    // Belt and braces: the walk above cannot leave the root.
    if (result !== this.root && !result.startsWith(this.root + path.sep)) throw this.hostile(entry, 'path escapes the layer');
    return result;
  }

  async write(header: Header, content: AsyncIterable<unknown>): Promise<void> {
    if (this.options.signal?.aborted) throw errors.cancelled(`unpacking layer ${this.options.layer}: cancelled`);
    const name = header.name;
    const components = this.entryComponents(name);
    if (components.length === 0) return; // the root itself ("./"): the layer dir keeps its own metadata
    const base = components[components.length - 1]!;
    const parent = await this.resolveInRoot(name, components.slice(0, -1), true);
    const target = path.join(parent, base);
    this.entries++;

    if (base === OPAQUE_WHITEOUT) {
      lsetxattr(parent, OVERLAY_OPAQUE_XATTR, 'y');
      return;
    }
    if (base.startsWith(WHITEOUT_PREFIX)) {
      const hidden = base.slice(WHITEOUT_PREFIX.length);
      if (hidden === '' || hidden === '.' || hidden === '..') throw this.hostile(name, 'whiteout names no file');
      const hiddenPath = path.join(parent, hidden);
      // A file of the same layer wins over its whiteout (whiteouts apply to lower layers only).
      if (await lstatOrUndefined(hiddenPath)) return;
      mknod(hiddenPath, S_IFCHR | 0o000, 0, 0);
      return;
    }

    const type = header.type ?? 'file';
    const existing = await lstatOrUndefined(target);
    if (existing) {
      if (existing.isDirectory() && type === 'directory') {
        await this.applyMetadata(target, header, true);
        return;
      }
      // A later duplicate replaces the earlier entry; never write through it.
      await fs.promises.rm(target, { recursive: true, force: true });
    }

    const mode = (header.mode ?? 0o644) & 0o7777;
    switch (type) {
      case 'directory':
        await fs.promises.mkdir(target, { mode: 0o700 });
        await this.applyMetadata(target, header, true);
        return;
      case 'file':
      case 'contiguous-file':
        await this.writeFile(target, content);
        await this.applyMetadata(target, header, false);
        return;
      case 'symlink':
        if (!header.linkname) throw this.hostile(name, 'symlink without a target');
        await fs.promises.symlink(header.linkname, target);
        await this.applyMetadata(target, header, false, true);
        return;
      case 'link': {
        if (!header.linkname) throw this.hostile(name, 'hard link without a target');
        const linkComponents = this.entryComponents(header.linkname);
        if (linkComponents.length === 0) throw this.hostile(name, 'hard link to the layer root');
        let source: string | undefined;
        try {
          const linkParent = await this.resolveInRoot(name, linkComponents.slice(0, -1), false);
          source = path.join(linkParent, linkComponents[linkComponents.length - 1]!);
        } catch (err) {
          if (!errors.hostileLayer.is(err)) throw err;
        }
        const stat = source === undefined ? undefined : await lstatOrUndefined(source);
        if (!stat || source === undefined) throw this.hostile(name, `hard link target ${JSON.stringify(header.linkname)} is not in this layer`);
        if (stat.isDirectory()) throw this.hostile(name, `hard link target ${JSON.stringify(header.linkname)} is a directory`);
        await fs.promises.link(source, target);
        return;
      }
      case 'character-device':
      case 'block-device':
        mknod(target, (type === 'character-device' ? S_IFCHR : S_IFBLK) | 0o600, header.devmajor ?? 0, header.devminor ?? 0);
        await this.applyMetadata(target, header, false);
        return;
      case 'fifo':
        mknod(target, S_IFIFO | 0o600, 0, 0);
        await this.applyMetadata(target, header, false);
        return;
      default:
        this.entries--;
        this.options.log?.warn({ layer: this.options.layer, entry: name, type, mode }, 'skipping tar entry of unsupported type');
    }
  }

  private async writeFile(target: string, content: AsyncIterable<unknown>): Promise<void> {
    const flags = fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW;
    const handle = await fs.promises.open(target, flags, 0o600);
    try {
      for await (const chunk of content) {
        const buffer = chunk as Buffer;
        let offset = 0;
        while (offset < buffer.length) {
          const { bytesWritten } = await handle.write(buffer, offset, buffer.length - offset);
          offset += bytesWritten;
        }
        this.contentBytes += buffer.length;
      }
      startWriteback(handle.fd, 0, 0);
    } finally {
      await handle.close();
    }
  }

  /** Ownership first (chown clears setuid), then mode, xattrs and times. */
  private async applyMetadata(target: string, header: Header, isDirectory: boolean, isSymlink = false): Promise<void> {
    await fs.promises.lchown(target, header.uid ?? 0, header.gid ?? 0);
    if (!isSymlink) await fs.promises.chmod(target, (header.mode ?? (isDirectory ? 0o755 : 0o644)) & 0o7777);
    this.applyXattrs(target, header);
    const mtime = header.mtime ?? new Date(0);
    if (isDirectory) this.directories.push({ path: target, mtime });
    else await fs.promises.lutimes(target, mtime, mtime);
  }

  private applyXattrs(target: string, header: Header): void {
    const pax = (header as { pax?: PaxRecords | null }).pax;
    if (!pax) return;
    const raw = pax[RAW_XATTRS];
    for (const [key, value] of Object.entries(pax)) {
      let name: string;
      let data: Buffer;
      const rawValue = raw?.[key];
      if (key.startsWith('SCHILY.xattr.') && rawValue) {
        name = key.slice('SCHILY.xattr.'.length);
        data = rawValue;
      } else if (key.startsWith('SCHILY.xattr.')) {
        name = key.slice('SCHILY.xattr.'.length);
        // Without the raw capture a binary value would arrive mangled.
        if (!RAW_XATTRS_AVAILABLE && value.includes('\uFFFD')) {
          this.options.log?.warn({ layer: this.options.layer, entry: header.name, xattr: name }, 'skipping binary xattr that the tar decoder mangled');
          continue;
        }
        data = Buffer.from(value, 'utf8');
      } else if (key.startsWith('LIBARCHIVE.xattr.')) {
        name = decodeURIComponent(key.slice('LIBARCHIVE.xattr.'.length));
        data = Buffer.from(value, 'base64');
      } else {
        continue;
      }
      // A layer must not forge overlayfs metadata (opaque dirs, redirects, metacopy).
      if (name.startsWith('trusted.overlay.') || name.startsWith('user.overlay.')) {
        throw this.hostile(header.name, `sets the overlayfs xattr ${name}`);
      }
      try {
        lsetxattr(target, name, data);
      } catch (err) {
        this.options.log?.warn({ layer: this.options.layer, entry: header.name, xattr: name, err: messageOf(err) }, 'could not set xattr');
      }
    }
  }

  /** Directory mtimes last, deepest first, once nothing more is written inside them. */
  async finish(): Promise<void> {
    this.directories.sort((a, b) => b.path.length - a.path.length);
    for (const dir of this.directories) {
      // lutimes: a later entry may have replaced the directory with a symlink.
      const stat = await lstatOrUndefined(dir.path);
      if (stat?.isDirectory()) await fs.promises.lutimes(dir.path, dir.mtime, dir.mtime);
    }
  }
}

async function lstatOrUndefined(file: string): Promise<fs.Stats | undefined> {
  try {
    return await fs.promises.lstat(file);
  } catch (err) {
    if (errnoOf(err) === 'ENOENT') return undefined;
    throw err;
  }
}
