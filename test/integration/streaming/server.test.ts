// Streaming server behaviour a client sees: tokens, protocol negotiation, many
// sessions at once, disconnects, idle timeout, malformed frames, TLS.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import WebSocket from 'ws';
import { errors } from '../../../src/common/errors';
import { createLogger } from '../../../src/common/logger';
import type { ExecRequest } from '../../../src/streaming/backend';
import { StreamingServer } from '../../../src/streaming/server';
import { FakeBackends, eventually, startEchoServer } from '../../helpers/streaming-backends';
import { SpdyTestClient, httpUpgrade, spdyExec } from '../../helpers/spdy-test-client';
import { GoAwayStatus } from '../../../src/streaming/spdy/frames';

const logger = createLogger({ level: 'fatal', format: 'json' });
const execReq = (cmd: string[], extra: Partial<ExecRequest> = {}): ExecRequest =>
  ({ containerId: 'c1', cmd, tty: false, stdin: false, stdout: true, stderr: true, ...extra });

describe('streaming server', () => {
  let dir: string;
  let backends: FakeBackends;
  let server: StreamingServer;

  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'cradle-test-streaming-'));
    backends = new FakeBackends(dir);
    // The default token TTL and stream-creation timeout: 50 sessions set up at once (each
    // spawns its command) can outlast short ones on a loaded host. Expiry and the
    // stream-creation timeout are checked on servers of their own.
    server = await StreamingServer.start({ backends, logger });
  });
  after(async () => {
    await server?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('URLs carry the server address and kind', () => {
    assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.match(server.execUrl(execReq(['true'])), new RegExp(`^${server.url}/exec/[A-Za-z0-9_-]{22}$`));
    assert.match(server.attachUrl({ containerId: 'c', tty: false, stdin: true, stdout: true, stderr: false }), /\/attach\//);
    assert.match(server.portForwardUrl({ podSandboxId: 's' }), /\/portforward\//);
  });

  test('a token works once; unknown, reused, expired or wrong-kind tokens get 404 and nothing runs', async () => {
    const url = server.execUrl(execReq(['echo', 'once']));
    const first = await spdyExec(url);
    assert.equal(first.stdout, 'once\n');
    assert.equal(JSON.parse(first.status).status, 'Success');
    const ran = backends.execRequests.length;
    const upgrade = { Connection: 'Upgrade', Upgrade: 'SPDY/3.1', 'X-Stream-Protocol-Version': 'v4.channel.k8s.io' };
    assert.equal((await httpUpgrade(url, upgrade)).status, 404, 'reused');
    assert.equal((await httpUpgrade(`${server.url}/exec/AAAAAAAAAAAAAAAAAAAAAA`, upgrade)).status, 404, 'unknown');
    const wrongKind = server.execUrl(execReq(['true'])).replace('/exec/', '/attach/');
    assert.equal((await httpUpgrade(wrongKind, upgrade)).status, 404, 'wrong kind');
    const shortLived = await StreamingServer.start({ backends, logger, tokenTtlMs: 500 });
    try {
      const expired = shortLived.execUrl(execReq(['true']));
      await new Promise((r) => setTimeout(r, 600));
      assert.equal((await httpUpgrade(expired, upgrade)).status, 404, 'expired');
    } finally {
      await shortLived.stop();
    }
    const plain = await fetch(server.execUrl(execReq(['true'])));
    assert.equal(plain.status, 400, 'valid token without an upgrade');
    assert.equal((await fetch(`${server.url}/nothing`)).status, 404);
    assert.equal(backends.execRequests.length, ran);
  });

  test('requests the kubelet would refuse are INVALID_ARGUMENT before any URL is handed out', () => {
    const invalid = (err: unknown): boolean => errors.invalidArgument.is(err) || errors.missingField.is(err);
    assert.throws(() => server.execUrl(execReq([])), invalid);
    assert.throws(() => server.execUrl(execReq(['true'], { containerId: '' })), invalid);
    assert.throws(() => server.execUrl(execReq(['true'], { tty: true, stderr: true })), /tty and stderr/);
    assert.throws(() => server.attachUrl({ containerId: 'c', tty: false, stdin: false, stdout: false, stderr: false }), /one of stdin/);
    assert.throws(() => server.portForwardUrl({ podSandboxId: '' }), invalid);
  });

  test('too many waiting requests: RESOURCE_EXHAUSTED', async () => {
    const small = await StreamingServer.start({ backends, logger, maxInFlight: 2 });
    try {
      small.execUrl(execReq(['true']));
      small.portForwardUrl({ podSandboxId: 's' });
      assert.throws(() => small.execUrl(execReq(['true'])), (err: unknown) => errors.resourceExhausted.is(err));
    } finally {
      await small.stop();
    }
  });

  test('SPDY protocol negotiation: client order wins; no common protocol is 403 with the accepted list', async () => {
    const r = await httpUpgrade(server.execUrl(execReq(['true'])),
      { Connection: 'Upgrade', Upgrade: 'SPDY/3.1', 'X-Stream-Protocol-Version': ['v2.channel.k8s.io', 'v4.channel.k8s.io'] });
    assert.equal(r.status, 101);
    assert.equal(r.headers['x-stream-protocol-version'], 'v2.channel.k8s.io');
    assert.equal(r.headers['upgrade'], 'SPDY/3.1');
    r.socket.destroy();
    const bad = await httpUpgrade(server.execUrl(execReq(['true'])),
      { Connection: 'Upgrade', Upgrade: 'SPDY/3.1', 'X-Stream-Protocol-Version': 'v9.channel.k8s.io' });
    assert.equal(bad.status, 403);
    assert.match(bad.headers['x-accepted-stream-protocol-versions'] ?? '', /v4\.channel\.k8s\.io/);
    assert.match(bad.body, /unable to negotiate protocol/);
  });

  test('SPDY v2 (channel.k8s.io family): failure text on the error stream, nothing on success', async () => {
    const client = await SpdyTestClient.connect(server.execUrl(execReq(['sh', '-c', 'exit 5'], { stderr: false })), ['v2.channel.k8s.io']);
    const error = await client.open({ streamtype: 'error' });
    await client.open({ streamtype: 'stdout' });
    await client.until(() => client.closed, 'the session to end');
    assert.match(client.text(error), /non-zero exit code.*exit code 5/);
    client.close();
  });

  test('attach over SPDY: greeting, stdin echoed, stdin end detaches', async () => {
    const client = await SpdyTestClient.connect(server.attachUrl({ containerId: 'web', tty: false, stdin: true, stdout: true, stderr: false }), ['v4.channel.k8s.io']);
    const error = await client.open({ streamtype: 'error' });
    const stdin = await client.open({ streamtype: 'stdin' });
    const stdout = await client.open({ streamtype: 'stdout' });
    client.send(stdin, 'ping\n');
    await client.until(() => client.text(stdout).includes('ping'), 'the echo');
    client.send(stdin, '', true);
    await client.until(() => client.closed, 'the session to end');
    assert.equal(client.text(stdout), 'attached to web\nping\n');
    assert.equal(JSON.parse(client.text(error)).status, 'Success');
  });

  test('a client that never opens all its streams gets an error and the session ends; nothing runs', async () => {
    const ran = backends.execRequests.length;
    const impatient = await StreamingServer.start({ backends, logger, streamCreationTimeoutMs: 2000 });
    try {
      const client = await SpdyTestClient.connect(impatient.execUrl(execReq(['true'])), ['v4.channel.k8s.io']);
      const error = await client.open({ streamtype: 'error' });
      await client.until(() => client.closed, 'the timeout', 30_000);
      assert.match(JSON.parse(client.text(error)).message, /timed out waiting for client to create streams/);
    } finally {
      await impatient.stop();
    }
    assert.equal(backends.execRequests.length, ran);
  });

  test('50 concurrent SPDY exec sessions with stdin', async () => {
    const results = await Promise.all(Array.from({ length: 50 }, async (_, i) => {
      const r = await spdyExec(server.execUrl(execReq(['sh', '-c', 'read x; echo "$x-$0"', String(i)], { stdin: true })), { stdin: `in${i}\n` });
      r.client.close();
      return r;
    }));
    results.forEach((r, i) => {
      assert.equal(r.stdout, `in${i}-${i}\n`);
      assert.equal(JSON.parse(r.status).status, 'Success');
    });
    await eventually(() => server.activeSessions === 0 && backends.running.size === 0, 'all sessions to end');
  });

  test('50 concurrent WebSocket exec sessions', async () => {
    const outputs = await Promise.all(Array.from({ length: 50 }, (_, i) => new Promise<string>((resolve, reject) => {
      const ws = new WebSocket(server.execUrl(execReq(['echo', `ws${i}`])).replace(/^http/, 'ws'), ['v4.channel.k8s.io']);
      let out = '';
      ws.on('message', (data: Buffer) => { if (data[0] === 1) out += data.subarray(1).toString(); });
      ws.on('close', () => resolve(out));
      ws.on('error', reject);
    })));
    outputs.forEach((o, i) => assert.equal(o, `ws${i}\n`));
  });

  test('a SPDY client that disconnects mid-stream: abort fires, the process and its fds are gone', async () => {
    const fds = (): number => readdirSync('/proc/self/fd').length;
    const fdsBefore = fds();
    const aborts = backends.aborts;
    const client = await SpdyTestClient.connect(server.execUrl(execReq(['sh', '-c', 'echo started; exec sleep 60'])), ['v4.channel.k8s.io']);
    await client.open({ streamtype: 'error' });
    const stdout = await client.open({ streamtype: 'stdout' });
    await client.open({ streamtype: 'stderr' });
    await client.until(() => client.text(stdout) === 'started\n', 'output');
    assert.equal(backends.running.size, 1);
    client.socket.destroy();
    await eventually(() => backends.running.size === 0 && backends.aborts === aborts + 1, 'the abort');
    await eventually(() => server.activeSessions === 0, 'the session to be gone');
    await eventually(() => fds() <= fdsBefore, `file descriptors back to ${fdsBefore}`);
  });

  test('a WebSocket client that disconnects mid-stream: abort fires, the process is gone', async () => {
    const aborts = backends.aborts;
    const ws = new WebSocket(server.execUrl(execReq(['sh', '-c', 'echo started; exec sleep 60'])).replace(/^http/, 'ws'), ['v5.channel.k8s.io']);
    await new Promise<void>((resolve) => ws.on('message', (d: Buffer) => { if (d.subarray(1).toString() === 'started\n') resolve(); }));
    ws.terminate();
    await eventually(() => backends.running.size === 0 && backends.aborts === aborts + 1, 'the abort');
  });

  test('port-forward over SPDY: several connections in one session; an error stream for a closed port', async () => {
    const echo = await startEchoServer();
    try {
      const client = await SpdyTestClient.connect(server.portForwardUrl({ podSandboxId: 'sb' }), ['portforward.k8s.io']);
      for (const [i, port] of [[1, echo.port], [2, echo.port]] as const) {
        const error = await client.open({ streamtype: 'error', port: String(port), requestid: String(i) });
        const data = await client.open({ streamtype: 'data', port: String(port), requestid: String(i) });
        client.send(data, `conn ${i}`, true);
        await client.until(() => data.fin, 'the echo and FIN');
        assert.equal(client.text(data), `conn ${i}`);
        await client.until(() => error.fin, 'the error stream to close');
        assert.equal(client.text(error), '');
      }
      await echo.close();
      const error = await client.open({ streamtype: 'error', port: String(echo.port), requestid: '3' });
      await client.open({ streamtype: 'data', port: String(echo.port), requestid: '3' });
      await client.until(() => error.fin, 'the error');
      assert.match(client.text(error), new RegExp(`error forwarding port ${echo.port} to pod sb: .*ECONNREFUSED`));
      assert.equal(client.closed, false, 'the session survives a failed connection');
      client.close();
      await eventually(() => backends.openConnections.size === 0, 'connections to close');
    } finally {
      await echo.close().catch(() => {});
    }
  });

  test('a malformed frame closes that connection with GOAWAY; other sessions carry on', async () => {
    const aborts = backends.aborts;
    const good = await SpdyTestClient.connect(server.execUrl(execReq(['sh', '-c', 'read x; echo "got $x"'], { stdin: true })), ['v4.channel.k8s.io']);
    const goodError = await good.open({ streamtype: 'error' });
    const goodStdin = await good.open({ streamtype: 'stdin' });
    const goodStdout = await good.open({ streamtype: 'stdout' });
    await good.open({ streamtype: 'stderr' });

    const bad = await SpdyTestClient.connect(server.execUrl(execReq(['sleep', '60'])), ['v4.channel.k8s.io']);
    await bad.open({ streamtype: 'error' });
    await bad.open({ streamtype: 'stdout' });
    await bad.open({ streamtype: 'stderr' });
    await eventually(() => backends.running.size === 2, 'both commands to run');
    bad.socket.write(Buffer.from([0x80, 0x02, 0x00, 0x06, 0, 0, 0, 4, 0, 0, 0, 1])); // SPDY/2 PING
    await bad.until(() => bad.closed, 'the bad connection to close');
    assert.equal(bad.goAway?.status, GoAwayStatus.PROTOCOL_ERROR);
    await eventually(() => backends.aborts === aborts + 1 && backends.running.size === 1, 'the bad session to be aborted');

    good.send(goodStdin, 'fine\n', true);
    await good.until(() => good.closed, 'the good session to end');
    assert.equal(good.text(goodStdout), 'got fine\n');
    assert.equal(JSON.parse(good.text(goodError)).status, 'Success');
  });

  test('an idle connection is closed after the idle timeout', async () => {
    const quick = await StreamingServer.start({ backends, logger, idleTimeoutMs: 1000 });
    try {
      const aborts = backends.aborts;
      const client = await SpdyTestClient.connect(quick.execUrl(execReq(['sleep', '60'])), ['v4.channel.k8s.io']);
      await client.open({ streamtype: 'error' });
      await client.open({ streamtype: 'stdout' });
      await client.open({ streamtype: 'stderr' });
      await client.until(() => client.closed, 'the idle timeout', 30_000);
      await eventually(() => backends.aborts === aborts + 1, 'the abort');
    } finally {
      await quick.stop();
    }
  });

  test('TLS with a client CA: a client with a certificate gets in, one without does not', async () => {
    const tlsDir = path.join(dir, 'tls');
    execFileSync('sh', ['-c', [
      `mkdir -p ${tlsDir} && cd ${tlsDir}`,
      'openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 1 -subj /CN=cradle-test-ca 2>/dev/null',
      'openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj /CN=127.0.0.1 2>/dev/null',
      'printf "subjectAltName=IP:127.0.0.1" > san.ext',
      'openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out server.crt -days 1 -extfile san.ext 2>/dev/null',
      'openssl req -newkey rsa:2048 -nodes -keyout client.key -out client.csr -subj /CN=kubelet 2>/dev/null',
      'openssl x509 -req -in client.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out client.crt -days 1 2>/dev/null',
    ].join(' && ')]);
    const read = (f: string): Promise<Buffer> => readFile(path.join(tlsDir, f));
    const ca = await read('ca.crt');
    const secure = await StreamingServer.start({ backends, logger, tls: { cert: await read('server.crt'), key: await read('server.key'), ca } });
    try {
      assert.match(secure.url, /^https:/);
      const run = (cert?: Buffer, key?: Buffer): Promise<string> => new Promise((resolve, reject) => {
        const ws = new WebSocket(secure.execUrl(execReq(['echo', 'secure'])).replace(/^https/, 'wss'), ['v4.channel.k8s.io'],
          { ca, ...(cert && key ? { cert, key } : {}) });
        let out = '';
        ws.on('message', (d: Buffer) => { if (d[0] === 1) out += d.subarray(1).toString(); });
        ws.on('close', () => resolve(out));
        ws.on('error', reject);
      });
      assert.equal(await run(await read('client.crt'), await read('client.key')), 'secure\n');
      await assert.rejects(run());
    } finally {
      await secure.stop();
    }
  });
});
