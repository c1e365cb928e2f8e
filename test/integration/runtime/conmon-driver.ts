// Drives conmon the way cri-o does (sync and start pipes, daemonizing conmon).
// Run directly (`node conmon-driver.js DIR BUNDLE ID ROOT`), it creates and starts
// a container and then waits to be killed: the survival test SIGKILLs it.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import { cleanChildEnv } from '../../../src/common/child-env';
import { CRADLE_RUNTIME } from './harness';

export interface ConmonTarget {
  id: string;
  dir: string;
  bundle: string;
  root: string;
}

export const CONMON = '/usr/bin/conmon';

export interface ConmonRun {
  logFile: string;
  exitFile: string;
  persistDir: string;
  conmonPid: number;
}

/** Starts conmon as cri-o does; resolves with the container pid from the sync pipe. */
export async function conmonCreate(ctr: ConmonTarget, terminal = false): Promise<ConmonRun> {
  const exitDir = path.join(ctr.dir, 'exits');
  const persistDir = path.join(ctr.dir, 'persist');
  const sockDir = path.join(ctr.dir, 'sock');
  for (const d of [exitDir, persistDir, sockDir]) fs.mkdirSync(d);
  const logFile = path.join(ctr.dir, 'ctr.log');
  const args = [
    '--api-version', '1', '-b', ctr.bundle, '-c', ctr.id, '-u', ctr.id, '-n', ctr.id, '--exit-dir', exitDir,
    '-l', `k8s-file:${logFile}`, '--log-level', 'debug', '-P', path.join(ctr.dir, 'conmon.pid'), '-p', path.join(ctr.dir, 'pid'),
    '--persist-dir', persistDir, '-r', CRADLE_RUNTIME, '--runtime-arg', `--root=${ctr.root}`, '--socket-dir-path', sockDir,
    ...(terminal ? ['-t'] : []),
  ];
  // conmon writes its "oom" file into its working directory too: the bundle, as cradled runs it.
  const child = spawn(CONMON, args, {
    cwd: ctr.bundle,
    stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'],
    env: cleanChildEnv({ _OCI_SYNCPIPE: '3', _OCI_STARTPIPE: '4' }),
  });
  const sync = child.stdio[3] as Readable;
  const startPipe = child.stdio[4] as Writable;
  startPipe.on('error', () => undefined);
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
  startPipe.write(Buffer.from([0]));
  const message = await new Promise<string>((resolve, reject) => {
    let buf = '';
    sync.on('data', (d: Buffer) => {
      buf += d.toString();
      if (buf.includes('}')) resolve(buf);
    });
    sync.on('error', reject);
    sync.on('close', () => resolve(buf));
  });
  sync.destroy();
  startPipe.destroy();
  const parsed = JSON.parse(message.slice(0, message.indexOf('}') + 1)) as { data: number; message?: string };
  if (parsed.data <= 0) throw new Error(`conmon reported ${message} ${stderr}`);
  return {
    logFile, exitFile: path.join(exitDir, ctr.id), persistDir,
    conmonPid: Number(fs.readFileSync(path.join(ctr.dir, 'conmon.pid'), 'utf8')),
  };
}

export async function waitFor(file: string, timeoutMs = 20000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      const text = fs.readFileSync(file, 'utf8');
      if (text !== '') return text;
    } catch {
      // not yet
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`${file} did not appear`);
}

if (require.main === module) {
  const [dir, bundle, id, root] = process.argv.slice(2) as [string, string, string, string];
  void conmonCreate({ dir, bundle, id, root }).then(() => {
    const r = spawnSync(CRADLE_RUNTIME, ['--root', root, 'start', id], { env: cleanChildEnv(), stdio: 'ignore' });
    fs.writeFileSync(path.join(dir, 'driver-started'), String(r.status));
    setInterval(() => undefined, 1000);
  });
}
