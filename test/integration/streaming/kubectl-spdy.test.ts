// cradle's streaming server driven over SPDY/3.1 by a real client: kubectl 1.20
// (Debian's kubernetes-client), through an API-server stand-in that proxies the
// upgrade to the URL the server hands out, as the kubelet does.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { createLogger } from '../../../src/common/logger';
import { StreamingServer } from '../../../src/streaming/server';
import { FakeBackends, eventually, startEchoServer } from '../../helpers/streaming-backends';
import { startApiShim, type ApiShim } from '../../helpers/kube-apiserver-shim';
import { kubectl120 } from '../../helpers/kubectl-1.20';

const kubectl = kubectl120();

interface Run { code: number | null; stdout: string; stderr: string }

describe('kubectl 1.20 (SPDY) against the streaming server', { skip: kubectl ? false : 'kubectl 1.20 (kubernetes-client .deb) unavailable' }, () => {
  let dir: string;
  let backends: FakeBackends;
  let server: StreamingServer;
  let shim: ApiShim;
  let kubeconfig: string;

  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'cradle-test-streaming-'));
    backends = new FakeBackends(dir);
    server = await StreamingServer.start({ backends, logger: createLogger({ level: 'warn', format: 'json' }) });
    shim = await startApiShim(server);
    kubeconfig = await shim.writeKubeconfig(dir);
  });
  after(async () => {
    await shim?.close();
    await server?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  function kubectlArgs(args: string[]): string[] {
    return ['--kubeconfig', kubeconfig, '--cache-dir', path.join(dir, 'cache'), ...args];
  }

  function run(args: string[], input?: string, timeoutMs = 30_000): Promise<Run> {
    return new Promise((resolve, reject) => {
      const child = spawn(kubectl!, kubectlArgs(args), { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir } });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (c: Buffer) => { stdout += c.toString(); });
      child.stderr.on('data', (c: Buffer) => { stderr += c.toString(); });
      const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`kubectl ${args.join(' ')} timed out; stderr: ${stderr}`)); }, timeoutMs);
      child.on('close', (code) => { clearTimeout(timer); resolve({ code, stdout, stderr }); });
      if (input !== undefined) child.stdin.end(input);
      else child.stdin.end();
    });
  }

  test('exec without a tty: stdout, stderr and exit code 0', async () => {
    const r = await run(['exec', 'web', '--', 'sh', '-c', 'echo out; echo err >&2; pwd']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `out\n${dir}\n`);
    assert.equal(r.stderr, 'err\n');
  });

  test('a non-zero exit code reaches kubectl (NonZeroExitCode)', async () => {
    const r = await run(['exec', 'web', '--', 'sh', '-c', 'echo bye; exit 7']);
    assert.equal(r.stdout, 'bye\n');
    assert.equal(r.code, 7, r.stderr);
  });

  test('stdin is piped to the command and closing it ends the command', async () => {
    const input = Array.from({ length: 20000 }, (_, i) => `line ${i}`).join('\n') + '\n';
    const r = await run(['exec', '-i', 'web', '--', 'sh', '-c', 'cat; echo done'], input);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, input + 'done\n');
  });

  test('large output (more than the 64 KiB initial window) arrives whole', async () => {
    const r = await run(['exec', 'web', '--', 'sh', '-c', 'head -c 1000000 /dev/zero | tr "\\0" x']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.length, 1_000_000);
  });

  test('exec with a tty: kubectl in a terminal, output and the terminal size delivered as resize', async () => {
    const before = backends.resizes.length;
    const cmd = ['stty cols 123 rows 45;', 'exec', kubectl!, ...kubectlArgs(['exec', '-it', 'web', '--', 'sh', '-c', 'tty >/dev/null && echo in-a-tty; exit 3'])]
      .map((a, i) => (i === 0 ? a : `'${a}'`)).join(' ');
    const r = await new Promise<Run>((resolve) => {
      const child = spawn('script', ['-qfec', cmd, '/dev/null'], { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir, TERM: 'xterm' } });
      let stdout = '';
      child.stdout.on('data', (c: Buffer) => { stdout += c.toString(); });
      child.on('close', (code) => resolve({ code, stdout, stderr: '' }));
    });
    assert.match(r.stdout, /in-a-tty/);
    assert.equal(r.code, 3, r.stdout);
    const last = backends.execRequests.at(-1)!;
    assert.equal(last.tty, true);
    await eventually(() => backends.resizes.length > before, 'a resize event');
    assert.deepEqual(backends.resizes.slice(before)[0], { width: 123, height: 45 });
  });

  test('attach -i: output of the attached process, stdin delivered', async () => {
    const r = await run(['attach', '-i', 'web'], 'hello attach\n');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'attached to default/web/main\nhello attach\n');
  });

  test('killing kubectl mid-stream aborts the backend and leaves no process', async () => {
    const aborts = backends.aborts;
    const child = spawn(kubectl!, kubectlArgs(['exec', 'web', '--', 'sh', '-c', 'echo started; exec sleep 60']),
      { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir } });
    await new Promise<void>((resolve) => child.stdout.on('data', (c: Buffer) => { if (c.toString().includes('started')) resolve(); }));
    assert.equal(backends.running.size, 1);
    child.kill('SIGKILL');
    await eventually(() => backends.running.size === 0 && backends.aborts === aborts + 1, 'the abort');
    await eventually(() => server.activeSessions === 0, 'the session to end');
  });

  test('port-forward to a TCP echo server', async () => {
    const echo = await startEchoServer();
    const child = spawn(kubectl!, kubectlArgs(['port-forward', '--address', '127.0.0.1', 'pod/web', `:${echo.port}`]),
      { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir } });
    try {
      let out = '';
      child.stderr.on('data', (c: Buffer) => { out += c.toString(); });
      const localPort = await new Promise<number>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`kubectl port-forward did not start: ${out}`)), 20_000);
        child.stdout.on('data', (c: Buffer) => {
          out += c.toString();
          const m = /Forwarding from 127\.0\.0\.1:(\d+)/.exec(out);
          if (m) { clearTimeout(timer); resolve(Number(m[1])); }
        });
      });
      // Two connections in turn over the same SPDY session.
      for (const message of ['hello through spdy\n', 'x'.repeat(200_000)]) {
        const got = await new Promise<string>((resolve, reject) => {
          const s = net.connect(localPort, '127.0.0.1');
          let data = '';
          s.on('data', (c: Buffer) => {
            data += c.toString();
            if (data.length >= message.length) { s.end(); resolve(data); }
          });
          s.on('error', reject);
          s.write(message);
        });
        assert.equal(got, message);
      }
    } finally {
      child.kill('SIGTERM');
      await echo.close();
    }
    await eventually(() => backends.openConnections.size === 0, 'forwarded connections to close');
  });
});
