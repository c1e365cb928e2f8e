// Streaming sessions through a real cradled (each URL from its Exec RPC, real
// cradle-runtime exec processes in a real container): 50 at once over SPDY and
// WebSocket, and clients that vanish mid-stream. Afterwards no exec'd process is
// left in the container and cradled holds no more file descriptors than before.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import WebSocket from 'ws';
import { PodFixture } from '../../helpers/pod-fixture';
import { SpdyTestClient, httpUpgrade, spdyExec } from '../../helpers/spdy-test-client';

const f = new PodFixture('cradle-tsl0', '10.218.0.0/24');

describe('streaming sessions through cradled', () => {
  let target: string;
  /** What the container (which shares its pod's PID namespace) shows before any session. */
  let baseline: string;

  before(async () => {
    await f.start();
    const pod = await f.runPod('sessions');
    target = await f.runContainer(pod, f.containerConfig('target', ['sleep', '1000']));
    await f.waitForState(target, 'CONTAINER_RUNNING');
    baseline = (await containerProcesses()).sort().join('\n');
    assert.match(baseline, /^sleep 1000$/m);
  });
  after(() => f.stop());

  const execUrl = async (cmd: string[], stdin = false): Promise<string> =>
    (await f.cri.runtime.Exec({ containerId: target, cmd, tty: false, stdin, stdout: true, stderr: true })).url;
  const daemonFds = (): number => fs.readdirSync(`/proc/${f.daemon.proc.pid}/fd`).length;
  /** Command lines in the container but for the `ps` that lists them. */
  const containerProcesses = async (): Promise<string[]> =>
    (await f.cri.runtime.ExecSync({ containerId: target, cmd: ['ps', '-o', 'args'], timeout: 10 })).stdout.toString()
      .split('\n').slice(1).map((l) => l.trim()).filter((l) => l !== '' && l !== 'ps -o args');

  async function settles(what: string, check: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!(await check())) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  function wsExec(url: string): { output: Promise<string>; ws: WebSocket } {
    const ws = new WebSocket(url.replace(/^http/, 'ws'), ['v4.channel.k8s.io']);
    const output = new Promise<string>((resolve, reject) => {
      let out = '';
      ws.on('message', (data: Buffer) => { if (data[0] === 1) out += data.subarray(1).toString(); });
      ws.on('close', () => resolve(out));
      ws.on('error', reject);
    });
    return { output, ws };
  }

  it('50 concurrent exec sessions (25 SPDY with stdin, 25 WebSocket) all succeed; nothing is left behind', async () => {
    const fdsBefore = daemonFds();
    const spdy = Array.from({ length: 25 }, async (_, i) => {
      const r = await spdyExec(await execUrl(['sh', '-c', 'read x; echo "$x-$0"', String(i)], true), { stdin: `in${i}\n` });
      r.client.close();
      return r;
    });
    const ws = Array.from({ length: 25 }, async (_, i) => wsExec(await execUrl(['echo', `ws${i}`])).output);
    const [spdyResults, wsOutputs] = await Promise.all([Promise.all(spdy), Promise.all(ws)]);
    spdyResults.forEach((r, i) => {
      assert.equal(r.stdout, `in${i}-${i}\n`);
      assert.equal(JSON.parse(r.status).status, 'Success');
    });
    wsOutputs.forEach((o, i) => assert.equal(o, `ws${i}\n`));
    await settles('the container to hold only what it held before', async () => (await containerProcesses()).sort().join('\n') === baseline);
    await settles(`cradled's fds to return to ${fdsBefore}`, async () => daemonFds() <= fdsBefore);
  });

  it('clients that disconnect mid-stream (SPDY and WebSocket): their processes end, with what they started; cradled lets go of their fds', async () => {
    const fdsBefore = daemonFds();
    // The shell forks its sleep: killing only the exec'd process would leave the sleep running.
    const spdy = await SpdyTestClient.connect(await execUrl(['sh', '-c', 'echo started; sleep 61; echo not reached']), ['v4.channel.k8s.io']);
    await spdy.open({ streamtype: 'error' });
    const stdout = await spdy.open({ streamtype: 'stdout' });
    await spdy.open({ streamtype: 'stderr' });
    await spdy.until(() => spdy.text(stdout) === 'started\n', 'output');
    const ws = new WebSocket((await execUrl(['sh', '-c', 'echo started; exec sleep 62'])).replace(/^http/, 'ws'), ['v4.channel.k8s.io']);
    ws.on('error', () => undefined);
    await new Promise<void>((resolve) => ws.on('message', (d: Buffer) => { if (d.subarray(1).toString() === 'started\n') resolve(); }));
    const running = await containerProcesses();
    assert.ok(running.includes('sleep 61') && running.includes('sleep 62'), running.join(', '));
    spdy.socket.destroy();
    ws.terminate();
    await settles('the abandoned processes to end', async () => (await containerProcesses()).sort().join('\n') === baseline);
    await settles(`cradled's fds to return to ${fdsBefore}`, async () => daemonFds() <= fdsBefore);
  });

  it('an Exec URL works once: a second use is 404 and runs nothing', async () => {
    const url = await execUrl(['sh', '-c', 'echo ran >> /tmp/token-runs']);
    const first = await spdyExec(url);
    first.client.close();
    assert.equal(JSON.parse(first.status).status, 'Success');
    const again = await httpUpgrade(url, { Connection: 'Upgrade', Upgrade: 'SPDY/3.1', 'X-Stream-Protocol-Version': 'v4.channel.k8s.io' });
    again.socket.destroy();
    assert.equal(again.status, 404);
    const runs = await f.cri.runtime.ExecSync({ containerId: target, cmd: ['cat', '/tmp/token-runs'], timeout: 10 });
    assert.equal(runs.stdout.toString(), 'ran\n');
  });
});
