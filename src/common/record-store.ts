// Persistent records, one JSON file per object, written atomically, so a crash at
// any moment leaves either the old or the new record. Used for pod sandbox and
// container state that must survive restarts of cradled.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { removeInterruptedWrites, writeFileAtomic } from './atomic-file';
import type { Logger } from './logger';
import { messageOf } from './errors';

export class RecordStore<T extends { id: string }> {
  constructor(private readonly dir: string, private readonly log?: Logger) {}

  private file(id: string): string {
    if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(id)) throw new Error(`invalid record id ${JSON.stringify(id)}`);
    return path.join(this.dir, `${id}.json`);
  }

  async save(record: T): Promise<void> {
    await fs.promises.mkdir(this.dir, { recursive: true, mode: 0o700 });
    await writeFileAtomic(this.file(record.id), JSON.stringify(record, null, 1) + '\n', { mode: 0o600 });
  }

  /**
   * Changes a live record as containerd's UpdateSync does: the change is made on a
   * copy, the copy is written durably, and only then does the live record take it.
   * A failed write (a full or read-only disk) throws and leaves the live record as
   * it was, so memory never shows a state the disk does not have.
   */
  async update(live: T, change: (next: T) => void): Promise<void> {
    const next = structuredClone(live);
    change(next);
    await this.save(next);
    Object.assign(live, next);
  }

  async remove(id: string): Promise<void> {
    await fs.promises.rm(this.file(id), { force: true });
  }

  /**
   * Every readable record; unreadable ones are logged and skipped (never fatal).
   * Called at startup, so temp files of writes a crash interrupted are removed.
   */
  async loadAll(): Promise<T[]> {
    for (const file of await removeInterruptedWrites(this.dir)) this.log?.info({ file }, 'removed a record write interrupted by a crash');
    let names: string[];
    try {
      names = await fs.promises.readdir(this.dir);
    } catch {
      return [];
    }
    const records: T[] = [];
    for (const name of names.filter((n) => n.endsWith('.json') && !n.startsWith('.'))) {
      try {
        records.push(JSON.parse(await fs.promises.readFile(path.join(this.dir, name), 'utf8')) as T);
      } catch (err) {
        this.log?.error({ file: path.join(this.dir, name), error: messageOf(err) }, 'unreadable record skipped');
      }
    }
    return records;
  }
}
