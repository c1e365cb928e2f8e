// Runs the real cri-tools conformance suite (critest, built separately: see
// test/critest/README.md) against cradled from this checkout or the reference
// containerd, offline: images from the fixture registry through mirrors, pods
// on a network with no way out. Not part of `npm test`.
//
//   node dist/test/critest/real/run.js --target cradle|containerd --critest /path/to/critest \
//     [--log FILE] [--no-default-skips] [-- extra critest args, e.g. -ginkgo.focus=Networking]
//
// Everything it starts is removed at the end, also on failure or SIGINT/SIGTERM;
// what a killed run left is swept at the next start.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { startFixtureRegistry, type FixtureRegistry } from '../../helpers/registry';
import { removeCgroupParent } from '../../helpers/cgroup-cleanup';
import { formatSummary, startCritest, summarize, type RunningCritest } from './critest';
import { pushCritestImages } from './images';
import { startTarget, sweepStaleCradleds, type RunningTarget, type TargetName } from './runtime';
import { createWorkDir, type WorkDir } from './workdir';

/** Specs that cannot pass offline whatever the runtime does. */
export const DEFAULT_SKIPS: readonly { pattern: string; why: string }[] = [
  {
    pattern: 'public image with digest should be pulled and removed',
    why: 'pulls test-image-digest@sha256:9700f9…, a digest of upstream manifest bytes no offline image can have',
  },
];

interface Options {
  target: TargetName;
  critest: string;
  logFile: string;
  defaultSkips: boolean;
  extraArgs: string[];
}

const USAGE = 'usage: run.js --target cradle|containerd --critest PATH [--log FILE] [--no-default-skips] [-- critest args]';

function parseArgs(argv: string[]): Options {
  const dash = argv.indexOf('--');
  const own = dash < 0 ? argv : argv.slice(0, dash);
  const extraArgs = dash < 0 ? [] : argv.slice(dash + 1);
  let target: string | undefined;
  let critest: string | undefined;
  let logFile: string | undefined;
  let defaultSkips = true;
  for (let i = 0; i < own.length; i++) {
    const arg = own[i];
    const value = (): string => {
      const v = own[++i];
      if (v === undefined) throw new Error(`${arg} needs a value\n${USAGE}`);
      return v;
    };
    if (arg === '--target') target = value();
    else if (arg === '--critest') critest = value();
    else if (arg === '--log') logFile = value();
    else if (arg === '--no-default-skips') defaultSkips = false;
    else throw new Error(`unknown argument ${arg}\n${USAGE}`);
  }
  if (target !== 'cradle' && target !== 'containerd') throw new Error(`--target must be cradle or containerd\n${USAGE}`);
  if (!critest) throw new Error(`--critest is required\n${USAGE}`);
  fs.accessSync(critest, fs.constants.X_OK);
  return {
    target, critest: path.resolve(critest), defaultSkips, extraArgs,
    logFile: path.resolve(logFile ?? path.join(os.tmpdir(), `critest-${target}.log`)),
  };
}

/** `x.log` → `x.<suffix>` beside it. */
function besideLog(logFile: string, suffix: string): string {
  return logFile.replace(/\.log$/, '') + `.${suffix}`;
}

function say(line: string): void {
  process.stdout.write(`[realcritest] ${line}\n`);
}

async function main(): Promise<number> {
  const o = parseArgs(process.argv.slice(2));
  if (process.getuid?.() !== 0) throw new Error('run as root (runtimes, CNI, iptables)');
  const started = Date.now();
  const cleanups: (() => Promise<void> | void)[] = [];
  let critest: RunningCritest | undefined;
  let interrupted = false;
  const onSignal = (signal: NodeJS.Signals) => {
    interrupted = true;
    say(`${signal}: stopping critest, then cleaning up`);
    // ginkgo runs the current spec's AfterEach (pod removal) on SIGINT.
    critest?.proc.kill('SIGINT');
    setTimeout(() => critest?.proc.kill('SIGKILL'), 30_000).unref();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const checkInterrupted = () => { if (interrupted) throw new Error('interrupted'); };

  try {
    const work: WorkDir = createWorkDir();
    cleanups.push(() => work.remove());
    // A killed run's cradled may still hold rcrit0 pods; containerd's leftovers are swept by its start.
    await sweepStaleCradleds();

    say('starting the fixture registry and pushing the critest images');
    const registry: FixtureRegistry = await startFixtureRegistry();
    cleanups.push(() => registry.stop());
    const pushed = await pushCritestImages(registry);
    say(`${pushed} images at ${registry.host}`);
    checkInterrupted();

    const runtimeLog = besideLog(o.logFile, 'runtime.log');
    // Runs after the target stops: critest's pods name no cgroup parent, so cradle puts them under its default.
    if (o.target === 'cradle') cleanups.push(() => removeCgroupParent('cradle'));
    const target: RunningTarget = await startTarget(o.target, { registryHost: registry.host, cniDir: work.cniDir, runtimeLog });
    cleanups.push(() => target.stop());
    say(`${target.name} at ${target.endpoint} (its log: ${runtimeLog})`);
    checkInterrupted();

    const skips = o.defaultSkips ? DEFAULT_SKIPS : [];
    for (const s of skips) say(`skipping "${s.pattern}": ${s.why}`);
    critest = startCritest({
      binary: o.critest, endpoint: target.endpoint, skip: skips.map((s) => s.pattern), extraArgs: o.extraArgs,
      logFile: o.logFile, reportFile: work.reportFile, pidFile: work.critestPidFile,
    });
    const code = await critest.exited;
    critest = undefined;

    const summaryFile = besideLog(o.logFile, 'summary.txt');
    let summary = `critest exited with ${code}; no JSON report\n`;
    if (fs.existsSync(work.reportFile)) {
      summary = formatSummary(summarize(work.reportFile));
      fs.copyFileSync(work.reportFile, besideLog(o.logFile, 'report.json'));
    }
    const wall = ((Date.now() - started) / 1000).toFixed(0);
    summary += `target ${o.target}, wall time ${wall} s (images, runtime start and cleanup included), critest exit code ${code}\n`;
    fs.writeFileSync(summaryFile, summary);
    process.stdout.write(`\n${summary}`);
    say(`log: ${o.logFile}, summary: ${summaryFile}`);
    return code === 0 && !interrupted ? 0 : 1;
  } finally {
    say('cleaning up');
    for (const cleanup of cleanups.reverse()) {
      try {
        await cleanup();
      } catch (err) {
        say(`cleanup step failed: ${(err as Error).message}`);
      }
    }
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`[realcritest] ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
