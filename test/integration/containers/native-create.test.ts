// cradled's pods and containers are created, and exec'd into, by the native launcher
// with no Node process: the daemon writes a launch plan into each bundle, and conmon's
// `cradle-runtime create` runs it; each exec gets an exec plan beside its process file. The handler's runtime is a copy of the launcher
// in a repo layout whose Node CLI is a wrapper that logs each command it is asked
// for, then runs the real one: any command that reached Node is in the log.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import WebSocket from 'ws';
import * as grpc from '@grpc/grpc-js';
import { grpcError } from '../../helpers/cri-client';
import { PodFixture } from '../../helpers/pod-fixture';
import { REPO_ROOT } from '../../helpers/daemon';
import { launcherRepo } from '../../helpers/launcher-repo';
import { pinnedNodePath } from '../../../src/common/pinned-node';

const f = new PodFixture('cradle-tnc0', '10.238.0.0/24');
const RUNTIME_ROOT = '/run/cradle-test-native';

/** <dir>/repo/dist/bin/cradle-runtime (a copy) with a logging node; the rest links to the real repo. */
function loggingRepo(dir: string): { bin: string; log: string } {
  const log = path.join(dir, 'node-commands.log');
  const realNode = pinnedNodePath(REPO_ROOT);
  const { bin, root } = launcherRepo(dir, 'repo', `echo "$@" >> ${log}\nexec ${realNode} "$@"`);
  fs.symlinkSync(path.join(REPO_ROOT, 'dist', 'src'), path.join(root, 'dist', 'src'));
  fs.writeFileSync(log, '');
  return { bin, log };
}

/** The runtime commands (create, start, ...) that went to the Node CLI. */
function nodeCommands(log: string): string[] {
  const commands = new Set(['create', 'start', 'exec', 'kill', 'delete', 'state', 'run']);
  return fs.readFileSync(log, 'utf8').split('\n').filter(Boolean)
    .map((line) => line.split(' ').find((word) => commands.has(word)) ?? line);
}

describe('native create through cradled', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cradle-native-create-'));
  const runtime = loggingRepo(dir);
  before(async () => {
    fs.rmSync(RUNTIME_ROOT, { recursive: true, force: true });
    await f.start([], `[runtime.runtimes.native]\nruntime_path = "${runtime.bin}"\nruntime_root = "${RUNTIME_ROOT}"\n`);
  });
  after(async () => {
    await f.stop();
    fs.rmSync(RUNTIME_ROOT, { recursive: true, force: true });
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('runs a pod and a container without starting Node; the bundle holds the plan', async () => {
    const config = f.podConfig('native');
    const { podSandboxId } = await f.cri.runtime.RunPodSandbox({ config, runtimeHandler: 'native' });
    const id = await f.runContainer({ id: podSandboxId, config }, f.containerConfig('n', ['sleep', '1000']));
    await f.waitForState(id, 'CONTAINER_RUNNING');
    assert.deepEqual(nodeCommands(runtime.log), [], 'no runtime command of the pod or container reached Node');
    const status = await f.cri.runtime.ContainerStatus({ containerId: id, verbose: true });
    const info = JSON.parse(status.info!.info ?? '{}') as { bundle?: string; pid?: number };
    assert.ok(info.pid && info.pid > 0, 'the container has an init');
    assert.ok(fs.existsSync(path.join(info.bundle!, 'cradle-launch.plan')), 'the daemon wrote a launch plan into the bundle');
    assert.deepEqual(fs.readFileSync(`/proc/${info.pid}/cmdline`, 'utf8').split('\0').filter(Boolean),
      ['sleep', '1000'], 'the init is the container\'s program');
    await f.cri.runtime.RemovePodSandbox({ podSandboxId });
    assert.equal(fs.readdirSync(RUNTIME_ROOT).length, 0, 'the runtime holds no state afterwards');
  });

  it('ExecSync and a terminal exec run without Node; ^C reaches the foreground process, the shell survives', async () => {
    const config = f.podConfig('nexec');
    const { podSandboxId } = await f.cri.runtime.RunPodSandbox({ config, runtimeHandler: 'native' });
    const id = await f.runContainer({ id: podSandboxId, config }, f.containerConfig('x', ['sleep', '1000']));
    await f.waitForState(id, 'CONTAINER_RUNNING');
    const ok = await f.cri.runtime.ExecSync({ containerId: id, cmd: ['sh', '-c', 'echo "$(id -u) $(pwd)"; echo oops >&2; exit 3'], timeout: 10 });
    assert.equal(ok.exitCode, 3);
    assert.equal(ok.stdout.toString(), '0 /\n');
    assert.equal(ok.stderr.toString(), 'oops\n');
    const slow = await f.cri.runtime.ExecSync({ containerId: id, cmd: ['sleep', '30'], timeout: 1 });
    assert.equal(slow.exitCode, -1, 'a timed-out exec');

    // An interactive shell on a terminal, through the streaming server (WebSocket, v4 channels).
    const { url } = await f.cri.runtime.Exec({ containerId: id, cmd: ['sh', '-i'], tty: true, stdin: true, stdout: true, stderr: false });
    const ws = new WebSocket(url.replace(/^http/, 'ws'), ['v4.channel.k8s.io']);
    let output = '';
    let status = '';
    ws.on('message', (m: Buffer) => {
      if (m[0] === 1) output += m.subarray(1).toString();
      if (m[0] === 3) status += m.subarray(1).toString();
    });
    const closed = new Promise<void>((resolve) => ws.once('close', () => resolve()));
    await new Promise<void>((resolve, reject) => { ws.once('open', () => resolve()); ws.once('error', reject); });
    const type = (text: string): void => ws.send(Buffer.concat([Buffer.from([0]), Buffer.from(text)]));
    const until = async (re: RegExp, what: string): Promise<void> => {
      for (let i = 0; i < 200 && !re.test(output); i++) await new Promise((r) => setTimeout(r, 50));
      assert.match(output, re, what);
    };
    type('sleep 1000; echo after-$((6*7))\n');
    await until(/sleep 1000/, 'the terminal echoes the command');
    await new Promise((r) => setTimeout(r, 300));
    type('\x03');
    type('echo alive-$((1+1))\n');
    await until(/alive-2/, 'the shell survived ^C and runs the next command');
    assert.doesNotMatch(output, /after-42/, 'the list was interrupted with its foreground process');
    type('exit 4\n');
    await closed;
    assert.match(status, /"reason":"ExitCode","message":"4"/, status);
    const stopped = await f.runContainer({ id: podSandboxId, config }, f.containerConfig('done', ['true']));
    await f.waitForState(stopped, 'CONTAINER_EXITED');
    await assert.rejects(f.cri.runtime.ExecSync({ containerId: stopped, cmd: ['true'], timeout: 5 }),
      (err) => grpcError(err).code === grpc.status.FAILED_PRECONDITION);
    assert.deepEqual(nodeCommands(runtime.log), [], 'no exec reached Node');
    await f.cri.runtime.RemovePodSandbox({ podSandboxId });
  });
});
