// `create`: validates the bundle, prepares the state directory and exec fifo,
// spawns the init in the container's namespaces, puts it in its cgroup, waits for
// READY and records the state. Any failure unwinds everything it made.
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import * as sys from '../sys/libc';
import { UndoStack } from '../common/undo';
import { cleanChildEnv } from '../common/child-env';
import { loadSpec, namespaceOf, SpecError } from './spec';
import type { OciSpec } from '../common/oci-spec';
import { cgroupManager, MEMORY_FLOOR_BYTES } from './cgroups';
import { makeContainerDir, ociState, procStat, replaceFile, waitGone, type SavedState } from './state';
import { spawnInNamespaces } from './namespaces';
import type { FromInit, InitConfig, ToInit } from './sync';
import type { RuntimeLog } from './log';

export interface CreateOptions {
  root: string;
  id: string;
  bundle: string;
  pidFile?: string;
  consoleSocket?: string;
  noPivot: boolean;
  systemdCgroup: boolean;
  /** The compiled CLI entry, run again as `__init`. */
  initScript: string;
  log: RuntimeLog;
}

/** Host-dependent checks that need no resources: fail before anything is created. */
export function checkSpecForHost(spec: OciSpec, file: string, hasConsole: boolean): void {
  const limit = spec.linux?.resources?.memory?.limit;
  if (limit !== undefined && limit > 0 && limit < MEMORY_FLOOR_BYTES) {
    throw new SpecError(file, 'linux.resources.memory.limit',
      `${limit} bytes is below cradle-runtime's floor of ${MEMORY_FLOOR_BYTES} (the Node init is charged to the container until exec)`);
  }
  checkSpecNamespaces(spec, file);
  // Node is multi-threaded: setns(CLONE_NEWUSER) fails in it (runtime-notes Q1), so only the
  // native launcher joins a user namespace; never run such a spec in the host's instead.
  if (namespaceOf(spec, 'user') || spec.mounts?.some((m) => m.uidMappings || m.gidMappings)) {
    throw new SpecError(file, 'linux.namespaces', 'user namespaces and idmapped mounts need the native launcher, which has no launch plan for this bundle (hooks, or another feature it does not run)');
  }
  if (spec.process!.terminal && !hasConsole) throw new SpecError(file, 'process.terminal', 'terminal is true but no --console-socket was given');
  if (!spec.process!.terminal && hasConsole) throw new SpecError(file, 'process.terminal', '--console-socket given but terminal is false');
}

/** The part of checkSpecForHost that depends neither on the init (memory floor) nor on the invocation (console). */
export function checkSpecNamespaces(spec: OciSpec, file: string): void {
  // As runc: a hostname needs a uts namespace of the container's own, new or joined
  // by path (pod containers join the pod's pinned one), never the host's.
  if ((spec.hostname || spec.domainname) && !namespaceOf(spec, 'uts')) {
    throw new SpecError(file, 'hostname', 'setting a hostname needs a uts namespace (new or joined by path)');
  }
  if (!namespaceOf(spec, 'mount') || namespaceOf(spec, 'mount')!.path) {
    throw new SpecError(file, 'linux.namespaces', 'a new mount namespace is required');
  }
}

export async function createContainer(opts: CreateOptions): Promise<void> {
  // Phase times (ms since this process started) go to the --debug log.
  const phases: Record<string, number> = { entered: Math.round(performance.now()) };
  const bundle = path.resolve(opts.bundle);
  const { spec, rootfs } = loadSpec(bundle);
  checkSpecForHost(spec, path.join(bundle, 'config.json'), opts.consoleSocket !== undefined);
  const cgroups = cgroupManager(spec.linux?.cgroupsPath, opts.id, undefined, opts.systemdCgroup);

  const dir = makeContainerDir(opts.root, opts.id);
  const undo = new UndoStack();
  undo.push(`remove ${dir}`, () => fs.rmSync(dir, { recursive: true, force: true }));
  let child: ChildProcess | undefined;
  let sock: net.Socket | undefined;
  try {
    const fifoPath = path.join(dir, 'exec.fifo');
    sys.mkfifo(fifoPath, 0o622);
    fs.chmodSync(fifoPath, 0o622); // mkfifo honours the umask; the init may open it as non-root

    let consoleFd: number | undefined;
    if (opts.consoleSocket) consoleFd = sys.connectUnix(opts.consoleSocket);

    await fs.promises.stat('/'); // trap 2: start the threadpool before switching pid ns
    const nodeBinary = fs.realpathSync(process.execPath);
    child = spawnInNamespaces(spec, {
      command: nodeBinary,
      args: [opts.initScript, '__init'],
      options: { stdio: [0, 1, 2, 'pipe', consoleFd ?? 'ignore'], env: cleanChildEnv(), cwd: '/' },
      sealPaths: [nodeBinary],
    });
    phases.spawned = Math.round(performance.now());
    if (consoleFd !== undefined) fs.closeSync(consoleFd);
    const pid = child.pid;
    if (pid === undefined) throw new Error('spawning the container init failed');
    const initChild = child;
    undo.push(`kill init ${pid}`, () => { initChild.kill('SIGKILL'); });
    sock = child.stdio[3] as net.Socket;
    const messages = new MessageQueue(sock, child);

    // runc's Apply, right after the spawn. On v1 the init moves its own main thread
    // (the one that execs) when it gets "go": cheaper than moving the process from
    // here, and its Node helper threads stay out of the container's accounting.
    const initJoinsCgroups = cgroups.version === 1;
    if (initJoinsCgroups) cgroups.create();
    else cgroups.apply(pid);
    undo.push('remove cgroups', () => {
      // The init must be gone (a zombie is fine) before its cgroups can be removed.
      initChild.kill('SIGKILL');
      waitGone(pid);
      cgroups.destroy();
    });
    setOomScoreAdj(pid, spec.process!.oomScoreAdj, opts.log);

    const startTime = procStat(pid)?.startTime ?? '';
    const saved: SavedState = {
      id: opts.id, pid, startTime, bundle, rootfs, created: new Date().toISOString(),
      annotations: spec.annotations ?? {}, cgroupVersion: cgroups.version,
      cgroupsPath: spec.linux?.cgroupsPath ?? '', cgroupPaths: cgroups.paths(),
      namespacePaths: Object.fromEntries(['ipc', 'uts', 'net', 'pid', 'mnt', 'cgroup'].map((n) => [n, `/proc/${pid}/ns/${n}`])),
      ...(spec.hooks ? { hooks: spec.hooks } : {}),
      systemdCgroup: opts.systemdCgroup,
    };
    const creatingState = JSON.stringify(ociState(saved, 'creating'));
    const config: InitConfig = {
      spec, rootfs, bundle, fifoPath, noPivot: opts.noPivot, hasConsole: consoleFd !== undefined,
      newCgroupNs: Boolean(namespaceOf(spec, 'cgroup') && !namespaceOf(spec, 'cgroup')!.path),
      cgroupPaths: cgroups.paths(), joinCgroups: initJoinsCgroups, stateJson: creatingState,
    };
    send(sock, { type: 'go', config });
    for (;;) {
      const msg = await messages.next();
      if (msg.type === 'error') throw new Error(`container init: ${msg.message}`);
      if (msg.type === 'ready') break;
      if (msg.type === 'hooks') {
        try {
          const { runHooks } = require('./hooks') as typeof import('./hooks');
          runHooks('prestart', spec.hooks?.prestart, creatingState);
          runHooks('createRuntime', spec.hooks?.createRuntime, creatingState);
        } catch (err) {
          send(sock, { type: 'abort', message: (err as Error).message });
          throw err;
        }
        send(sock, { type: 'hooks-done' });
      }
    }
    phases.ready = Math.round(performance.now());
    // runc's order: limits once the init is ready, so its own setup cannot trip them (trap 11).
    if (spec.linux?.resources) cgroups.set(spec.linux.resources);

    replaceFile(path.join(dir, 'state.json'), JSON.stringify(saved));
    if (opts.pidFile) replaceFile(path.resolve(opts.pidFile), String(pid));
    undo.release();
    phases.done = Math.round(performance.now());
    opts.log.debug('created', { id: opts.id, pid, phasesMs: phases });
  } catch (err) {
    const failures = await undo.unwind();
    for (const f of failures) opts.log.error(`cleanup after failed create: ${f}`);
    throw err;
  } finally {
    sock?.destroy();
    child?.unref();
  }
}

function send(sock: net.Socket, msg: ToInit): void {
  sock.write(JSON.stringify(msg) + '\n');
}

/** Lines from the init, or an error when it dies first (trap 13: errors always handled). */
class MessageQueue {
  private buffered = '';
  private queue: FromInit[] = [];
  private failure: Error | undefined;
  private waiter: (() => void) | undefined;

  constructor(sock: net.Socket, child: ChildProcess) {
    sock.setEncoding('utf8');
    sock.on('data', (chunk: string) => {
      this.buffered += chunk;
      let nl: number;
      while ((nl = this.buffered.indexOf('\n')) >= 0) {
        this.queue.push(JSON.parse(this.buffered.slice(0, nl)) as FromInit);
        this.buffered = this.buffered.slice(nl + 1);
      }
      this.wake();
    });
    sock.on('error', (err) => this.fail(new Error(`sync pipe: ${err.message}`)));
    sock.on('close', () => this.fail(new Error('the container init exited during setup')));
    child.on('exit', (code, signal) => this.fail(new Error(`the container init exited during setup (${signal ? `signal ${signal}` : `status ${code}`})`)));
  }

  private fail(err: Error): void {
    this.failure ??= err;
    this.wake();
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = undefined;
    w?.();
  }

  async next(): Promise<FromInit> {
    for (;;) {
      const msg = this.queue.shift();
      if (msg) return msg;
      if (this.failure) throw this.failure;
      await new Promise<void>((resolve) => { this.waiter = resolve; });
    }
  }
}

/**
 * Writes oom_score_adj for the init (inherited by the container process). Lowering
 * it below our own needs CAP_SYS_RESOURCE: without it the value is clamped to ours,
 * as containerd's restrict_oom_score_adj does.
 */
function setOomScoreAdj(pid: number, requested: number | undefined, log: RuntimeLog): void {
  if (requested === undefined) return;
  let value = Math.max(-1000, Math.min(1000, requested));
  const own = Number(fs.readFileSync('/proc/self/oom_score_adj', 'utf8').trim());
  if (value < own && !hasCapability(24)) {
    log.warn('oomScoreAdj clamped: lowering it needs CAP_SYS_RESOURCE', { requested, applied: own });
    value = own;
  }
  fs.writeFileSync(`/proc/${pid}/oom_score_adj`, String(value));
}

function hasCapability(bit: number): boolean {
  const m = /^CapEff:\s*([0-9a-f]+)$/m.exec(fs.readFileSync('/proc/self/status', 'utf8'));
  return m !== null && (BigInt(`0x${m[1]}`) & (1n << BigInt(bit))) !== 0n;
}
