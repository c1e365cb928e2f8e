// The one interface through which the daemon drives an OCI runtime (cri-o's
// internal/oci RuntimeImpl). Two implementations: any runc-compatible CLI
// (runtime-cli.ts) and cradle's own runtime with its in-process and native fast
// paths (cradle-runtime.ts). Nothing outside these files builds runtime argv or
// asks which runtime it is talking to.
import type { OciState } from '../oci-runtime/state';
import type { OciProcess, OciResources } from '../common/oci-spec';
import type { Conmon, ExecSyncRequest, ExecSyncResult } from './conmon/conmon';

export interface CreateOptions {
  /** The container's stdin/stdout/stderr (default /dev/null): they must not be pipes we wait on. */
  stdio?: [number | 'ignore', number | 'ignore', number | 'ignore'];
  pidFile?: string;
  consoleSocket?: string;
  noPivot?: boolean;
  noNewKeyring?: boolean;
}

/** What a checkpoint asks of the runtime (runc's `checkpoint` flags). */
export interface CheckpointRequest {
  /** Where CRIU writes its images. */
  imagePath: string;
  /** Where CRIU writes dump.log and stats-dump. */
  workPath: string;
  /** Keep the container running afterwards (the kubelet's forensic checkpoint). */
  leaveRunning: boolean;
  /** Default: 10 minutes (CRIU writes every memory page). */
  timeoutMs?: number;
}

export interface ExecResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/** A program to run for a streaming exec: the runtime's own command line. */
export interface ExecCommand {
  file: string;
  args: string[];
}

export interface ExecCommandOptions {
  processFile: string;
  pidFile: string;
  /** Set for a terminal: the runtime sends the pty master there. */
  consoleSocket?: string;
}

export interface OciRuntime {
  /** The runtime binary (conmon's `-r`, and what messages name). */
  readonly binary: string;
  /** --root; undefined = the runtime's own default. */
  readonly root: string | undefined;
  /** conmon flags selecting this runtime: `-r BIN [--runtime-arg X]... [-s]`. */
  conmonArgs(): string[];
  /**
   * Called once config.json is in the bundle, before conmon runs `create`: what the
   * runtime derives from the config ahead of time (cradle-runtime: its launch plan).
   */
  prepareBundle(id: string, bundle: string): void;
  /** create without conmon (tests, or a caller that supervises the init itself). */
  create(id: string, bundle: string, opts?: CreateOptions): Promise<void>;
  start(id: string): Promise<void>;
  /** The OCI state, or undefined when the runtime does not know the container. */
  state(id: string): Promise<OciState | undefined>;
  kill(id: string, signal?: string | number, all?: boolean): Promise<void>;
  delete(id: string, force?: boolean): Promise<void>;
  pause(id: string): Promise<void>;
  resume(id: string): Promise<void>;
  update(id: string, resources: OciResources): Promise<void>;
  ps(id: string): Promise<number[]>;
  /** CRIU images of a running container (restored later through conmon's --restore). */
  checkpoint(id: string, req: CheckpointRequest): Promise<void>;
  /** exec and wait, output captured (no conmon); the process spec goes through processFile. */
  exec(id: string, proc: OciProcess, processFile: string): Promise<ExecResult>;
  /** ExecSync: the process runs to its end or its timeout, output capped. */
  execSync(req: ExecSyncRequest): Promise<ExecSyncResult>;
  /** The command line of a streaming exec whose process spec is in processFile (a terminal: over consoleSocket). */
  execCommand(id: string, opts: ExecCommandOptions): ExecCommand;
  /** Synchronous force-delete of a container left without a record (startup repair). */
  deleteLeftover(id: string): void;
  features(): Promise<Record<string, unknown>>;
  version(): Promise<string>;
  /** Stops what the runtime keeps running (daemon shutdown). */
  close(): void;
}

export interface OciRuntimeOptions {
  binary: string;
  /** --root; default the runtime's own. */
  root?: string;
  logFile?: string;
  logFormat?: 'json' | 'text';
  systemdCgroup?: boolean;
  /** Per-command timeout (default 60 s). */
  timeoutMs?: number;
  /** The monitor used for ExecSync where the runtime has no faster way. */
  conmon?: Conmon;
}
