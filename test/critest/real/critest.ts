// Runs the critest binary (cri-tools' validation suite, a ginkgo v2 test
// binary) against an endpoint, its output streamed to a log file and to our
// stdout, and reads the outcome from ginkgo's JSON report.
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import { cleanChildEnv } from '../../../src/common/child-env';

export interface CritestRun {
  binary: string;
  endpoint: string;
  /** Regexps of spec texts to skip (ginkgo -skip; critest adds its own `benchmark`). */
  skip: readonly string[];
  extraArgs: readonly string[];
  logFile: string;
  reportFile: string;
  pidFile: string;
}

export interface RunningCritest {
  proc: ChildProcess;
  exited: Promise<number>;
}

export function critestArgs(run: CritestRun): string[] {
  return [
    `--runtime-endpoint=${run.endpoint}`,
    `--image-endpoint=${run.endpoint}`,
    '-ginkgo.no-color',
    `-ginkgo.json-report=${run.reportFile}`,
    ...run.skip.map((pattern) => `-ginkgo.skip=${pattern}`),
    ...run.extraArgs,
  ];
}

export function startCritest(run: CritestRun): RunningCritest {
  const log = fs.createWriteStream(run.logFile);
  const args = critestArgs(run);
  log.write(`# ${run.binary} ${args.join(' ')}\n`);
  const proc = spawn(run.binary, args, { stdio: ['ignore', 'pipe', 'pipe'], env: cleanChildEnv() });
  if (proc.pid) fs.writeFileSync(run.pidFile, String(proc.pid));
  for (const stream of [proc.stdout!, proc.stderr!]) {
    stream.on('data', (chunk: Buffer) => {
      log.write(chunk);
      process.stdout.write(chunk);
    });
  }
  const exited = new Promise<number>((resolve) => {
    proc.once('close', (code, signal) => {
      fs.rmSync(run.pidFile, { force: true });
      log.end(() => resolve(code ?? (signal ? 128 : 1)));
    });
  });
  return { proc, exited };
}

/** One spec of ginkgo's JSON report (the fields we read). */
interface SpecReport {
  ContainerHierarchyTexts?: string[] | null;
  LeafNodeText?: string;
  LeafNodeType?: string;
  State?: string;
  RunTime?: number;
  Failure?: { Message?: string; Location?: { FileName?: string; LineNumber?: number } };
}

export interface SpecOutcome {
  name: string;
  state: string;
  /** First lines of the failure message, and where. */
  failure?: string;
}

export interface CritestSummary {
  counts: Record<string, number>;
  specs: SpecOutcome[];
  runTimeSeconds: number;
}

function failureText(report: SpecReport): string | undefined {
  const failure = report.Failure;
  if (!failure?.Message) return undefined;
  const where = failure.Location?.FileName ? ` (${failure.Location.FileName.replace(/^.*\/cri-tools[^/]*\//, '')}:${failure.Location.LineNumber})` : '';
  return `${failure.Message.trim().split('\n').slice(0, 6).join(' | ')}${where}`;
}

/** Counts by state (passed, failed, skipped, pending, …) of the It specs, and each spec's outcome. */
export function summarize(reportFile: string): CritestSummary {
  const suites = JSON.parse(fs.readFileSync(reportFile, 'utf8')) as { SpecReports?: SpecReport[]; RunTime?: number }[];
  const specs: SpecOutcome[] = [];
  const counts: Record<string, number> = {};
  let runTime = 0;
  for (const suite of suites) {
    runTime += suite.RunTime ?? 0;
    for (const report of suite.SpecReports ?? []) {
      // Suite nodes (BeforeSuite, ReportAfterSuite…) fail the run too: counted under their own type.
      const isSpec = report.LeafNodeType === 'It';
      const state = report.State ?? 'unknown';
      if (!isSpec && state === 'passed') continue;
      const key = isSpec ? state : `${report.LeafNodeType} ${state}`;
      counts[key] = (counts[key] ?? 0) + 1;
      const name = [...(report.ContainerHierarchyTexts ?? []), report.LeafNodeText ?? report.LeafNodeType ?? ''].join(' ').trim();
      const outcome: SpecOutcome = { name, state: key };
      const failure = failureText(report);
      if (failure) outcome.failure = failure;
      specs.push(outcome);
    }
  }
  return { counts, specs, runTimeSeconds: runTime / 1e9 };
}

export function formatSummary(s: CritestSummary): string {
  const lines = [
    `critest: ${['passed', 'failed', 'skipped', 'pending'].map((k) => `${s.counts[k] ?? 0} ${k}`).join(', ')}` +
      Object.entries(s.counts).filter(([k]) => !['passed', 'failed', 'skipped', 'pending'].includes(k)).map(([k, n]) => `, ${n} ${k}`).join('') +
      ` (suite ${s.runTimeSeconds.toFixed(0)} s)`,
  ];
  // Skipped specs are named only when few: a -ginkgo.focus run skips most of the suite.
  const listSkipped = (s.counts.skipped ?? 0) <= 10;
  const notPassed = s.specs.filter((spec) => spec.state !== 'passed' && (listSkipped || spec.state !== 'skipped'))
    .sort((a, b) => a.state.localeCompare(b.state) || a.name.localeCompare(b.name));
  for (const spec of notPassed) lines.push(`  [${spec.state}] ${spec.name}${spec.failure ? `\n      ${spec.failure}` : ''}`);
  return `${lines.join('\n')}\n`;
}
