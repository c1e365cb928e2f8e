// The harness's own temp dir (CNI conf dir, critest's JSON report, pids) and
// the sweep of those a killed run left: the critest it started is ended, the
// dir removed. Runtimes and the network have their own sweeps (runtime.ts,
// network.ts), which run at the next start too.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export const WORK_DIR_PREFIX = 'cradle-realcritest-run-';

export interface WorkDir {
  dir: string;
  cniDir: string;
  /** critest's pid goes here while it runs, for the sweep of a killed run. */
  critestPidFile: string;
  reportFile: string;
  remove(): void;
}

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export function readPid(file: string): number | undefined {
  try {
    return Number(fs.readFileSync(file, 'utf8').trim()) || undefined;
  } catch {
    return undefined;
  }
}

/** The pid's command line, NUL-separated ('' once it is gone). */
export function cmdline(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    return '';
  }
}

function workDirAt(dir: string): WorkDir {
  return {
    dir,
    cniDir: path.join(dir, 'cni'),
    critestPidFile: path.join(dir, 'critest.pid'),
    reportFile: path.join(dir, 'report.json'),
    remove: () => fs.rmSync(dir, { recursive: true, force: true }),
  };
}

/** Ends the critest of a killed run (only a process still running the critest named in its dir) and removes the dir. */
export function sweepStaleWorkDirs(): void {
  for (const name of fs.readdirSync(os.tmpdir())) {
    if (!name.startsWith(WORK_DIR_PREFIX)) continue;
    const work = workDirAt(path.join(os.tmpdir(), name));
    const owner = readPid(path.join(work.dir, 'owner.pid'));
    if (owner !== undefined && pidAlive(owner)) continue;
    if (owner === undefined && Date.now() - fs.statSync(work.dir).mtimeMs < 60_000) continue; // being created
    const critest = readPid(work.critestPidFile);
    if (critest !== undefined && cmdline(critest).includes(work.reportFile)) {
      try { process.kill(critest, 'SIGKILL'); } catch { /* gone */ }
    }
    work.remove();
  }
}

export function createWorkDir(): WorkDir {
  sweepStaleWorkDirs();
  const work = workDirAt(fs.mkdtempSync(path.join(os.tmpdir(), WORK_DIR_PREFIX)));
  fs.writeFileSync(path.join(work.dir, 'owner.pid'), String(process.pid));
  fs.mkdirSync(work.cniDir);
  return work;
}
