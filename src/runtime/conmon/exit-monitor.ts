// Sees container exits without polling: conmon writes `<exitDir>/<id>` (the exit
// code, after the logs are drained), and inotify (fs.watch) reports the new file.
// Files present at start are exits that happened while cradled was down.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Logger } from '../../common/logger';
import { messageOf } from '../../common/errors';

const RESCAN_INTERVAL_MS = 3000;

export interface ContainerExit {
  id: string;
  exitCode: number;
  /** mtime of the exit file: when the container finished. */
  finishedAt: Date;
}

export class ExitMonitor {
  private watcher: fs.FSWatcher | undefined;
  private rescanTimer: NodeJS.Timeout | undefined;
  private readonly seen = new Set<string>();

  constructor(
    private readonly exitDir: string,
    private readonly onExit: (exit: ContainerExit) => void,
    private readonly log?: Logger,
  ) {}

  /** Starts watching; reports exit files already present. */
  async start(): Promise<void> {
    await fs.promises.mkdir(this.exitDir, { recursive: true });
    this.watcher = fs.watch(this.exitDir, (_event, name) => {
      if (name) this.check(name.toString());
    });
    this.watcher.on('error', (err) => this.log?.error({ error: messageOf(err), dir: this.exitDir }, 'exit watch failed'));
    for (const name of await fs.promises.readdir(this.exitDir)) this.check(name);
    // A safety net for an inotify event read before conmon finished writing
    // (its later change event coalesced): a cheap rescan every few seconds.
    this.rescanTimer = setInterval(() => {
      fs.readdir(this.exitDir, (err, names) => {
        if (!err) for (const name of names) this.check(name);
      });
    }, RESCAN_INTERVAL_MS);
    this.rescanTimer.unref();
  }

  /** Reads one exit file if it is complete (conmon writes it in one go). */
  check(id: string): ContainerExit | undefined {
    // conmon writes `<id>.XXXXXX` and renames it to `<id>`: only the final name counts
    // (reading, let alone removing, the temp file would lose the exit).
    if (!/^[A-Za-z0-9_-]+$/.test(id) || this.seen.has(id)) return undefined;
    const file = path.join(this.exitDir, id);
    let text: string;
    let stat: fs.Stats;
    try {
      text = fs.readFileSync(file, 'utf8');
      stat = fs.statSync(file);
    } catch {
      return undefined;
    }
    if (!/^-?\d+\s*$/.test(text)) return undefined; // still being written
    this.seen.add(id);
    const exit = { id, exitCode: Number(text.trim()), finishedAt: stat.mtime };
    try {
      this.onExit(exit);
    } catch (err) {
      this.log?.error({ id, error: messageOf(err) }, 'exit handler failed');
    }
    return exit;
  }

  /** Forgets an exit (after the container's record was updated) and removes its file. */
  async consume(id: string): Promise<void> {
    await fs.promises.rm(path.join(this.exitDir, id), { force: true });
    this.seen.delete(id);
  }

  stop(): void {
    if (this.rescanTimer) clearInterval(this.rescanTimer);
    this.watcher?.close();
    this.watcher = undefined;
  }
}
