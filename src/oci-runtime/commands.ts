// start, state, kill, delete, pause, resume, ps, update: each reads the saved
// state, derives the status as runc does and acts on the init pid and cgroups.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as c from '../sys/constants';
import { savedCgroupManager, type CgroupManager } from './cgroups';
import { containerDir, deriveStatus, isAlive, ociState, readSaved, sleepMs, waitGone, type OciState, type SavedState, type Status } from './state';
import type { OciHook, OciResources } from '../common/oci-spec';
import type { RuntimeLog } from './log';

export class Container {
  readonly saved: SavedState;
  readonly cgroups: CgroupManager;

  constructor(readonly root: string, readonly id: string) {
    this.saved = readSaved(root, id);
    this.cgroups = savedCgroupManager(this.saved.cgroupVersion, this.saved.cgroupPaths, undefined, this.saved.systemdCgroup ? this.saved.cgroupsPath : undefined);
  }

  get dir(): string {
    return containerDir(this.root, this.id);
  }

  status(): Status {
    return deriveStatus(this.root, this.saved, () => this.cgroups.isFrozen());
  }

  state(): OciState {
    return ociState(this.saved, this.status());
  }
}

/** Hooks need child_process: loaded only when a container has some. */
function runHooks(kind: string, hooks: OciHook[] | undefined, stateJson: string): void {
  if (!hooks?.length) return;
  (require('./hooks') as typeof import('./hooks')).runHooks(kind, hooks, stateJson);
}

export function start(root: string, id: string, log: RuntimeLog): void {
  const ctr = new Container(root, id);
  const status = ctr.status();
  if (status !== 'created') throw new Error(`cannot start a container in the ${status} state (want created)`);
  const fifo = path.join(ctr.dir, 'exec.fifo');
  // Non-blocking so a dead init cannot hang us: poll until it writes its byte.
  const fd = fs.openSync(fifo, c.O_RDONLY | c.O_NONBLOCK | c.O_CLOEXEC);
  try {
    const buf = Buffer.alloc(1);
    for (;;) {
      let n = 0;
      try {
        n = fs.readSync(fd, buf, 0, 1, null);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') throw err;
      }
      if (n > 0) break;
      if (!isAlive(ctr.saved)) throw new Error('the container init exited before start');
      sleepMs(1);
    }
  } finally {
    fs.closeSync(fd);
  }
  fs.rmSync(fifo, { force: true });
  try {
    runHooks('poststart', ctr.saved.hooks?.poststart, JSON.stringify(ociState(ctr.saved, 'running')));
  } catch (err) {
    log.warn(`poststart hook failed: ${(err as Error).message}`);
    throw err;
  }
}

export function parseSignal(value: string | undefined): number {
  if (value === undefined || value === '') return os.constants.signals.SIGTERM;
  if (/^\d+$/.test(value)) return Number(value);
  const name = (value.toUpperCase().startsWith('SIG') ? value.toUpperCase() : `SIG${value.toUpperCase()}`) as keyof typeof os.constants.signals;
  const n = os.constants.signals[name];
  if (n === undefined) throw new Error(`unknown signal ${JSON.stringify(value)}`);
  return n;
}

export function kill(root: string, id: string, signal: string | undefined, all: boolean): void {
  const ctr = new Container(root, id);
  const sig = parseSignal(signal);
  const status = ctr.status();
  // As runc: --all still reaches processes left in the cgroup after the init exited.
  if (status === 'stopped' && !all) throw new Error('container not running');
  if (all) {
    for (const pid of ctr.cgroups.pids()) {
      try { process.kill(pid, sig); } catch { /* already gone */ }
    }
    if (status === 'paused') ctr.cgroups.freeze(false);
  } else {
    process.kill(ctr.saved.pid, sig);
  }
}

export function del(root: string, id: string, force: boolean, log: RuntimeLog): void {
  let ctr: Container;
  try {
    ctr = new Container(root, id);
  } catch (err) {
    // A state dir without state.json is a create that died half-way: remove it.
    if (force) {
      fs.rmSync(containerDir(root, id), { recursive: true, force: true });
      return;
    }
    throw err;
  }
  const status = ctr.status();
  if ((status === 'running' || status === 'paused') && !force) {
    throw new Error(`cannot delete container ${id} that is not stopped: ${status}`);
  }
  if (status !== 'stopped') {
    for (const pid of new Set([ctr.saved.pid, ...ctr.cgroups.pids()])) {
      try { process.kill(pid, 'SIGKILL'); } catch { /* already gone */ }
    }
    if (status === 'paused') ctr.cgroups.freeze(false);
    if (!waitGone(ctr.saved.pid, 10000)) throw new Error(`container ${id}: init ${ctr.saved.pid} did not die after SIGKILL`);
  }
  // Processes the init left behind (host or shared PID namespace) go with --force.
  if (force) {
    for (const pid of ctr.cgroups.pids()) {
      try { process.kill(pid, 'SIGKILL'); } catch { /* already gone */ }
    }
  }
  // Other processes of the container may still be exiting.
  for (let i = 0; i < 200 && ctr.cgroups.pids().length > 0; i++) sleepMs(5);
  ctr.cgroups.destroy();
  fs.rmSync(ctr.dir, { recursive: true, force: true });
  try {
    runHooks('poststop', ctr.saved.hooks?.poststop, JSON.stringify(ociState(ctr.saved, 'stopped')));
  } catch (err) {
    log.warn(`poststop hook failed: ${(err as Error).message}`);
  }
}

export function pause(root: string, id: string, frozen: boolean): void {
  const ctr = new Container(root, id);
  const status = ctr.status();
  if (frozen && status !== 'running' && status !== 'created') throw new Error(`cannot pause a container in the ${status} state`);
  if (!frozen && status !== 'paused') throw new Error(`cannot resume a container in the ${status} state (not paused)`);
  ctr.cgroups.freeze(frozen);
}

export function ps(root: string, id: string, format: string, psArgs: string[]): string {
  const ctr = new Container(root, id);
  const pids = ctr.cgroups.pids();
  if (format === 'json') return JSON.stringify(pids) + '\n';
  const { spawnSync } = require('node:child_process') as typeof import('node:child_process');
  const out = spawnSync('ps', psArgs.length ? psArgs : ['-ef'], { encoding: 'utf8' });
  if (out.status !== 0) throw new Error(`ps ${psArgs.join(' ')}: ${out.stderr}`);
  const lines = out.stdout.split('\n');
  const header = lines[0] ?? '';
  const pidCol = header.trim().split(/\s+/).indexOf('PID');
  if (pidCol < 0) throw new Error('ps output has no PID column');
  const wanted = new Set(pids);
  return [header, ...lines.slice(1).filter((l) => wanted.has(Number(l.trim().split(/\s+/)[pidCol])))].join('\n') + '\n';
}

export function update(root: string, id: string, resources: OciResources): void {
  const ctr = new Container(root, id);
  const status = ctr.status();
  if (status === 'stopped') throw new Error('cannot update a stopped container');
  const limit = resources.memory?.limit;
  if (limit !== undefined && limit > 0 && limit < 4 * 1024 * 1024) throw new Error(`memory limit ${limit} is too small`);
  if (resources.devices && ctr.cgroups.version === 2) {
    // Programs attached with BPF_F_ALLOW_MULTI all have to allow: a second one could only narrow.
    throw new Error('device rules cannot be updated on cgroup v2');
  }
  ctr.cgroups.set(resources);
}
