// The README's crictl walk-through (version, info, pull, runp, create, start,
// exec -i, logs, stopp, rmp) with an unpatched crictl (cri-tools, grpc-go)
// against cradled from this checkout or the reference containerd, set up as
// run.ts does: crictl reads a config file naming the runtime's socket, as
// users' /etc/crictl.yaml does. Prints each step's outcome; exits 1 if any failed.
//
//   node dist/test/critest/real/crictl-smoke.js --target cradle|containerd --crictl /path/to/crictl
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { cleanChildEnv } from '../../../src/common/child-env';
import { startFixtureRegistry } from '../../helpers/registry';
import { CRITEST_IMAGES, pushCritestImages } from './images';
import { startTarget, sweepStaleCradleds, type TargetName } from './runtime';
import { createWorkDir } from './workdir';

const BUSYBOX = CRITEST_IMAGES.find((i) => i.name.includes('/busybox:'))!.name;
const GREETING = 'hello-from-container';

interface Step {
  args: string[];
  stdin?: string;
  /** What stdout must contain (besides exit code 0). */
  expect?: string;
}

interface StepResult {
  command: string;
  ok: boolean;
  stdout: string;
  detail: string;
}

function runCrictl(crictl: string, configFile: string, step: Step): StepResult {
  const r = spawnSync(crictl, ['--config', configFile, ...step.args], {
    input: step.stdin ?? '', encoding: 'utf8', timeout: 60_000, env: cleanChildEnv(),
  });
  const stdout = r.stdout ?? '';
  const ok = r.status === 0 && (step.expect === undefined || stdout.includes(step.expect));
  const why = r.error ? r.error.message : `exit ${r.status}`;
  const detail = ok ? '' : `${why}${step.expect !== undefined ? `, wanted "${step.expect}" in stdout` : ''}\n${(r.stderr ?? '').trim()}\n${stdout.trim()}`.trim();
  return { command: `crictl ${step.args.join(' ')}`, ok, stdout: stdout.trim(), detail };
}

function parseArgs(argv: string[]): { target: TargetName; crictl: string } {
  const get = (flag: string) => { const i = argv.indexOf(flag); return i >= 0 ? argv[i + 1] : undefined; };
  const target = get('--target');
  const crictl = get('--crictl');
  if ((target !== 'cradle' && target !== 'containerd') || !crictl) {
    throw new Error('usage: crictl-smoke.js --target cradle|containerd --crictl PATH');
  }
  return { target, crictl: path.resolve(crictl) };
}

async function main(): Promise<number> {
  const { target: name, crictl } = parseArgs(process.argv.slice(2));
  const cleanups: (() => Promise<void> | void)[] = [];
  try {
    const work = createWorkDir();
    cleanups.push(() => work.remove());
    await sweepStaleCradleds();
    const registry = await startFixtureRegistry();
    cleanups.push(() => registry.stop());
    await pushCritestImages(registry);
    const target = await startTarget(name, {
      registryHost: registry.host, cniDir: work.cniDir, runtimeLog: path.join(work.dir, 'runtime.log'),
    });
    cleanups.push(() => target.stop());

    const configFile = path.join(work.dir, 'crictl.yaml');
    fs.writeFileSync(configFile, `runtime-endpoint: ${target.endpoint}\nimage-endpoint: ${target.endpoint}\ntimeout: 10\n`);
    const podFile = path.join(work.dir, 'pod.json');
    const ctrFile = path.join(work.dir, 'ctr.json');
    fs.writeFileSync(podFile, JSON.stringify({
      metadata: { name: 'crictl-smoke', namespace: 'default', uid: 'crictl-smoke-uid', attempt: 0 },
      log_directory: path.join(work.dir, 'logs'),
      linux: {},
    }));
    fs.writeFileSync(ctrFile, JSON.stringify({
      metadata: { name: 'busybox' },
      image: { image: BUSYBOX },
      command: ['sh', '-c', `echo ${GREETING}; exec sleep 3600`],
      log_path: 'busybox.log',
      linux: {},
    }));

    const results: StepResult[] = [];
    const step = (s: Step): StepResult => {
      const r = runCrictl(crictl, configFile, s);
      results.push(r);
      process.stdout.write(`${r.ok ? 'ok  ' : 'FAIL'} ${r.command}${r.ok ? '' : `\n     ${r.detail.split('\n').join('\n     ')}`}\n`);
      return r;
    };
    step({ args: ['version'], expect: 'RuntimeName' });
    step({ args: ['info'], expect: 'RuntimeReady' });
    step({ args: ['pull', BUSYBOX], expect: 'Image is up to date' });
    const pod = step({ args: ['runp', podFile] });
    if (pod.ok) {
      const ctr = step({ args: ['create', pod.stdout, ctrFile, podFile] });
      if (ctr.ok) {
        step({ args: ['start', ctr.stdout] });
        step({ args: ['ps', '--id', ctr.stdout], expect: 'Running' });
        step({ args: ['exec', '-i', ctr.stdout, 'sh'], stdin: 'echo hello-from-exec\n', expect: 'hello-from-exec' });
        step({ args: ['logs', ctr.stdout], expect: GREETING });
      }
      step({ args: ['stopp', pod.stdout] });
      step({ args: ['rmp', pod.stdout] });
    }
    const failed = results.filter((r) => !r.ok).length;
    process.stdout.write(`crictl against ${name}: ${results.length - failed} passed, ${failed} failed\n`);
    return failed === 0 ? 0 : 1;
  } finally {
    for (const cleanup of cleanups.reverse()) {
      try { await cleanup(); } catch (err) { process.stderr.write(`cleanup step failed: ${(err as Error).message}\n`); }
    }
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
