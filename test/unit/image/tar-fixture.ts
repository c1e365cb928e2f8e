// Builds small tar layers in memory for unpacker tests.
import * as tar from 'tar-stream';
import * as zlib from 'node:zlib';
import { createHash } from 'node:crypto';

export interface TarEntry {
  name: string;
  type?: 'file' | 'link' | 'symlink' | 'directory' | 'character-device' | 'block-device' | 'fifo';
  content?: string;
  linkname?: string;
  mode?: number;
  uid?: number;
  gid?: number;
  mtime?: Date;
  devmajor?: number;
  devminor?: number;
  pax?: Record<string, string>;
}

export async function buildTar(entries: TarEntry[]): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  const done = (async () => {
    for await (const chunk of pack) chunks.push(chunk as Buffer);
  })();
  for (const entry of entries) {
    const header = {
      name: entry.name,
      type: entry.type ?? 'file',
      mode: entry.mode ?? (entry.type === 'directory' ? 0o755 : 0o644),
      uid: entry.uid ?? 0,
      gid: entry.gid ?? 0,
      mtime: entry.mtime ?? new Date(1_600_000_000_000),
      ...(entry.linkname !== undefined ? { linkname: entry.linkname } : {}),
      ...(entry.devmajor !== undefined ? { devmajor: entry.devmajor, devminor: entry.devminor ?? 0 } : {}),
      ...(entry.pax ? { pax: entry.pax } : {}),
    };
    await new Promise<void>((resolve, reject) => {
      pack.entry(header, entry.type === undefined || entry.type === 'file' ? (entry.content ?? '') : undefined as unknown as string, (err) => (err ? reject(err) : resolve()));
    });
  }
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

export function sha256(data: Uint8Array): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

export function gzip(data: Uint8Array): Buffer {
  return zlib.gzipSync(data);
}

export function zstd(data: Uint8Array): Buffer {
  return zlib.zstdCompressSync(data);
}
