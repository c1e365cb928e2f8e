// cradle's own runtime behind the OciRuntime interface. Where cradle-runtime's
// CLI would only read or write its own state, the daemon does it in process
// (start opens the exec fifo; kill and delete of a stopped container use the
// program's commands directly): each saves a runtime process start. An exec (ExecSync,
// a streaming exec, conmon's) gets an exec plan beside its process file, so the
// launcher runs it without Node. Anything else is the CLI, as for any runtime.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { errors, withContext } from '../common/errors';
import { MEMORY_FLOOR_BYTES } from '../oci-runtime/cgroups/types';
import { RuntimeLog } from '../oci-runtime/log';
import type { ExecSyncRequest, ExecSyncResult } from './conmon/conmon';
import { directExecSync } from './exec-sync';
import type { ExecCommand, ExecCommandOptions, OciRuntimeOptions } from './oci-runtime';
import { RuntimeCli } from './runtime-cli';

export const CRADLE_RUNTIME_ROOT = '/run/cradle-runtime';
/** bin/cradle-runtime of this checkout (dist/src/runtime -> repo root). */
export const CRADLE_RUNTIME_BIN = path.resolve(__dirname, '../../../bin/cradle-runtime');

// The runtime program's modules (plans, saved state, cgroups, seccomp) load with
// the first container operation: none is on the path to the daemon's socket.
const program = {
  commands: () => require('../oci-runtime/commands') as typeof import('../oci-runtime/commands'),
  execPlan: () => require('../oci-runtime/exec-plan') as typeof import('../oci-runtime/exec-plan'),
  launchPlan: () => require('../oci-runtime/launch-plan') as typeof import('../oci-runtime/launch-plan'),
};

export class CradleRuntime extends RuntimeCli {
  override readonly root: string;
  constructor(options: OciRuntimeOptions) {
    super(options);
    this.root = options.root ?? CRADLE_RUNTIME_ROOT;
  }

  protected override globalArgs(): string[] {
    return [`--root=${this.root}`, ...super.globalArgs().filter((a) => !a.startsWith('--root='))];
  }

  /**
   * The launch plan lets conmon's `cradle-runtime create` run natively, with no Node
   * process; a spec the launcher does not handle gets no plan and takes the Node create.
   */
  override prepareBundle(id: string, bundle: string): void {
    let planned: boolean;
    try {
      planned = program.launchPlan().writeLaunchPlan(bundle, id, { systemdCgroup: this.options.systemdCgroup });
    } catch (err) {
      throw withContext(err, `writing the launch plan of ${id}`);
    }
    if (!planned) this.checkNodeInitFloor(bundle);
  }

  /** A spec the launcher does not run takes the Node init, which needs MEMORY_FLOOR_BYTES of the container's limit. */
  private checkNodeInitFloor(bundle: string): void {
    let limit: unknown;
    try {
      limit = (JSON.parse(fs.readFileSync(path.join(bundle, 'config.json'), 'utf8')) as { linux?: { resources?: { memory?: { limit?: unknown } } } })
        .linux?.resources?.memory?.limit;
    } catch {
      return; // the Node create reports an unreadable config itself
    }
    if (typeof limit === 'number' && limit > 0 && limit < MEMORY_FLOOR_BYTES) {
      throw errors.invalidField('config.linux.resources.memoryLimitInBytes',
        `${limit} bytes is below the ${MEMORY_FLOOR_BYTES / (1024 * 1024)} MiB that cradle-runtime's Node init needs, which this container takes (docs/launch-plan.md lists what the native launcher does not run)`);
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
      program.commands().kill(this.root, id, String(signal), all);
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
    program.commands().del(this.root, id, true, new RuntimeLog(undefined));
  }

  /**
   * The exec plan beside the process file lets `cradle-runtime exec` run natively; a
   * process the launcher does not run gets none and takes the Node exec.
   */
  private planExec(id: string, processFile: string): void {
    const { NotExecutable, writeExecPlan } = program.execPlan();
    try {
      writeExecPlan(this.root, id, processFile);
    } catch (err) {
      if (err instanceof NotExecutable) throw errors.failedPrecondition(`container ${id}: ${err.message}`);
      throw withContext(err, `writing the exec plan of ${id}`);
    }
  }

  override execCommand(id: string, opts: ExecCommandOptions): ExecCommand {
    this.planExec(id, opts.processFile);
    return super.execCommand(id, opts);
  }

  /** The runtime's exec run directly (no conmon), planned: no Node process. */
  override async execSync(req: ExecSyncRequest): Promise<ExecSyncResult> {
    await fs.promises.mkdir(req.workDir, { recursive: true, mode: 0o700 });
    try {
      const processFile = path.join(req.workDir, 'process.json');
      const pidFile = path.join(req.workDir, 'pid');
      await fs.promises.writeFile(processFile, JSON.stringify(req.process), { mode: 0o600 });
      this.planExec(req.id, processFile);
      return await directExecSync({
        file: this.binary, args: [...this.globalArgs(), 'exec', '--process', processFile, '--pid-file', pidFile, req.id],
        pidFile, timeoutSeconds: req.timeoutSeconds, maxOutputBytes: req.maxOutputBytes,
      });
    } finally {
      await fs.promises.rm(req.workDir, { recursive: true, force: true });
    }
  }

  private deleteInProcess(id: string): boolean {
    try {
      const { Container, del } = program.commands();
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
      const readByte = async (): Promise<boolean> => {
        try {
          return (await handle.read(buf, 0, 1, null)).bytesRead > 0;
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') throw err;
          return false;
        }
      };
      for (let i = 0; ; i++) {
        if (await readByte()) break;
        // A short-lived process may have taken its "go", run and been reaped since that
        // read: the byte its init wrote before the exec is still in the fifo.
        if (!fs.existsSync(`/proc/${saved.pid}`)) {
          if (await readByte()) break;
          throw errors.runtime(`start ${id}: the container init exited before start`);
        }
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
