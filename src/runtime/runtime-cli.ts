// The daemon's handle on an OCI runtime binary (cradle-runtime by default, or runc
// as an alternate handler): spawns its CLI with a clean environment and turns
// failures into catalogue errors carrying the runtime's own message. conmon gets
// the same binary and global flags through conmonArgs().
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as os from 'node:os';
import { execFile, spawn } from 'node:child_process';
import { cleanChildEnv } from '../common/child-env';
import { errors } from '../common/errors';
import type { OciState } from '../oci-runtime/state';
import { Container, del, kill } from '../oci-runtime/commands';
import { RuntimeLog } from '../oci-runtime/log';
import type { Process, Resources } from '../oci-runtime/spec';

/** bin/cradle-runtime of this checkout (dist/src/runtime -> repo root). */
export const CRADLE_RUNTIME_BIN = path.resolve(__dirname, '../../../bin/cradle-runtime');
export const CRADLE_RUNTIME_ROOT = '/run/cradle-runtime';

export interface RuntimeCliOptions {
  /** Runtime binary; default cradle-runtime. */
  binary?: string;
  /** --root; default /run/cradle-runtime for cradle-runtime, the runtime's own default otherwise. */
  root?: string;
  logFile?: string;
  logFormat?: 'json' | 'text';
  systemdCgroup?: boolean;
  /** Per-command timeout (default 60 s). */
  timeoutMs?: number;
}

export interface CreateOptions {
  /** The container's stdin/stdout/stderr (default /dev/null): they must not be pipes we wait on. */
  stdio?: [number | 'ignore', number | 'ignore', number | 'ignore'];
  pidFile?: string;
  consoleSocket?: string;
  noPivot?: boolean;
  noNewKeyring?: boolean;
}

export interface ExecResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export class RuntimeCli {
  readonly binary: string;
  readonly root: string | undefined;
  private readonly options: RuntimeCliOptions;

  constructor(options: RuntimeCliOptions = {}) {
    this.options = options;
    this.binary = options.binary ?? CRADLE_RUNTIME_BIN;
    this.root = options.root ?? (this.isCradleRuntime ? CRADLE_RUNTIME_ROOT : undefined);
  }

  get isCradleRuntime(): boolean {
    return path.basename(this.binary) === 'cradle-runtime';
  }

  /** Global flags, placed before the command (runc's CLI shape). */
  globalArgs(): string[] {
    const args: string[] = [];
    if (this.root) args.push(`--root=${this.root}`);
    if (this.options.logFile) args.push(`--log=${this.options.logFile}`);
    if (this.options.logFormat) args.push(`--log-format=${this.options.logFormat}`);
    return args;
  }

  /** conmon flags selecting this runtime: `-r BIN [--runtime-arg X]... [-s]`. */
  conmonArgs(): string[] {
    return ['-r', this.binary, ...this.globalArgs().flatMap((a) => ['--runtime-arg', a]), ...(this.options.systemdCgroup ? ['--systemd-cgroup'] : [])];
  }

  /** create without conmon (tests, or a caller that supervises the init itself). */
  async create(id: string, bundle: string, opts: CreateOptions = {}): Promise<void> {
    // The runtime's stdio becomes the container's, so errors are read back from a
    // per-call --log file (the last --log wins, in runc as here).
    const errLog = path.join(os.tmpdir(), `cradle-runtime-create-${id}-${process.pid}-${Date.now()}.log`);
    const argv = [...this.globalArgs(), `--log=${errLog}`, '--log-format=json', 'create', '--bundle', bundle,
      ...(opts.pidFile ? ['--pid-file', opts.pidFile] : []),
      ...(opts.consoleSocket ? ['--console-socket', opts.consoleSocket] : []),
      ...(opts.noPivot ? ['--no-pivot'] : []), ...(opts.noNewKeyring ? ['--no-new-keyring'] : []), id];
    try {
      const code = await new Promise<number>((resolve, reject) => {
        const child = spawn(this.binary, argv, { env: cleanChildEnv(), stdio: opts.stdio ?? ['ignore', 'ignore', 'ignore'] });
        child.on('error', reject);
        child.on('exit', (c, signal) => resolve(c ?? (signal ? 128 : 1)));
      });
      if (code !== 0) {
        let detail = `exit status ${code}`;
        try {
          const lines = fs.readFileSync(errLog, 'utf8').trim().split('\n');
          const last = JSON.parse(lines[lines.length - 1]!) as { msg?: string };
          if (last.msg) detail = last.msg;
        } catch {
          // no log written
        }
        throw errors.runtime(`${path.basename(this.binary)} create ${id}: ${detail}`);
      }
    } finally {
      fs.rmSync(errLog, { force: true });
    }
  }

  /**
   * start. With cradle-runtime and no poststart hooks this opens the exec fifo in
   * process (what `start` itself does), saving a ~30 ms Node start per container.
   */
  async start(id: string): Promise<void> {
    if (this.isCradleRuntime && this.root && (await this.startInProcess(id))) return;
    await this.run(['start', id], id);
  }

  /** The OCI state, or undefined when the runtime does not know the container. */
  async state(id: string): Promise<OciState | undefined> {
    try {
      const { stdout } = await this.run(['state', id], id);
      return JSON.parse(stdout) as OciState;
    } catch (err) {
      if (/does not exist|not found/i.test((err as Error).message)) return undefined;
      throw err;
    }
  }

  /**
   * kill. For cradle-runtime this is what the CLI's kill does (read the saved state,
   * check the init is still ours by its start time, signal it or every pid of its
   * cgroup), done in process: a Node start (~40 ms) saved on every stop.
   */
  async kill(id: string, signal: string | number = 'SIGTERM', all = false): Promise<void> {
    if (this.isCradleRuntime && this.root) {
      try {
        kill(this.root, id, String(signal), all);
        return;
      } catch (err) {
        throw errors.runtime(`${path.basename(this.binary)} kill ${id}: ${(err as Error).message}`);
      }
    }
    await this.run(['kill', ...(all ? ['--all'] : []), id, String(signal)], id);
  }

  /**
   * delete. A stopped cradle-runtime container without poststop hooks is deleted in
   * process (what the CLI's delete does: remove its cgroups and state), saving a
   * ~40 ms Node start per removal; anything else goes through the CLI.
   */
  async delete(id: string, force = false): Promise<void> {
    if (this.isCradleRuntime && this.root && this.deleteInProcess(id)) return;
    await this.run(['delete', ...(force ? ['--force'] : []), id], id);
  }

  private deleteInProcess(id: string): boolean {
    try {
      const ctr = new Container(this.root!, id);
      if (ctr.status() !== 'stopped' || ctr.saved.hooks?.poststop?.length) return false;
      del(this.root!, id, true, new RuntimeLog(undefined));
      return true;
    } catch {
      return false; // let the CLI report it
    }
  }

  async pause(id: string): Promise<void> {
    await this.run(['pause', id], id);
  }

  async resume(id: string): Promise<void> {
    await this.run(['resume', id], id);
  }

  async update(id: string, resources: Resources): Promise<void> {
    await this.run(['update', '--resources', '-', id], id, { input: JSON.stringify(resources) });
  }

  async ps(id: string): Promise<number[]> {
    const { stdout } = await this.run(['ps', '--format', 'json', id], id);
    return JSON.parse(stdout) as number[];
  }

  /** exec and wait (ExecSync without conmon); the process spec goes through a temp file. */
  async exec(id: string, proc: Process, processFile: string): Promise<ExecResult> {
    fs.writeFileSync(processFile, JSON.stringify(proc), { mode: 0o600 });
    try {
      return await new Promise<ExecResult>((resolve) => {
        execFile(this.binary, [...this.globalArgs(), 'exec', '--process', processFile, id], {
          env: cleanChildEnv(), timeout: this.options.timeoutMs ?? 60000, maxBuffer: 16 * 1024 * 1024,
        }, (err, stdout, stderr) => {
          const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
          resolve({ exitCode: code, stdout, stderr });
        });
      });
    } finally {
      fs.rmSync(processFile, { force: true });
    }
  }

  async features(): Promise<Record<string, unknown>> {
    const { stdout } = await this.run(['features'], '');
    return JSON.parse(stdout) as Record<string, unknown>;
  }

  async version(): Promise<string> {
    const { stdout } = await this.run(['--version'], '', { noGlobals: true });
    return stdout.trim();
  }

  private async startInProcess(id: string): Promise<boolean> {
    const dir = path.join(this.root!, id);
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

  private run(args: string[], id: string, opts: { input?: string; noGlobals?: boolean } = {}): Promise<{ stdout: string; stderr: string }> {
    const argv = [...(opts.noGlobals ? [] : this.globalArgs()), ...args];
    return new Promise((resolve, reject) => {
      const child = execFile(this.binary, argv, {
        env: cleanChildEnv(), timeout: this.options.timeoutMs ?? 60000, maxBuffer: 16 * 1024 * 1024,
      }, (err, stdout, stderr) => {
        if (err) {
          const detail = (stderr || err.message).trim().replace(/^cradle-runtime: /, '');
          reject(errors.runtime(`${path.basename(this.binary)} ${args[0]}${id ? ` ${id}` : ''}: ${detail}`));
          return;
        }
        resolve({ stdout, stderr });
      });
      if (opts.input !== undefined) child.stdin!.end(opts.input);
      else child.stdin?.end();
    });
  }
}
