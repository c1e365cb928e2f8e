// Drives conmon 2.x the way cri-o does (reference.md §2.3): conmon supervises one
// container (or one exec-sync process), runs the OCI runtime's `create`, writes
// CRI-format logs, the exit file and the oom file, and outlives cradled.
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { cleanChildEnv } from '../../common/child-env';
import { errors, messageOf } from '../../common/errors';
import { bundleParts } from '../../common/state-layout';
import { processStartTime } from './proc';
import { killProcessGroup, waitProcessGroupGone } from '../process-group';
import { variant } from '../../sys/dbus';
import { callSystemdManager, type SystemdCall } from '../../sys/systemd-manager';
import { expandSlice } from '../../common/systemd-units';

/** How long systemd may take to move conmon into its scope. */
const MONITOR_SCOPE_WAIT_MS = 10_000;

export interface ConmonSettings {
  /** The conmon binary. */
  conmon: string;
  /** The OCI runtime binary conmon runs (`-r`). */
  runtimePath: string;
  /** The runtime's --root (undefined: the runtime's own default). */
  runtimeRoot: string | undefined;
  /** Where conmon writes `<id>` with the exit code (watched by ExitMonitor). */
  exitDir: string;
  /** Short directory for attach-socket symlinks (sun_path is 108 bytes). */
  socketDir: string;
  systemdCgroup: boolean;
  /**
   * Under the systemd driver, the slice where each container's conmon gets a scope of
   * its own, cradle-conmon-<id>.scope (cri-o's conmon_cgroup); undefined: conmon stays
   * in cradled's cgroup.
   */
  monitorSlice?: string;
  logLevel: 'debug' | 'info' | 'warn' | 'error';
}

export interface ConmonCreateRequest {
  id: string;
  /** Human name for conmon's logs (the CRI container name). */
  name: string;
  bundle: string;
  /** Directory that survives cradled restarts; conmon writes `exit` and `oom` there too. */
  persistDir: string;
  /** CRI log file (k8s-file format). */
  logPath: string;
  tty: boolean;
  stdin: boolean;
  stdinOnce: boolean;
  /** Bytes; conmon rotates (truncates) the log past it. Undefined: no cap. */
  logSizeMax?: number;
  timeoutMs: number;
  /**
   * CRIU images to restore from instead of creating: conmon runs the runtime's
   * `restore --detach --image-path <this> --work-path <bundle>`, and the container runs at once.
   */
  restorePath?: string;
  /** Called with conmon's pid while conmon waits on its start pipe (e.g. to move it into a cgroup). */
  placeMonitor?: (conmonPid: number) => Promise<void>;
}

export interface ConmonCreated {
  /** The container's init pid. */
  pid: number;
  conmonPid: number;
  /** conmon's start time (clock ticks since boot) for PID-reuse-safe liveness checks. */
  conmonStartTime: string;
}

export interface ExecSyncRequest {
  id: string;
  name: string;
  /** OCI `process` object for `runtime exec --process`. */
  process: unknown;
  tty: boolean;
  /** 0 means no timeout. */
  timeoutSeconds: number;
  /** Scratch directory for the process spec, pidfile and log (removed afterwards). */
  workDir: string;
  /** Cap for stdout and stderr each. */
  maxOutputBytes: number;
}

export interface ExecSyncResult {
  exitCode: number;
  stdout: Buffer;
  stderr: Buffer;
  timedOut: boolean;
}

const MONITOR_FDS = { sync: 3, start: 4 } as const;
/** The host's init may reap orphans only every few seconds (this test host's: ~2 s). */
const EXEC_GROUP_REAP_MS = 3000;

/** Parses conmon's sync-pipe messages (one JSON object per line). */
export function parseSyncMessages(text: string): { data?: number; exit_code?: number; pid?: number; message?: string }[] {
  return text.split('\n').filter((l) => l.trim() !== '').map((line) => JSON.parse(line) as { data?: number; message?: string });
}

function spawnConmon(settings: ConmonSettings, args: string[], cwd: string): ChildProcess {
  return spawn(settings.conmon, args, {
    cwd,
    // fds 3 and 4 are socketpairs (libuv creates 'pipe' stdio as AF_UNIX stream pairs).
    stdio: ['ignore', 'ignore', 'ignore', 'pipe', 'pipe'],
    detached: true,
    env: cleanChildEnv({ _OCI_SYNCPIPE: String(MONITOR_FDS.sync), _OCI_STARTPIPE: String(MONITOR_FDS.start) }),
  });
}

/**
 * Moves conmon, still waiting on its start pipe (the monitor it forks follows it),
 * into a transient scope of its own: it is then neither in cradled's service, nor in
 * the container's limits, and systemd collects the scope when conmon exits.
 */
async function placeInScope(pid: number, unit: string, slice: string, call: SystemdCall = callSystemdManager): Promise<void> {
  try {
    call('StartTransientUnit', 'ssa(sv)a(sa(sv))', [unit, 'replace', [
      ['Description', variant('s', `cradle container monitor ${unit}`)],
      ['Slice', variant('s', slice)],
      ['PIDs', variant('au', [pid])],
      ['DefaultDependencies', variant('b', false)],
    ], []]);
  } catch (err) {
    throw errors.runtime(`moving conmon into ${unit} in ${slice}: ${(err as Error).message}`);
  }
  // The start is a job: the monitor conmon forks next must be born in the scope.
  const want = `0::${expandSlice(slice).replace(/\/$/, '')}/${unit}`;
  for (const deadline = Date.now() + MONITOR_SCOPE_WAIT_MS; ;) {
    const current = /^0::.*$/m.exec(await fs.promises.readFile(`/proc/${pid}/cgroup`, 'utf8').catch(() => ''))?.[0];
    if (current === want) return;
    if (current === undefined || Date.now() > deadline) throw errors.runtime(`systemd did not move conmon ${pid} into ${unit} (it is in ${current ?? 'no cgroup: exited'})`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

function commonArgs(settings: ConmonSettings): string[] {
  return [
    '-r', settings.runtimePath,
    ...(settings.runtimeRoot ? ['--runtime-arg', `--root=${settings.runtimeRoot}`] : []),
    '--socket-dir-path', settings.socketDir,
    '--log-level', settings.logLevel,
    ...(settings.systemdCgroup ? ['-s'] : []),
  ];
}

/** Reads the sync pipe until it closes or `count` messages arrived. */
function readSync(child: ChildProcess, count: number, timeoutMs: number, what: string): Promise<ReturnType<typeof parseSyncMessages>> {
  const pipe = child.stdio[MONITOR_FDS.sync] as Readable;
  return new Promise((resolve, reject) => {
    let text = '';
    const finish = (err?: Error) => {
      clearTimeout(timer);
      pipe.removeAllListeners('data');
      pipe.destroy();
      if (err) reject(err);
      else {
        try {
          resolve(parseSyncMessages(text));
        } catch (e) {
          reject(errors.runtime(`${what}: conmon sent malformed sync data ${JSON.stringify(text)}: ${messageOf(e)}`));
        }
      }
    };
    const timer = setTimeout(() => finish(errors.deadlineExceeded(`${what}: conmon did not report within ${timeoutMs} ms`)), timeoutMs);
    pipe.setEncoding('utf8');
    pipe.on('data', (chunk: string) => {
      text += chunk;
      if (text.split('\n').filter((l) => l.trim()).length >= count && text.endsWith('\n')) finish();
    });
    pipe.on('error', () => undefined);
    pipe.on('close', () => finish());
  });
}

function startPipe(child: ChildProcess): Writable {
  const pipe = child.stdio[MONITOR_FDS.start] as Writable;
  // conmon may die (killed, or its timeout) while we write: never an unhandled error.
  pipe.on('error', () => undefined);
  return pipe;
}

function waitExit(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

export class Conmon {
  constructor(readonly settings: ConmonSettings) {}

  /**
   * Runs `conmon … create` for a bundle and returns the container's pid once the
   * runtime created it (the container is then in the "created" state).
   */
  async create(req: ConmonCreateRequest): Promise<ConmonCreated> {
    const { conmonPidFile, pidFile } = bundleParts(req.bundle);
    const args = [
      '--api-version', '1',
      '-b', req.bundle,
      '-c', req.id,
      '-u', req.id,
      '-n', req.name,
      '--exit-dir', this.settings.exitDir,
      '-l', `k8s-file:${req.logPath}`,
      '-P', conmonPidFile,
      '-p', pidFile,
      '--persist-dir', req.persistDir,
      '--syslog',
      ...commonArgs(this.settings),
      ...(req.tty ? ['-t'] : req.stdin ? ['-i', ...(req.stdinOnce ? [] : ['--leave-stdin-open'])] : []),
      ...(req.logSizeMax !== undefined && req.logSizeMax > 0 ? ['--log-size-max', String(req.logSizeMax)] : []),
      ...(req.restorePath ? ['--restore', req.restorePath] : []),
    ];
    await fs.promises.mkdir(this.settings.exitDir, { recursive: true });
    await fs.promises.mkdir(this.settings.socketDir, { recursive: true });
    await fs.promises.mkdir(req.persistDir, { recursive: true });
    const child = spawnConmon(this.settings, args, req.bundle);
    const spawned = new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve);
      child.once('error', (err) => reject(errors.runtime(`starting conmon (${this.settings.conmon}): ${err.message}`)));
    });
    await spawned;
    try {
      if (req.placeMonitor) await req.placeMonitor(child.pid!);
      else if (this.settings.monitorSlice) await placeInScope(child.pid!, `cradle-conmon-${req.id}.scope`, this.settings.monitorSlice);
      const sync = readSync(child, 1, req.timeoutMs, `creating container ${req.id}`);
      startPipe(child).end(Buffer.from([0]));
      // Without --sync conmon double-forks: this first process exits once the
      // monitor is running and has written its pid file.
      const firstExit = await waitExit(child);
      if (firstExit !== 0) throw errors.runtime(`creating container ${req.id}: conmon exited with ${firstExit}`);
      const messages = await sync;
      const first = messages[0];
      const pid = first?.data ?? first?.pid;
      if (pid === undefined || pid <= 0) {
        throw errors.runtime(`creating container ${req.id}: ${first?.message?.trim() || 'the runtime reported no pid'}`);
      }
      const conmonPid = Number((await fs.promises.readFile(conmonPidFile, 'utf8')).trim());
      return { pid, conmonPid, conmonStartTime: processStartTime(conmonPid) ?? '' };
    } catch (err) {
      killMonitor(conmonPidFile, child);
      throw err;
    }
  }

  /**
   * Runs a process in a running container through `conmon -e` and collects its
   * output from the temporary k8s-file log, as cri-o's ExecSync does.
   */
  async execSync(req: ExecSyncRequest): Promise<ExecSyncResult> {
    await fs.promises.mkdir(req.workDir, { recursive: true });
    const specPath = path.join(req.workDir, 'process.json');
    const logPath = path.join(req.workDir, 'exec.log');
    const pidFile = path.join(req.workDir, 'pidfile');
    await fs.promises.writeFile(specPath, JSON.stringify(req.process));
    const args = [
      '-c', req.id,
      '-n', req.name,
      '-p', pidFile,
      '-e',
      '-l', `k8s-file:${logPath}`,
      '--sync',
      '--exec-process-spec', specPath,
      // The log carries ~40 bytes of framing per line; leave room so the cap below
      // (maxOutputBytes of payload per stream) is what limits the output.
      '--log-global-size-max', String(Math.max(req.maxOutputBytes * 4, 1 << 20)),
      ...commonArgs(this.settings),
      ...(req.tty ? ['-t'] : []),
      ...(req.timeoutSeconds > 0 ? ['-T', String(req.timeoutSeconds)] : []),
    ];
    const child = spawnConmon(this.settings, args, req.workDir);
    try {
      await new Promise<void>((resolve, reject) => {
        child.once('spawn', resolve);
        child.once('error', (err) => reject(errors.runtime(`starting conmon: ${err.message}`)));
      });
      const overallMs = (req.timeoutSeconds > 0 ? req.timeoutSeconds * 1000 : 24 * 3600_000) + 30_000;
      const startedAt = Date.now();
      const sync = readSync(child, 2, overallMs, `exec in container ${req.id}`);
      startPipe(child).end(Buffer.from([0]));
      const messages = await sync;
      await waitExit(child);
      const last = messages[messages.length - 1];
      const exitCode = last?.exit_code ?? last?.data ?? -1;
      // conmon reports a -T expiry as exit code -1 (with "timed out" in some versions' message).
      // Without a message, -1 with a timeout set is that timeout (conmon's own timer).
      const timedOut = exitCode === -1 && (/timed out/i.test(last?.message ?? '')
        || (req.timeoutSeconds > 0 && (!last?.message || Date.now() - startedAt >= req.timeoutSeconds * 1000)));
      if (exitCode === -1 && !timedOut && last?.message) throw errors.runtime(`exec in container ${req.id}: ${last.message.trim()}`);
      if (timedOut) await endTimedOutExec(pidFile);
      const { stdout, stderr } = await readCriLog(logPath, req.maxOutputBytes);
      return { exitCode, stdout, stderr, timedOut };
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await fs.promises.rm(req.workDir, { recursive: true, force: true });
    }
  }
}

/**
 * conmon's -T kills only the process, and exits without reaping it. Its group (the
 * runtime's exec made it a group leader) is killed too, and the answer waits until the
 * host's init has reaped them all, at most EXEC_GROUP_REAP_MS.
 */
async function endTimedOutExec(pidFile: string): Promise<void> {
  let pid: number;
  try {
    pid = Number(fs.readFileSync(pidFile, 'utf8').trim());
  } catch {
    return; // never spawned
  }
  killProcessGroup(pid);
  await waitProcessGroupGone(pid, EXEC_GROUP_REAP_MS);
}

function killMonitor(conmonPidFile: string, child: ChildProcess): void {
  try {
    const pid = Number(fs.readFileSync(conmonPidFile, 'utf8').trim());
    if (pid > 0) process.kill(pid, 'SIGKILL');
  } catch { /* not started that far */ }
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
}

/** One parsed record of a CRI log file. */
export interface CriLogRecord {
  time: string;
  stream: 'stdout' | 'stderr';
  partial: boolean;
  content: Buffer;
}

/** Parses the CRI log format: `<time> <stream> <F|P> <content>\n`. */
export function parseCriLog(data: Buffer): CriLogRecord[] {
  const records: CriLogRecord[] = [];
  let start = 0;
  while (start < data.length) {
    let end = data.indexOf(0x0a, start);
    if (end < 0) end = data.length;
    const line = data.subarray(start, end);
    start = end + 1;
    const s1 = line.indexOf(0x20);
    const s2 = s1 < 0 ? -1 : line.indexOf(0x20, s1 + 1);
    const s3 = s2 < 0 ? -1 : line.indexOf(0x20, s2 + 1);
    if (s3 < 0) continue;
    const stream = line.subarray(s1 + 1, s2).toString();
    if (stream !== 'stdout' && stream !== 'stderr') continue;
    records.push({
      time: line.subarray(0, s1).toString(),
      stream,
      partial: line.subarray(s2 + 1, s3).toString() === 'P',
      content: line.subarray(s3 + 1),
    });
  }
  return records;
}

/** Reassembles stdout and stderr from a CRI log, each capped at maxBytes. */
export async function readCriLog(file: string, maxBytes: number): Promise<{ stdout: Buffer; stderr: Buffer }> {
  let data: Buffer;
  try {
    data = await fs.promises.readFile(file);
  } catch {
    return { stdout: Buffer.alloc(0), stderr: Buffer.alloc(0) };
  }
  const parts: Record<'stdout' | 'stderr', Buffer[]> = { stdout: [], stderr: [] };
  const sizes = { stdout: 0, stderr: 0 };
  for (const r of parseCriLog(data)) {
    const chunk = r.partial ? r.content : Buffer.concat([r.content, Buffer.from('\n')]);
    const room = maxBytes - sizes[r.stream];
    if (room <= 0) continue;
    const piece = chunk.subarray(0, room);
    parts[r.stream].push(piece);
    sizes[r.stream] += piece.length;
  }
  return { stdout: Buffer.concat(parts.stdout), stderr: Buffer.concat(parts.stderr) };
}
