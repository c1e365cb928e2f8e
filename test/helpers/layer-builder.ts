// Builds image layer blobs from a list of entries: tar (tar-stream) → optional
// gzip/zstd → digests. It never sanitises: names such as `../x`, `/abs` or
// `a/../../b`, links pointing anywhere and entries placed "through" symlinks are
// written byte for byte, so the same code builds honest and hostile layers.

import * as zlib from 'node:zlib';
import * as tar from 'tar-stream';
import { sha256Digest } from './registry-client';

export type Compression = 'gzip' | 'zstd' | 'none';

/** A tar-stream header (all fields but name optional) with PAX records. */
export type RawTarHeader = Partial<Omit<tar.Header, 'pax'>> & { name: string; pax?: Record<string, string> };

/** Default mtime of every entry: fixed, so identical specs give identical digests. */
export const FIXED_MTIME = new Date('2024-01-01T00:00:00Z');

/** Ownership, permissions and times common to all typed entries. */
export interface EntryMeta {
  /** Permission bits incl. setuid/setgid/sticky (0o7777); type bits are ignored. */
  mode?: number;
  uid?: number;
  gid?: number;
  uname?: string;
  gname?: string;
  /** Date, or seconds since the epoch. Default FIXED_MTIME. */
  mtime?: Date | number;
  /** Extra PAX records, e.g. `{ 'SCHILY.xattr.user.k': 'v' }`. */
  pax?: Record<string, string>;
}

/**
 * One tar entry. `path` is written verbatim (no `./` prefix is added or
 * removed); only `dir` gets a trailing `/` when it has none, as tar does.
 */
export type LayerEntry =
  | ({ type: 'file'; path: string; content?: string | Uint8Array } & EntryMeta)
  | ({ type: 'dir'; path: string } & EntryMeta)
  | ({ type: 'symlink'; path: string; target: string } & EntryMeta)
  /** Hard link; `target` is the archive name of the earlier entry (e.g. `bin/busybox`). */
  | ({ type: 'hardlink'; path: string; target: string } & EntryMeta)
  /** Deletes `path` of lower layers: written as `<dir>/.wh.<name>`. */
  | ({ type: 'whiteout'; path: string } & EntryMeta)
  /** Hides everything lower layers put in directory `path`: `<path>/.wh..wh..opq`. */
  | ({ type: 'opaque'; path: string } & EntryMeta)
  | ({ type: 'char-device' | 'block-device'; path: string; major: number; minor: number } & EntryMeta)
  | ({ type: 'fifo'; path: string } & EntryMeta)
  /** Anything at all: the header goes to tar-stream as given (mode 0 is kept as 0). */
  | { type: 'raw'; header: RawTarHeader; content?: string | Uint8Array };

/** Terse constructors for entries. */
export const entry = {
  file: (path: string, content: string | Uint8Array = '', meta: EntryMeta = {}): LayerEntry => ({ type: 'file', path, content, ...meta }),
  dir: (path: string, meta: EntryMeta = {}): LayerEntry => ({ type: 'dir', path, ...meta }),
  symlink: (path: string, target: string, meta: EntryMeta = {}): LayerEntry => ({ type: 'symlink', path, target, ...meta }),
  hardlink: (path: string, target: string, meta: EntryMeta = {}): LayerEntry => ({ type: 'hardlink', path, target, ...meta }),
  whiteout: (path: string, meta: EntryMeta = {}): LayerEntry => ({ type: 'whiteout', path, ...meta }),
  opaque: (dirPath: string, meta: EntryMeta = {}): LayerEntry => ({ type: 'opaque', path: dirPath, ...meta }),
  charDevice: (path: string, major: number, minor: number, meta: EntryMeta = {}): LayerEntry => ({ type: 'char-device', path, major, minor, ...meta }),
  blockDevice: (path: string, major: number, minor: number, meta: EntryMeta = {}): LayerEntry => ({ type: 'block-device', path, major, minor, ...meta }),
  fifo: (path: string, meta: EntryMeta = {}): LayerEntry => ({ type: 'fifo', path, ...meta }),
  raw: (header: RawTarHeader, content?: string | Uint8Array): LayerEntry => (content === undefined ? { type: 'raw', header } : { type: 'raw', header, content }),
};

export const WHITEOUT_PREFIX = '.wh.';
export const OPAQUE_WHITEOUT = '.wh..wh..opq';

function whiteoutName(path: string): string {
  const trimmed = path.replace(/\/+$/, '');
  const slash = trimmed.lastIndexOf('/');
  return slash < 0 ? `${WHITEOUT_PREFIX}${trimmed}` : `${trimmed.slice(0, slash + 1)}${WHITEOUT_PREFIX}${trimmed.slice(slash + 1)}`;
}

// tar-stream replaces a falsy mode with 0644/0755; any bit above 0o7777 keeps
// it truthy and is masked off when the header is encoded.
const KEEP_MODE = 0o100000;
const MAX_OCTAL_ID = 0o777777; // tar-stream writes ids as 6 octal digits

function toHeader(e: Exclude<LayerEntry, { type: 'raw' }>): RawTarHeader {
  const mtime = e.mtime === undefined ? FIXED_MTIME : typeof e.mtime === 'number' ? new Date(e.mtime * 1000) : e.mtime;
  const defaultMode = e.type === 'dir' ? 0o755 : e.type === 'symlink' ? 0o777 : e.type === 'char-device' || e.type === 'block-device' ? 0o666 : 0o644;
  const uid = e.uid ?? 0;
  const gid = e.gid ?? 0;
  const pax: Record<string, string> = { ...e.pax };
  // Larger ids (user namespaces) go in PAX records, as GNU tar and Go do.
  if (uid > MAX_OCTAL_ID) pax.uid = String(uid);
  if (gid > MAX_OCTAL_ID) pax.gid = String(gid);
  const header: RawTarHeader = {
    name: e.path,
    mode: ((e.mode ?? defaultMode) & 0o7777) | KEEP_MODE,
    uid,
    gid,
    mtime,
  };
  if (e.uname !== undefined) header.uname = e.uname;
  if (e.gname !== undefined) header.gname = e.gname;
  if (Object.keys(pax).length > 0) header.pax = pax;
  switch (e.type) {
    case 'file':
      header.type = 'file';
      break;
    case 'dir':
      header.type = 'directory';
      if (!header.name.endsWith('/')) header.name += '/';
      break;
    case 'symlink':
      header.type = 'symlink';
      header.linkname = e.target;
      break;
    case 'hardlink':
      header.type = 'link';
      header.linkname = e.target;
      break;
    case 'whiteout':
      header.type = 'file';
      header.name = whiteoutName(e.path);
      break;
    case 'opaque':
      header.type = 'file';
      header.name = e.path === '' || e.path.endsWith('/') ? `${e.path}${OPAQUE_WHITEOUT}` : `${e.path}/${OPAQUE_WHITEOUT}`;
      break;
    case 'char-device':
    case 'block-device':
      header.type = e.type === 'char-device' ? 'character-device' : 'block-device';
      header.devmajor = e.major;
      header.devminor = e.minor;
      break;
    case 'fifo':
      header.type = 'fifo';
      break;
  }
  return header;
}

function toBuffer(content: string | Uint8Array | undefined): Buffer {
  if (content === undefined) return Buffer.alloc(0);
  return typeof content === 'string' ? Buffer.from(content, 'utf8') : Buffer.from(content.buffer, content.byteOffset, content.byteLength);
}

/** The uncompressed tar of a layer, entries in the given order. */
export async function buildLayerTar(entries: readonly LayerEntry[]): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  const collected = (async () => {
    for await (const chunk of pack) chunks.push(Buffer.from(chunk as Uint8Array));
  })();
  for (const e of entries) {
    if (e.type === 'raw') {
      const header: RawTarHeader = { ...e.header };
      if (header.mode === 0) header.mode = KEEP_MODE;
      if (header.mtime === undefined) header.mtime = FIXED_MTIME;
      await addEntry(pack, header, toBuffer(e.content));
    } else {
      await addEntry(pack, toHeader(e), e.type === 'file' ? toBuffer(e.content) : Buffer.alloc(0));
    }
  }
  pack.finalize();
  await collected;
  return Buffer.concat(chunks);
}

function addEntry(pack: tar.Pack, header: RawTarHeader, body: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    pack.entry(header, body, (err) => (err ? reject(err) : resolve()));
  });
}

/** Whether this Node's zlib can write zstd (Node ≥ 22.15 / 23.8). */
export const ZSTD_AVAILABLE = typeof (zlib as { zstdCompressSync?: unknown }).zstdCompressSync === 'function';

export function compress(data: Buffer, compression: Compression): Buffer {
  switch (compression) {
    case 'none':
      return data;
    case 'gzip':
      // Node writes mtime 0 in the gzip header: output is deterministic.
      return zlib.gzipSync(data, { level: 6 });
    case 'zstd':
      if (!ZSTD_AVAILABLE) throw new Error('this Node has no zlib.zstdCompressSync; use gzip');
      return zlib.zstdCompressSync(data);
  }
}

export function decompress(data: Buffer, compression: Compression): Buffer {
  switch (compression) {
    case 'none':
      return data;
    case 'gzip':
      return zlib.gunzipSync(data);
    case 'zstd':
      return zlib.zstdDecompressSync(data);
  }
}

/** Guesses the compression of a blob from its magic bytes. */
export function detectCompression(blob: Uint8Array): Compression {
  if (blob[0] === 0x1f && blob[1] === 0x8b) return 'gzip';
  if (blob[0] === 0x28 && blob[1] === 0xb5 && blob[2] === 0x2f && blob[3] === 0xfd) return 'zstd';
  return 'none';
}

export interface BuiltLayer {
  compression: Compression;
  /** The blob as stored in the registry (compressed). Shared with a cache: do not modify. */
  blob: Buffer;
  /** sha256 of blob: the manifest's layer digest. */
  digest: string;
  /** sha256 of the uncompressed tar: the config's rootfs.diff_ids entry. */
  diffId: string;
  size: number;
}

// Compression is deterministic, so blobs can be reused by (compression, diff_id):
// every busybox-based image shares the ~1 MB gzip of the same rootfs tar.
const blobCache = new Map<string, Buffer>();
const BLOB_CACHE_MAX = 32;

export async function buildLayer(entries: readonly LayerEntry[], compression: Compression = 'gzip'): Promise<BuiltLayer> {
  const tarball = await buildLayerTar(entries);
  const diffId = sha256Digest(tarball);
  const key = `${compression}:${diffId}`;
  let blob = blobCache.get(key);
  if (!blob) {
    blob = compress(tarball, compression);
    if (blobCache.size >= BLOB_CACHE_MAX) blobCache.delete(blobCache.keys().next().value as string);
    blobCache.set(key, blob);
  }
  return { compression, blob, digest: sha256Digest(blob), diffId, size: blob.byteLength };
}

/** One parsed tar entry, as a test sees it when checking a layer. */
export interface ReadEntry {
  header: RawTarHeader;
  content: Buffer;
}

/** Reads a (possibly compressed) layer back; names are reported verbatim. */
export async function readLayer(blob: Buffer): Promise<ReadEntry[]> {
  const tarball = decompress(blob, detectCompression(blob));
  const extract = tar.extract();
  const out: ReadEntry[] = [];
  const done = (async () => {
    for await (const ent of extract) {
      const chunks: Buffer[] = [];
      for await (const chunk of ent) chunks.push(Buffer.from(chunk as Uint8Array));
      const header = ent.header as RawTarHeader;
      // tar-stream applies PAX path/linkpath/size but not uid/gid.
      if (header.pax?.uid) header.uid = Number(header.pax.uid);
      if (header.pax?.gid) header.gid = Number(header.pax.gid);
      out.push({ header, content: Buffer.concat(chunks) });
    }
  })();
  extract.end(tarball);
  await done;
  return out;
}
