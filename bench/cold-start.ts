// Cold start: time from exec of the daemon to its socket accepting a connection,
// cradled (bin/cradled, fresh state dir each round) against containerd (the
// reference config of the tests, its state kept between rounds) in the same run.
// Rounds alternate between the two so machine load hits both alike. Besides the
// wall time, the daemon's CPU time (user + system) up to that moment: on a busy
// host it is the steadier figure.
// Run: npm run build && ./node_modules/.bin/node dist/bench/cold-start.js [rounds]
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { canConnect, makeTempDirs, spawnCradled } from '../test/helpers/daemon';
import { CONTAINERD, referenceAvailable, startReferenceContainerd } from '../test/reference/containerd';
import { cpuTimeOf } from './lib/procfs';

interface Round { ms: number; cpuMs: number }

const POLL_MS = 2;

async function untilConnects(socket: string, proc: ChildProcess): Promise<void> {
  while (!(await canConnect(socket))) {
    if (proc.exitCode !== null) throw new Error(`${proc.spawnfile} exited with ${proc.exitCode}`);
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

async function stop(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = new Promise((resolve) => proc.once('exit', resolve));
  proc.kill('SIGTERM');
  await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 10_000))]);
  if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
}

async function cradledRound(): Promise<Round> {
  const dirs = makeTempDirs('cradle-bench-');
  const t0 = performance.now();
  const daemon = spawnCradled(dirs);
  try {
    await untilConnects(daemon.socket, daemon.proc);
    const ms = performance.now() - t0;
    return { ms, cpuMs: cpuTimeOf(daemon.proc.pid!).self };
  } finally {
    await daemon.stop();
  }
}

async function containerdRound(dir: string): Promise<Round & { proc: ChildProcess }> {
  const env = { ...process.env };
  for (const key of Object.keys(env)) if (key.startsWith('NODE_')) delete env[key];
  const socket = path.join(dir, 'containerd.sock');
  fs.rmSync(socket, { force: true });
  const t0 = performance.now();
  const proc = spawn(CONTAINERD, ['--config', path.join(dir, 'config.toml')], { stdio: 'ignore', env });
  await untilConnects(socket, proc);
  const ms = performance.now() - t0;
  return { ms, cpuMs: cpuTimeOf(proc.pid!).self, proc };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

async function main(): Promise<void> {
  const rounds = Number(process.argv[2] ?? 7);
  const cradled: Round[] = [];
  const containerd: Round[] = [];
  const withReference = referenceAvailable();
  const cniDir = fs.mkdtempSync('/tmp/cradle-bench-cni-');
  const reference = withReference ? await startReferenceContainerd({ cniConfDir: cniDir }) : undefined;
  try {
    if (reference) await stop(reference.proc);
    for (let i = 0; i < rounds; i++) {
      cradled.push(await cradledRound());
      if (reference) {
        const round = await containerdRound(reference.dir);
        reference.proc = round.proc;
        containerd.push(round);
        await stop(round.proc);
      }
    }
  } finally {
    await reference?.stop();
    fs.rmSync(cniDir, { recursive: true, force: true });
  }
  const fmt = (values: number[]) => `median ${median(values).toFixed(0)} ms (${values.map((v) => v.toFixed(0)).join(', ')})`;
  const wall = (rounds: Round[]) => rounds.map((r) => r.ms);
  const cpu = (rounds: Round[]) => rounds.map((r) => r.cpuMs);
  console.log(`cradled exec → socket accepts: ${fmt(wall(cradled))}; CPU by then ${fmt(cpu(cradled))}`);
  if (containerd.length > 0) {
    console.log(`containerd exec → socket accepts: ${fmt(wall(containerd))}; CPU by then ${fmt(cpu(containerd))}`);
    console.log(`ratio cradled / containerd: wall ${(median(wall(cradled)) / median(wall(containerd))).toFixed(2)}, CPU ${(median(cpu(cradled)) / median(cpu(containerd))).toFixed(2)}`);
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
