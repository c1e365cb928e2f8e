// cradle's own runtime behind the OciRuntime interface. Where cradle-runtime's
// CLI would only read or write its own state, the daemon does it in process
// (start opens the exec fifo; kill and delete of a stopped container use the
// program's commands directly): each saves a runtime process start. ExecSync goes
// through warm exec helpers. Anything else is the CLI, as for any runtime.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { errors, withContext } from '../common/errors';
import { Container, del, kill } from '../oci-runtime/commands';
import { writeLaunchPlan } from '../oci-runtime/launch-plan';
import { RuntimeLog } from '../oci-runtime/log';
import type { Process } from '../oci-runtime/spec';
import type { ExecSyncRequest, ExecSyncResult } from './conmon/conmon';
import { ExecHelperPool } from './exec-helpers';
import type { OciRuntimeOptions } from './oci-runtime';
import { RuntimeCli } from './runtime-cli';

/** Warm exec helpers kept per cradle-runtime handler (one Node process each). */
const EXEC_HELPERS_IDLE = 1;

export const CRADLE_RUNTIME_ROOT = '/run/cradle-runtime';
/** bin/cradle-runtime of this checkout (dist/src/runtime -> repo root). */
export const CRADLE_RUNTIME_BIN = path.resolve(__dirname, '../../../bin/cradle-runtime');

export class CradleRuntime extends RuntimeCli {
  override readonly root: string;
  /** Started on the first ExecSync, so a node without probes keeps no helper. */
  private readonly execHelpers: ExecHelperPool;

  constructor(options: OciRuntimeOptions) {
    super(options);
    this.root = options.root ?? CRADLE_RUNTIME_ROOT;
    this.execHelpers = new ExecHelperPool({ binary: this.binary, idle: EXEC_HELPERS_IDLE });
  }

  protected override globalArgs(): string[] {
    return [`--root=${this.root}`, ...super.globalArgs().filter((a) => !a.startsWith('--root='))];
  }

  /**
   * The launch plan lets conmon's `cradle-runtime create` run natively, with no Node
   * process; a spec the launcher does not handle gets no plan and takes the Node create.
   */
  override prepareBundle(id: string, bundle: string): void {
    try {
      writeLaunchPlan(bundle, id, { systemdCgroup: this.options.systemdCgroup });
    } catch (err) {
      throw withContext(err, `writing the launch plan of ${id}`);
    }
  }

  /** Without poststart hooks, start is opening the exec fifo: done here. */
  override async start(id: string): Promise<void> {
    if (await this.startInProcess(id)) return;
    await super.start(id);
  }

  /**
   * What the CLI's kill does (read the saved state, check the init is still ours by
   * its start time, signal it or every pid of its cgroup), in process.
   */
  override async kill(id: string, signal: string | number = 'SIGTERM', all = false): Promise<void> {
    try {
      kill(this.root, id, String(signal), all);
    } catch (err) {
      throw errors.runtime(`${path.basename(this.binary)} kill ${id}: ${(err as Error).message}`);
    }
  }

  /** A stopped container without poststop hooks is deleted in process; anything else through the CLI. */
  override async delete(id: string, force = false): Promise<void> {
    if (this.deleteInProcess(id)) return;
    await super.delete(id, force);
  }

  override deleteLeftover(id: string): void {
    del(this.root, id, true, new RuntimeLog(undefined));
  }

  override async execSync(req: ExecSyncRequest): Promise<ExecSyncResult> {
    return this.execHelpers.execSync({ root: this.root, id: req.id, process: req.process as Process, timeoutSeconds: req.timeoutSeconds, maxOutputBytes: req.maxOutputBytes });
  }

  override close(): void {
    this.execHelpers.close();
  }

  private deleteInProcess(id: string): boolean {
    try {
      const ctr = new Container(this.root, id);
      if (ctr.status() !== 'stopped' || ctr.saved.hooks?.poststop?.length) return false;
      del(this.root, id, true, new RuntimeLog(undefined));
      return true;
    } catch {
      return false; // let the CLI report it
    }
  }

  private async startInProcess(id: string): Promise<boolean> {
    const dir = path.join(this.root, id);
    let saved: { pid: number; hooks?: { poststart?: unknown[] } };
    try {
      saved = JSON.parse(await fs.promises.readFile(path.join(dir, 'state.json'), 'utf8')) as typeof saved;
    } catch {
      return false; // let the CLI report it
    }
    if (saved.hooks?.poststart?.length) return false;
    const fifo = path.join(dir, 'exec.fifo');
    let handle: fs.promises.FileHandle;
    try {
      handle = await fs.promises.open(fifo, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
    } catch {
      return false; // not in the created state: the CLI gives the runc-style error
    }
    try {
      const buf = Buffer.alloc(1);
      for (let i = 0; ; i++) {
        let n = 0;
        try {
          n = (await handle.read(buf, 0, 1, null)).bytesRead;
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') throw err;
        }
        if (n > 0) break;
        if (!fs.existsSync(`/proc/${saved.pid}`)) throw errors.runtime(`start ${id}: the container init exited before start`);
        if (i > 30000) throw errors.deadlineExceeded(`start ${id}: the container init did not open its exec fifo`);
        await new Promise((r) => setTimeout(r, 1));
      }
    } finally {
      await handle.close();
    }
    await fs.promises.rm(fifo, { force: true });
    return true;
  }
}

/** The runtime for a handler's binary: cradle's own by its name, else a runc-compatible CLI. */
export function ociRuntimeFor(options: OciRuntimeOptions): RuntimeCli {
  return path.basename(options.binary) === 'cradle-runtime' ? new CradleRuntime(options) : new RuntimeCli(options);
}
