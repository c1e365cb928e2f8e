// Shared plumbing for the runtime integration tests: runs cradle-runtime (or runc)
// through its CLI exactly as conmon would, collects the container's output, and
// cleans state dirs, cgroups and bundles even after a killed earlier run.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { cleanChildEnv } from '../../../src/common/child-env';
import { defaultSpec, makeBusyboxRootfs, writeSpec } from '../../helpers/rootfs';
import type { OciSpec } from '../../../src/common/oci-spec';
import { removeLaunchPlan, writeLaunchPlan } from '../../../src/oci-runtime/launch-plan';
import { EXEC_PLAN_FILE, writeExecPlan } from '../../../src/oci-runtime/exec-plan';
import { launcherRepo } from '../../helpers/launcher-repo';

export const REPO = path.resolve(__dirname, '../../../..');
export const CRADLE_RUNTIME = path.join(REPO, 'bin', 'cradle-runtime');
export const RUNC = '/usr/sbin/runc';
export const PREFIX = 'cradle-test-rt-';
const CGROUP_ROOT = '/sys/fs/cgroup';
/** A pure cgroup v2 host (the VM lane's guest): one hierarchy at the root. */
export const CGROUP_V2_ONLY = fs.existsSync(path.join(CGROUP_ROOT, 'cgroup.controllers'));
/** The hierarchies a container's cgroup lives in: each v1 controller's, or the unified root. */
const hierarchies = (): string[] => (CGROUP_V2_ONLY ? [CGROUP_ROOT] : fs.readdirSync(CGROUP_ROOT).map((c) => path.join(CGROUP_ROOT, c)));

export function isRoot(): boolean {
  return process.getuid?.() === 0;
}

let counter = 0;
export function uniqueId(tag: string): string {
  return `${PREFIX}${tag}-${process.pid}-${++counter}`;
}

/**
 * True for names made by uniqueId() in a test process that is gone. Names of live
 * test processes (test files run concurrently) are never touched.
 */
function isStale(name: string): boolean {
  const m = /^cradle-test-rt-[a-z0-9-]+?-(\d+)-\d+/.exec(name);
  if (!m) return false;
  return !fs.existsSync(`/proc/${m[1]}`);
}

/** Removes leftovers of earlier (killed) runs: bundles, state roots and cgroups with our prefix. */
export function sweepStale(): void {
  for (const entry of fs.readdirSync(os.tmpdir())) {
    if (isStale(entry)) fs.rmSync(path.join(os.tmpdir(), entry), { recursive: true, force: true });
  }
  for (const dir of hierarchies()) {
    try {
      if (fs.lstatSync(dir).isSymbolicLink()) continue;
      for (const entry of fs.readdirSync(dir)) {
        if (isStale(entry)) killAndRemoveCgroup(path.join(dir, entry));
      }
    } catch {
      // not a hierarchy
    }
  }
}

/** Kills what is left in a cgroup and removes it (retrying while the kills land). */
export function killAndRemoveCgroup(dir: string): void {
  try {
    for (const pid of fs.readFileSync(path.join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean)) {
      try { process.kill(Number(pid), 'SIGKILL'); } catch { /* gone */ }
    }
  } catch {
    // no procs file
  }
  for (let i = 0; i < 100; i++) {
    try {
      fs.rmdirSync(dir);
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10);
    }
  }
}

export type Runtime = 'cradle' | 'runc';

/**
 * Which create cradle-runtime runs: "native" (a launch plan is written next to
 * config.json, as cradled does) or "node" (no plan: the Node CLI does the create).
 * CRADLE_TEST_LAUNCHER=node runs a whole file on the Node path.
 */
export type Launcher = 'native' | 'node';
export function defaultLauncher(): Launcher {
  return process.env.CRADLE_TEST_LAUNCHER === 'node' ? 'node' : 'native';
}

/**
 * A repo layout holding a copy of the launcher and, where the Node CLI would be, a
 * script that only leaves a marker: a command that starts Node at any point leaves it.
 */
export function fakeRepo(dir: string): { bin: string; marker: string } {
  const marker = path.join(dir, 'node-started');
  return { bin: launcherRepo(dir, 'fake-repo', `echo "$@" > ${marker}\nexit 99`).bin, marker };
}

/** One container under test: its bundle, state root and cgroup, all removed by cleanup(). */
export class TestContainer {
  readonly id: string;
  readonly dir: string;
  readonly bundle: string;
  readonly root: string;
  readonly cgroupsPath: string;
  readonly outFile: string;
  readonly errFile: string;
  spec: OciSpec;
  launcher: Launcher = defaultLauncher();
  /** Whether the last writeSpec() left a launch plan (false: the spec needs the Node path). */
  planned = false;
  /** Global flags after --root, as conmon passes the handler's (e.g. --systemd-cgroup). */
  globalFlags: string[] = [];

  constructor(readonly runtime: Runtime, tag: string, args: string[]) {
    this.id = uniqueId(tag);
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), `${this.id}-`));
    this.bundle = path.join(this.dir, 'bundle');
    this.root = path.join(this.dir, 'state');
    fs.mkdirSync(this.bundle);
    makeBusyboxRootfs(this.bundle);
    this.cgroupsPath = `/${this.id}`;
    this.spec = defaultSpec(args, this.cgroupsPath);
    this.outFile = path.join(this.dir, 'out');
    this.errFile = path.join(this.dir, 'err');
  }

  writeSpec(spec: unknown = this.spec): void {
    writeSpec(this.bundle, spec);
    this.planned = this.runtime === 'cradle' && this.launcher === 'native' ? writeLaunchPlan(this.bundle, this.id) : false;
    if (!this.planned) removeLaunchPlan(this.bundle);
  }

  /**
   * `exec --process processFile [flags] <id>`: with the native launcher, an exec plan is
   * written beside processFile first, as cradled does (`planned` tells whether one was).
   */
  exec(processFile: string, flags: string[] = [], options: { stdio?: (number | 'ignore' | 'pipe')[] } = {}): SpawnSyncReturns<string> & { planned: boolean } {
    const planned = this.runtime === 'cradle' && this.launcher === 'native' ? writeExecPlan(this.root, this.id, processFile) : false;
    if (!planned) fs.rmSync(path.join(path.dirname(processFile), EXEC_PLAN_FILE), { force: true });
    return { ...this.cli(['exec', ...flags, '--process', processFile, this.id], options), planned };
  }

  /** Runs a CLI command of this container's runtime (global --root first, as conmon does). */
  cli(args: string[], options: { stdio?: (number | 'ignore' | 'pipe')[]; input?: string } = {}): SpawnSyncReturns<string> {
    const bin = this.runtime === 'cradle' ? CRADLE_RUNTIME : RUNC;
    return spawnSync(bin, ['--root', this.root, ...this.globalFlags, ...args], {
      encoding: 'utf8', env: cleanChildEnv(), timeout: 60000, stdio: options.stdio ?? ['ignore', 'pipe', 'pipe'],
      ...(options.input !== undefined ? { input: options.input } : {}),
    });
  }

  /**
   * create with the container's stdout/stderr going to files, as conmon's pipes
   * would. The runtime also inherits an unrelated host directory as fd 20 (trap 5:
   * Node only marks fds 0-15 close-on-exec, so this one reaches the init and must
   * not reach the container).
   */
  create(extra: string[] = []): SpawnSyncReturns<string> {
    const out = fs.openSync(this.outFile, 'a');
    const err = fs.openSync(this.errFile, 'a');
    const leak = fs.openSync(this.dir, 'r');
    const errBefore = fs.fstatSync(err).size;
    try {
      const r = this.cli(['create', '--bundle', this.bundle, '--pid-file', path.join(this.dir, 'pid'), ...extra, this.id],
        { stdio: ['ignore', out, err, ...new Array<'ignore'>(17).fill('ignore'), leak] });
      // The runtime's stderr is the container's: what it wrote during create is its error message.
      return { ...r, stderr: fs.readFileSync(this.errFile, 'utf8').slice(errBefore) };
    } finally {
      fs.closeSync(out);
      fs.closeSync(err);
      fs.closeSync(leak);
    }
  }

  state(): { status: string; pid: number } | undefined {
    const r = this.cli(['state', this.id]);
    if (r.status !== 0) return undefined;
    return JSON.parse(r.stdout) as { status: string; pid: number };
  }

  async waitStopped(timeoutMs = 20000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const st = this.state();
      if (!st || st.status === 'stopped') return;
      await new Promise((r) => setTimeout(r, 25));
    }
    throw new Error(`${this.id} did not stop within ${timeoutMs} ms`);
  }

  /** create + start + wait; returns what the container wrote. */
  async run(): Promise<{ stdout: string; stderr: string }> {
    this.writeSpec();
    const c = this.create();
    if (c.status !== 0) throw new Error(`create failed (${c.status}): ${c.stderr}${fs.readFileSync(this.errFile, 'utf8')}`);
    const s = this.cli(['start', this.id]);
    if (s.status !== 0) throw new Error(`start failed (${s.status}): ${s.stderr}`);
    await this.waitStopped();
    return { stdout: fs.readFileSync(this.outFile, 'utf8'), stderr: fs.readFileSync(this.errFile, 'utf8') };
  }

  /** The container's cgroup directory for a v1 controller; on v2 the one unified directory. */
  cgroupDir(controller: string): string {
    return CGROUP_V2_ONLY ? path.join(CGROUP_ROOT, this.cgroupsPath) : path.join(CGROUP_ROOT, controller, this.cgroupsPath);
  }

  cleanup(): void {
    this.cli(['delete', '--force', this.id]);
    for (const dir of hierarchies()) killAndRemoveCgroup(path.join(dir, this.cgroupsPath));
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Leftover cgroup dirs of a container (should be none after delete). */
export function leftoverCgroups(cgroupsPath: string): string[] {
  return hierarchies()
    .map((dir) => path.join(dir, cgroupsPath))
    .filter((d) => { try { return fs.lstatSync(path.dirname(d)).isDirectory() && fs.existsSync(d); } catch { return false; } });
}
