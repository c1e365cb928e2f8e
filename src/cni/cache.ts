// The attachment cache (libcni's /var/lib/cni/results, under cradle's own dir).
// One file per (network, container, interface) holds what DEL needs when nothing
// else is left: the network list as it was at ADD time, CNI_ARGS, runtimeConfig and
// the result. It is written *before* ADD (state "adding") and completed after, so
// an ADD interrupted by a crash is still torn down by DEL or GC after a restart.
// Atomic but not fsynced (as libcni's cache): a restart of cradled reads it from the
// page cache, and the plugins' own IPAM files, which it mirrors, are not fsynced either.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { removeInterruptedWrites, writeFileAtomic } from '../common/atomic-file';
import { errnoOf } from '../common/errors';
import type { CapabilityArgs, JsonObject } from './types';

const KIND = 'cradle-cni-attachment/v1';

export interface CachedAttachment {
  containerId: string;
  ifName: string;
  networkName: string;
  /** Netns path given at ADD time. */
  netns: string;
  /** The network list JSON used for ADD. */
  config: JsonObject;
  cniArgs: Array<[string, string]>;
  capabilityArgs: CapabilityArgs;
  /** 'adding' until ADD returned; then 'added' with the result (in the list's version). */
  state: 'adding' | 'added';
  result: JsonObject | null;
}

export class AttachmentCache {
  readonly dir: string;

  constructor(cacheDir: string) {
    this.dir = path.join(cacheDir, 'results');
  }

  private file(networkName: string, containerId: string, ifName: string): string {
    return path.join(this.dir, `${networkName}-${containerId}-${ifName}`);
  }

  async write(entry: CachedAttachment): Promise<void> {
    await fs.promises.mkdir(this.dir, { recursive: true, mode: 0o700 });
    await writeFileAtomic(this.file(entry.networkName, entry.containerId, entry.ifName),
      JSON.stringify({ kind: KIND, ...entry }), { mode: 0o600, durable: false });
  }

  async remove(networkName: string, containerId: string, ifName: string): Promise<void> {
    await fs.promises.rm(this.file(networkName, containerId, ifName), { force: true });
  }

  /** Startup only: drops temp files of cache writes a crash interrupted. */
  async removeInterruptedWrites(): Promise<string[]> {
    return removeInterruptedWrites(this.dir);
  }

  /** Every readable entry; unreadable files are returned in `broken` so callers can log them. */
  async list(): Promise<{ entries: CachedAttachment[]; broken: string[] }> {
    let names: string[];
    try {
      names = await fs.promises.readdir(this.dir);
    } catch (err) {
      if (errnoOf(err) === 'ENOENT') return { entries: [], broken: [] };
      throw err;
    }
    const entries: CachedAttachment[] = [];
    const broken: string[] = [];
    for (const name of names.sort()) {
      if (name.startsWith('.')) continue; // atomic-write temp files
      const file = path.join(this.dir, name);
      try {
        const value = JSON.parse(await fs.promises.readFile(file, 'utf8')) as JsonObject;
        if (value.kind !== KIND || typeof value.containerId !== 'string' || typeof value.networkName !== 'string'
          || typeof value.ifName !== 'string' || typeof value.config !== 'object' || value.config === null) {
          broken.push(file);
          continue;
        }
        entries.push(value as unknown as CachedAttachment);
      } catch (err) {
        if (errnoOf(err) !== 'ENOENT') broken.push(file);
      }
    }
    return { entries, broken };
  }

  async forContainer(containerId: string): Promise<CachedAttachment[]> {
    return (await this.list()).entries.filter((e) => e.containerId === containerId);
  }
}
