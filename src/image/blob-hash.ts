// Digest of a file's content, read in large chunks (blob verification).
import * as fs from 'node:fs';
import { createHash } from 'node:crypto';

/** Hex digest of the whole file with a node:crypto algorithm name ("sha256"). */
export async function hashFile(file: string, algorithm: string): Promise<string> {
  const hash = createHash(algorithm);
  for await (const chunk of fs.createReadStream(file, { highWaterMark: 1 << 20 })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}
