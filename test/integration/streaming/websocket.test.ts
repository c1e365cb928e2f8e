// The streaming server over WebSocket, driven by @kubernetes/client-node's
// Exec and PortForward (through the API-server stand-in, as the kubelet
// proxies) and by a plain `ws` client for the protocols client-node does not speak.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { Exec, KubeConfig, PortForward, type V1Status } from '@kubernetes/client-node';
import WebSocket from 'ws';
import { createLogger } from '../../../src/common/logger';
import { StreamingServer } from '../../../src/streaming/server';
import { FakeBackends, eventually, startEchoServer, unusedPort } from '../../helpers/streaming-backends';
import { startApiShim, type ApiShim } from '../../helpers/kube-apiserver-shim';

function collect(stream: PassThrough): () => string {
  let text = '';
  stream.on('data', (c: Buffer) => { text += c.toString(); });
  return () => text;
}

describe('WebSocket clients against the streaming server', () => {
  let dir: string;
  let backends: FakeBackends;
  let server: StreamingServer;
  let shim: ApiShim;
  let kc: KubeConfig;

  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'cradle-test-streaming-'));
    backends = new FakeBackends(dir);
    server = await StreamingServer.start({ backends, logger: createLogger({ level: 'fatal', format: 'json' }) });
    shim = await startApiShim(server);
    kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'shim', server: shim.url, skipTLSVerify: true }],
      users: [{ name: 'shim' }],
      contexts: [{ name: 'shim', cluster: 'shim', user: 'shim', namespace: 'default' }],
      currentContext: 'shim',
    });
  });
  after(async () => {
    await shim?.close();
    await server?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  async function clientExec(cmd: string[], opts: { stdin?: Readable; tty?: boolean; stdout?: PassThrough } = {}):
  Promise<{ status: V1Status; stdout: string; stderr: string; protocol: string }> {
    const stdout = opts.stdout ?? new PassThrough();
    const stderr = new PassThrough();
    const out = collect(stdout);
    const err = collect(stderr);
    let ws: WebSocket.WebSocket | undefined;
    const status = await new Promise<V1Status>((resolve, reject) => {
      new Exec(kc).exec('default', 'web', 'main', cmd, stdout, opts.tty ? null : stderr, opts.stdin ?? null, opts.tty ?? false, resolve)
        .then((w) => { ws = w as unknown as WebSocket.WebSocket; }, reject);
    });
    return { status, stdout: out(), stderr: err(), protocol: ws?.protocol ?? '' };
  }

  test('client-node Exec: v5 protocol, stdout, stderr and Success', async () => {
    const r = await clientExec(['sh', '-c', 'echo out; echo err >&2']);
    assert.equal(r.protocol, 'v5.channel.k8s.io');
    assert.equal(r.status.status, 'Success');
    assert.equal(r.stdout, 'out\n');
    assert.equal(r.stderr, 'err\n');
  });

  test('client-node Exec: a non-zero exit is NonZeroExitCode with the ExitCode cause', async () => {
    const r = await clientExec(['sh', '-c', 'exit 42']);
    assert.equal(r.status.status, 'Failure');
    assert.equal(r.status.reason, 'NonZeroExitCode');
    assert.deepEqual(r.status.details?.causes, [{ reason: 'ExitCode', message: '42' }]);
  });

  test('client-node Exec: stdin is piped and its end (v5 CLOSE signal) ends the command', async () => {
    const input = 'a line\n'.repeat(20_000);
    const r = await clientExec(['sh', '-c', 'wc -c; echo done'], { stdin: Readable.from([Buffer.from(input)]) });
    assert.equal(r.status.status, 'Success');
    assert.equal(r.stdout, `${input.length}\ndone\n`);
  });

  test('client-node Exec with a tty: the terminal size arrives as a resize', async () => {
    const stdout = Object.assign(new PassThrough(), { rows: 33, columns: 99 });
    const before = backends.resizes.length;
    const r = await clientExec(['sh', '-c', 'tty >/dev/null && echo tty-ok'], { tty: true, stdout });
    assert.equal(r.status.status, 'Success');
    assert.match(r.stdout, /tty-ok/);
    await eventually(() => backends.resizes.length > before, 'a resize');
    assert.deepEqual(backends.resizes[before], { width: 99, height: 33 });
  });

  test('client-node PortForward to a TCP echo server', async () => {
    const echo = await startEchoServer();
    try {
      const input = new PassThrough();
      const output = new PassThrough();
      const got = collect(output);
      const ws = await new PortForward(kc).portForward('default', 'web', [echo.port], output, null, input) as unknown as WebSocket.WebSocket;
      input.write('hello over websocket');
      await eventually(() => got() === 'hello over websocket', 'the echo');
      ws.close();
      await eventually(() => backends.openConnections.size === 0, 'the forwarded connection to close');
    } finally {
      await echo.close();
    }
  });

  interface RawSession { ws: WebSocket.WebSocket; messages: Promise<(Buffer | string)[]> }

  /** Connects with a plain ws client; messages are collected from the first one until the socket closes. */
  function wsConnect(url: string, protocols: string[]): Promise<RawSession> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url.replace(/^http/, 'ws'), protocols);
      const all: (Buffer | string)[] = [];
      ws.on('message', (data, isBinary) => all.push(isBinary ? Buffer.from(data as Buffer) : data.toString()));
      const messages = new Promise<(Buffer | string)[]>((done) => ws.once('close', () => done(all)));
      ws.once('open', () => resolve({ ws, messages }));
      ws.once('error', reject);
      ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
    });
  }

  for (const protocol of ['base64.channel.k8s.io', 'v4.base64.channel.k8s.io']) {
    test(`raw ws, ${protocol}: base64 text frames, status only as the protocol defines it`, async () => {
      const url = server.execUrl({ containerId: 'c', cmd: ['sh', '-c', 'echo hi; exit 3'], tty: false, stdin: false, stdout: true, stderr: true });
      const { ws, messages } = await wsConnect(url, [protocol]);
      assert.equal(ws.protocol, protocol);
      const all = await messages;
      assert.ok(all.every((m) => typeof m === 'string'));
      const texts = all as string[];
      assert.equal(texts[0], '1', 'readiness: empty message on stdout');
      const stdout = texts.filter((m) => m[0] === '1').map((m) => Buffer.from(m.slice(1), 'base64').toString()).join('');
      assert.equal(stdout, 'hi\n');
      const status = Buffer.from(texts.find((m) => m[0] === '3')!.slice(1), 'base64').toString();
      if (protocol.startsWith('v4.')) assert.equal(JSON.parse(status).reason, 'NonZeroExitCode');
      else assert.match(status, /non-zero exit code/);
    });
  }

  test('raw ws, v4.channel.k8s.io port-forward: both channels start with the port, errors on the error channel', async () => {
    const closed = await unusedPort();
    const url = server.portForwardUrl({ podSandboxId: 'sb' });
    const { messages } = await wsConnect(`${url}?ports=${closed}`, ['v4.channel.k8s.io']);
    const all = (await messages) as Buffer[];
    const port = Buffer.alloc(2);
    port.writeUInt16LE(closed);
    assert.deepEqual(all.filter((m) => m[0] === 0)[0], Buffer.concat([Buffer.from([0]), port]));
    const errs = all.filter((m) => m[0] === 1);
    assert.deepEqual(errs[0], Buffer.concat([Buffer.from([1]), port]));
    assert.match(errs.slice(1).map((m) => m.subarray(1).toString()).join(''), new RegExp(`error forwarding port ${closed}.*ECONNREFUSED`));
  });

  test('an unsupported WebSocket protocol is refused (403) and nothing runs', async () => {
    const before = backends.execRequests.length;
    const url = server.execUrl({ containerId: 'c', cmd: ['true'], tty: false, stdin: false, stdout: true, stderr: false });
    await assert.rejects(wsConnect(url, ['v9.channel.example']), /HTTP 403/);
    assert.equal(backends.execRequests.length, before);
  });
});
