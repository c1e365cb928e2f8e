// A runc-compatible OCI runtime driven through its CLI (runc, crun, or cradle-runtime
// itself when nothing faster applies): spawns it with a clean environment and turns
// failures into catalogue errors carrying the runtime's own message. conmon gets
// the same binary and global flags through conmonArgs().
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as os from 'node:os';
import { execFile, execFileSync, spawn } from 'node:child_process';
import { cleanChildEnv } from '../common/child-env';
import { errors } from '../common/errors';
import type { OciState } from '../oci-runtime/state';
import type { OciProcess, OciResources } from '../common/oci-spec';
import type { ExecSyncRequest, ExecSyncResult } from './conmon/conmon';
import type { CheckpointRequest, CreateOptions, ExecCommand, ExecCommandOptions, ExecResult, OciRuntime, OciRuntimeOptions } from './oci-runtime';

export class RuntimeCli implements OciRuntime {
  readonly binary: string;
  readonly root: string | undefined;
  protected readonly options: OciRuntimeOptions;

  constructor(options: OciRuntimeOptions) {
    this.options = options;
    this.binary = options.binary;
    this.root = options.root;
  }

  /** Global flags, placed before the command (runc's CLI shape). */
  protected globalArgs(): string[] {
    const args: string[] = [];
    if (this.root) args.push(`--root=${this.root}`);
    if (this.options.logFile) args.push(`--log=${this.options.logFile}`);
    if (this.options.logFormat) args.push(`--log-format=${this.options.logFormat}`);
    return args;
  }

  conmonArgs(): string[] {
    return ['-r', this.binary, ...this.globalArgs().flatMap((a) => ['--runtime-arg', a]), ...(this.options.systemdCgroup ? ['--systemd-cgroup'] : [])];
  }

  prepareBundle(_id: string, _bundle: string): void {
    // A runc-compatible runtime reads config.json itself at create.
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

  async start(id: string): Promise<void> {
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

  async kill(id: string, signal: string | number = 'SIGTERM', all = false): Promise<void> {
    await this.run(['kill', ...(all ? ['--all'] : []), id, String(signal)], id);
  }

  async delete(id: string, force = false): Promise<void> {
    await this.run(['delete', ...(force ? ['--force'] : []), id], id);
  }

  deleteLeftover(id: string): void {
    execFileSync(this.binary, [...this.globalArgs(), 'delete', '--force', id], { stdio: 'ignore', env: cleanChildEnv(), timeout: this.options.timeoutMs ?? 30_000 });
  }

  async pause(id: string): Promise<void> {
    await this.run(['pause', id], id);
  }

  async resume(id: string): Promise<void> {
    await this.run(['resume', id], id);
  }

  async update(id: string, resources: OciResources): Promise<void> {
    await this.run(['update', '--resources', '-', id], id, { input: JSON.stringify(resources) });
  }

  async ps(id: string): Promise<number[]> {
    const { stdout } = await this.run(['ps', '--format', 'json', id], id);
    return JSON.parse(stdout) as number[];
  }

  /** As cri-o runs it: file locks are kept, the container keeps running for a forensic checkpoint. */
  async checkpoint(id: string, req: CheckpointRequest): Promise<void> {
    await this.run(['checkpoint', '--file-locks', '--image-path', req.imagePath, '--work-path', req.workPath,
      ...(req.leaveRunning ? ['--leave-running'] : []), id], id, { timeoutMs: req.timeoutMs ?? 600_000 });
  }

  /** exec and wait (ExecSync without conmon); the process spec goes through a temp file. */
  async exec(id: string, proc: OciProcess, processFile: string): Promise<ExecResult> {
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

  async execSync(req: ExecSyncRequest): Promise<ExecSyncResult> {
    if (!this.options.conmon) throw errors.internal(`${path.basename(this.binary)}: ExecSync needs conmon`);
    return this.options.conmon.execSync(req);
  }

  execCommand(id: string, opts: ExecCommandOptions): ExecCommand {
    const tty = opts.consoleSocket !== undefined ? ['--tty', '--console-socket', opts.consoleSocket] : [];
    return { file: this.binary, args: [...this.globalArgs(), 'exec', ...tty, '--process', opts.processFile, '--pid-file', opts.pidFile, id] };
  }

  close(): void {
    // nothing kept running
  }

  protected run(args: string[], id: string, opts: { input?: string; noGlobals?: boolean; timeoutMs?: number } = {}): Promise<{ stdout: string; stderr: string }> {
    const argv = [...(opts.noGlobals ? [] : this.globalArgs()), ...args];
    return new Promise((resolve, reject) => {
      const child = execFile(this.binary, argv, {
        env: cleanChildEnv(), timeout: opts.timeoutMs ?? this.options.timeoutMs ?? 60000, maxBuffer: 16 * 1024 * 1024,
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
