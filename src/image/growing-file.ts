// A layer unpacked while it downloads (pull worker side): the daemon writes the
// blob into its partial file and reports how many bytes from the start are
// written; the worker reads the file up to that point only, hashing the
// compressed bytes (the blob digest) as they pass into decompression, the diff ID
// hash and the tar writer. Nothing here decides that the layer is good: the
// daemon commits it only once the blob digest and the diff ID both matched.
import * as fs from 'node:fs';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { sniffCompression, unpackLayerStream, type UnpackOptions, type UnpackResult } from './unpack';

const READ_BYTES = 1 << 20;

export interface GrowingUnpackResult extends UnpackResult {
  /** Hex digest of the blob's bytes as read (compressed). */
  blobHex: string;
}

/** A file another thread is still writing from its start up to `size` bytes. */
export class GrowingFile {
  private written = 0;
  private wake: (() => void) | undefined;

  constructor(readonly path: string, readonly size: number) {}

  /** The writer has written `bytes` from the start (reports only grow). */
  advance(bytes: number): void {
    if (bytes <= this.written) return;
    this.written = Math.min(bytes, this.size);
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  /** Resolves once more than `position` bytes are written (or the whole file is). */
  private async writtenPast(position: number): Promise<void> {
    while (this.written <= position && this.written < this.size) await new Promise<void>((resolve) => (this.wake = resolve));
  }

  /** The file's bytes from `start` to its full size, each chunk read only once written. */
  async *chunks(start = 0): AsyncGenerator<Buffer> {
    const handle = await fs.promises.open(this.path, 'r');
    try {
      let position = start;
      while (position < this.size) {
        await this.writtenPast(position);
        const length = Math.min(this.written - position, READ_BYTES);
        const buffer = Buffer.allocUnsafe(length);
        const { bytesRead } = await handle.read(buffer, 0, length, position);
        // The daemon empties the file only after cancelling this job; a short read is a bug, not data.
        if (bytesRead === 0) throw new Error(`${this.path}: ended at ${position} of ${this.written} written bytes`);
        position += bytesRead;
        yield buffer.subarray(0, bytesRead);
      }
    } finally {
      await handle.close();
    }
  }

  /** The first bytes (compression magic), waiting until they are written. */
  async head(length: number): Promise<Buffer> {
    const want = Math.min(length, this.size);
    await this.writtenPast(want - 1);
    const handle = await fs.promises.open(this.path, 'r');
    try {
      const buffer = Buffer.alloc(want);
      const { bytesRead } = await handle.read(buffer, 0, want, 0);
      return buffer.subarray(0, bytesRead);
    } finally {
      await handle.close();
    }
  }
}

/** Unpacks the growing blob into dest (an existing empty directory), hashing every byte of it with `algorithm`. */
export async function unpackGrowingFile(file: GrowingFile, algorithm: string, dest: string, options: UnpackOptions): Promise<GrowingUnpackResult> {
  const blobHash = createHash(algorithm);
  let read = 0;
  const hashed = async function* (chunks: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
    for await (const chunk of chunks) {
      blobHash.update(chunk);
      read += chunk.length;
      yield chunk;
    }
  };
  const compression = sniffCompression(await file.head(4));
  const result = await unpackLayerStream(Readable.from(hashed(file.chunks())), compression, dest, options);
  // The tar (or the compressed stream) may end before the blob does: padding still counts for the digest.
  for await (const chunk of file.chunks(read)) blobHash.update(chunk);
  return { ...result, blobHex: blobHash.digest('hex') };
}
