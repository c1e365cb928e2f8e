// Starts a real cradled (bin/cradled, the same launcher users run) in temp dirs on
// a temp socket, side by side with any real install, and stops it afterwards.
import { mountsUnder } from '../../src/sys/mountinfo';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as net from 'node:net';
import { CriClient } from './cri-client';
import { StateLayout } from '../../src/common/state-layout';

export const REPO_ROOT = path.resolve(__dirname, '..', '..', '..');
export const CRADLED = path.join(REPO_ROOT, 'bin', 'cradled');

export interface CradledOptions {
  /** Content of the main config file (cradle.toml); written to the temp dir. */
  configToml?: string;
  /** Drop-ins by file name, written to the temp conf.d. */
  dropIns?: Record<string, string>;
  /** Extra command-line arguments. */
  args?: string[];
  /** Extra environment. */
  env?: Record<string, string>;
  /** Wait for the socket to accept connections (default true). */
  waitReady?: boolean;
}

export interface TempDirs {
  dir: string;
  socket: string;
  root: string;
  runRoot: string;
  cniDir: string;
  configFile: string;
  configDir: string;
  /** Where cradled keeps each thing under root and runRoot (the daemon's own layout). */
  layout: StateLayout;
}

/** The layout of a daemon's temp dir (also for a dir a killed run left). */
export function tempDirsAt(dir: string): TempDirs {
  return {
    dir,
    socket: path.join(dir, 'run', 'cradle.sock'),
    root: path.join(dir, 'lib'),
    runRoot: path.join(dir, 'run'),
    cniDir: path.join(dir, 'cni'),
    configFile: path.join(dir, 'cradle.toml'),
    configDir: path.join(dir, 'cradle.conf.d'),
    layout: new StateLayout(path.join(dir, 'lib'), path.join(dir, 'run')),
  };
}

/** A fresh temp layout; `sweepStale` removes layouts of killed earlier runs. */
export function makeTempDirs(prefix = 'cradle-test-'): TempDirs {
  const t = tempDirsAt(fs.mkdtempSync(path.join(os.tmpdir(), prefix)));
  fs.mkdirSync(t.configDir, { recursive: true });
  fs.mkdirSync(t.cniDir, { recursive: true });
  return t;
}

export function baseArgs(t: TempDirs): string[] {
  return [
    // A private registries.conf (the test writes it) instead of /etc/containers.
    '--image-registries-conf', path.join(t.dir, 'registries.conf'),
    '--image-registries-conf-dir', path.join(t.dir, 'registries.conf.d'),
    '--image-certs-dir', path.join(t.dir, 'certs.d'),
    '--config', t.configFile,
    '--config-dir', t.configDir,
    '--api-listen', `unix://${t.socket}`,
    '--state-root', t.root,
    '--state-run-root', t.runRoot,
    '--network-cni-config-dir', t.cniDir,
    // Tests bring their own CNI configs (test subnets, no masquerade); cradle's
    // default bridge network is only written where a test asks for it.
    '--network-write-default-config=false',
    // The tests name pod cgroup parents as paths (the cgroupfs driver); the default
    // "auto" would pick systemd on a systemd host with cgroup v2 (the VM lane's guest).
    '--runtime-cgroup-manager', 'cgroupfs',
  ];
}

/** Marks a registry (e.g. the fixture registry, plain HTTP on 127.0.0.1) insecure for this daemon. */
export function allowInsecureRegistry(t: TempDirs, host: string): void {
  fs.appendFileSync(path.join(t.dir, 'registries.conf'), `[[registry]]\nlocation = "${host}"\ninsecure = true\n`);
}

/** Mount points below dir, deepest first. */
export function mountPointsUnder(dir: string): string[] {
  return mountsUnder(fs.readFileSync('/proc/self/mountinfo', 'utf8'), dir);
}

/**
 * Kills what a test's cradled started and its test left behind (after a crash
 * test, say): container and pause processes recorded by the runtime under this
 * run root, and conmon processes working on this temp dir.
 */
export function killLeftovers(t: TempDirs): void {
  for (const handler of safeReaddir(t.layout.runtimeRoots)) {
    for (const id of safeReaddir(t.layout.runtimeRoot(handler))) {
      try {
        const state = JSON.parse(fs.readFileSync(path.join(t.layout.runtimeRoot(handler), id, 'state.json'), 'utf8')) as { pid?: number };
        if (state.pid) process.kill(state.pid, 'SIGKILL');
      } catch { /* no state or gone */ }
    }
  }
  for (const pid of safeReaddir('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      if (fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(t.dir)) process.kill(Number(pid), 'SIGKILL');
    } catch { /* gone */ }
  }
}

function safeReaddir(dir: string): string[] {
  try {
    return fs.readdirSync(dir);
  } catch {
    return [];
  }
}

export class Cradled {
  readonly stderrLines: string[] = [];
  private exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private clients: CriClient[] = [];

  constructor(readonly dirs: TempDirs, readonly proc: ChildProcess) {
    let buffered = '';
    proc.stderr!.setEncoding('utf8');
    proc.stderr!.on('data', (chunk: string) => {
      buffered += chunk;
      const lines = buffered.split('\n');
      buffered = lines.pop()!;
      this.stderrLines.push(...lines);
    });
    this.exited = new Promise((resolve) => proc.once('exit', (code, signal) => resolve({ code, signal })));
  }

  get socket(): string {
    return this.dirs.socket;
  }

  /** Best effort: removes every pod (and so every container) through the CRI. */
  private async removeAllPods(): Promise<void> {
    const cri = new CriClient(`unix://${this.dirs.socket}`);
    try {
      const { items } = await cri.runtime.ListPodSandbox({}, { timeoutMs: 5000 });
      for (const p of items) await cri.runtime.RemovePodSandbox({ podSandboxId: p.id }, { timeoutMs: 30_000 }).catch(() => undefined);
    } catch { /* daemon not serving */ } finally {
      cri.close();
    }
  }

  client(): CriClient {
    const c = new CriClient(`unix://${this.dirs.socket}`);
    this.clients.push(c);
    return c;
  }

  /** Parsed JSON log records (non-JSON lines skipped). */
  logRecords(): Record<string, unknown>[] {
    return this.stderrLines.flatMap((line) => {
      try {
        return [JSON.parse(line) as Record<string, unknown>];
      } catch {
        return [];
      }
    });
  }

  waitExit(timeoutMs = 20_000 * EMULATION_SLOWDOWN): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    return Promise.race([
      this.exited,
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`cradled did not exit within ${timeoutMs} ms`)), timeoutMs).unref()),
    ]);
  }

  /** Stops the daemon (SIGTERM, then SIGKILL) and removes its temp dirs unless keepDirs (to restart on them). */
  async stop(options: { keepDirs?: boolean } = {}): Promise<void> {
    if (!options.keepDirs && this.proc.exitCode === null && this.proc.signalCode === null) await this.removeAllPods();
    for (const c of this.clients) c.close();
    if (this.proc.exitCode === null && this.proc.signalCode === null) {
      this.proc.kill('SIGTERM');
      try {
        await this.waitExit(15_000);
      } catch {
        this.proc.kill('SIGKILL');
        await this.exited;
      }
    }
    if (!options.keepDirs) {
      killLeftovers(this.dirs);
      // cradled leaves <run_root>/ns bind-mounted (as a real install would); undo it
      // so the temp dir can go. Pod mounts are checked by the tests themselves.
      for (const mountPoint of mountPointsUnder(this.dirs.dir)) {
        try { execFileSync('umount', ['-l', mountPoint], { stdio: 'ignore' }); } catch { /* already gone */ }
      }
      fs.rmSync(this.dirs.dir, { recursive: true, force: true });
    }
  }
}

export function spawnCradled(dirs: TempDirs, options: CradledOptions = {}): Cradled {
  fs.writeFileSync(dirs.configFile, options.configToml ?? '');
  for (const [name, content] of Object.entries(options.dropIns ?? {})) fs.writeFileSync(path.join(dirs.configDir, name), content);
  const proc = spawn(CRADLED, [...baseArgs(dirs), ...(options.args ?? [])], {
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return new Cradled(dirs, proc);
}

/** Starts cradled in fresh temp dirs (or given ones, to restart) and waits until its socket accepts calls. */
export async function startCradled(options: CradledOptions = {}, dirs: TempDirs = makeTempDirs()): Promise<Cradled> {
  const daemon = spawnCradled(dirs, options);
  if (options.waitReady !== false) {
    try {
      await waitForSocket(daemon);
    } catch (err) {
      await daemon.stop();
      throw err;
    }
  }
  return daemon;
}

/**
 * How much longer cradled takes to start and stop in the VM lane's guest, where
 * everything runs under software emulation (Node's JIT above all), than on a host.
 */
export const EMULATION_SLOWDOWN = process.env.CRADLE_VM_GUEST === '1' ? 10 : 1;

export async function waitForSocket(daemon: Cradled, timeoutMs = 20_000 * EMULATION_SLOWDOWN): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (daemon.proc.exitCode !== null) {
      throw new Error(`cradled exited with ${daemon.proc.exitCode}: ${daemon.stderrLines.join('\n')}`);
    }
    if (await canConnect(daemon.socket)) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`cradled socket ${daemon.socket} not ready after ${timeoutMs} ms: ${daemon.stderrLines.join('\n')}`);
}

export function canConnect(socketPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const c = net.connect(socketPath);
    c.once('connect', () => { c.destroy(); resolve(true); });
    c.once('error', () => resolve(false));
  });
}

/** Runs `bin/cradled ARGS` to completion (for config, version, help and bad-input cases). */
export function runCradled(args: string[], env: Record<string, string> = {}, timeoutMs = 30_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const proc = spawn(CRADLED, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    proc.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    const timer = setTimeout(() => { proc.kill('SIGKILL'); reject(new Error(`cradled ${args.join(' ')} timed out: ${stderr}`)); }, timeoutMs);
    proc.on('exit', (code) => { clearTimeout(timer); resolve({ code, stdout, stderr }); });
  });
}
