// Exec and PortForward end to end: cradled's RPCs hand out URLs, kubectl 1.20 (a
// real SPDY client) connects through an API-server stand-in, as through the kubelet.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import WebSocket from 'ws';
import { PodFixture } from '../../helpers/pod-fixture';
import { grpcError } from '../../helpers/cri-client';
import { startApiShim, type ApiShim } from '../../helpers/kube-apiserver-shim';
import { kubectl120 } from '../../helpers/kubectl-1.20';

const kubectl = kubectl120();
const f = new PodFixture('cradle-tse0', '10.217.0.0/24');

/** A port nothing on the node's loopback listens on (bound, then released). */
async function unusedLoopbackPort(): Promise<number> {
  const probe = net.createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as net.AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

/** Waits until something accepts connections on 127.0.0.1:port. */
async function listening(port: number, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect({ host: '127.0.0.1', port }, () => { s.destroy(); resolve(true); });
      s.on('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing listens on 127.0.0.1:${port}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * A WebSocket port-forward session (v4.channel.k8s.io) to one port of a pod, from its
 * PortForward RPC's URL: `data` is what came back on the data channel until the socket
 * closed, `errors` the error channel's text (both less the initial 2-byte port frames).
 */
async function wsPortForward(podSandboxId: string, port: number): Promise<{ send(b: Buffer): void; data: Promise<string>; errors: Promise<string> }> {
  const { url } = await f.cri.runtime.PortForward({ podSandboxId, port: [port] });
  const ws = new WebSocket(url.replace(/^http/, 'ws'), ['v4.channel.k8s.io']);
  const frames: Buffer[] = [];
  ws.on('message', (m: Buffer) => frames.push(Buffer.from(m)));
  const closed = new Promise<void>((resolve, reject) => {
    ws.once('close', () => resolve());
    ws.once('error', reject);
  });
  await new Promise<void>((resolve, reject) => { ws.once('open', () => resolve()); ws.once('error', reject); });
  const channel = async (n: number): Promise<string> => {
    await closed;
    return Buffer.concat(frames.filter((m) => m[0] === n).slice(1).map((m) => m.subarray(1))).toString();
  };
  return { send: (b) => ws.send(b), data: channel(0), errors: channel(1) };
}

describe('exec and port-forward through cradled', { skip: kubectl ? false : 'kubectl 1.20 unavailable' }, () => {
  let shim: ApiShim;
  let kubeconfig: string;
  let pod: { id: string; config: { metadata?: { name?: string } | null } };
  let web: string;

  before(async () => {
    await f.start(['--metrics-enable', '--metrics-port', '0']);
    const p = await f.runPod('stream');
    pod = p;
    web = await f.runContainer(p, f.containerConfig('web', ['sh', '-c', 'mkdir -p /www && echo hello-from-pod > /www/index.html && exec httpd -f -p 8080 -h /www']));
    await f.waitForState(web, 'CONTAINER_RUNNING');
    shim = await startApiShim({
      execUrl: async (r) => (await f.cri.runtime.Exec({ containerId: r.containerId, cmd: r.cmd, tty: r.tty, stdin: r.stdin, stdout: r.stdout, stderr: r.stderr })).url,
      attachUrl: async (r) => (await f.cri.runtime.Attach({ containerId: r.containerId, tty: r.tty, stdin: r.stdin, stdout: r.stdout, stderr: r.stderr })).url,
      portForwardUrl: async (r) => (await f.cri.runtime.PortForward({ podSandboxId: r.podSandboxId, port: [] })).url,
    }, () => ({ containerId: web, podSandboxId: pod.id }));
    kubeconfig = await shim.writeKubeconfig(f.dirs.dir);
  });
  after(async () => {
    await shim?.close();
    await f.stop();
  });

  function run(args: string[], input?: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
    return new Promise((resolve, reject) => {
      const child = spawn(kubectl!, ['--kubeconfig', kubeconfig, '--cache-dir', path.join(f.dirs.dir, 'kcache'), ...args], { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: f.dirs.dir } });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (c: Buffer) => { stdout += c.toString(); });
      child.stderr.on('data', (c: Buffer) => { stderr += c.toString(); });
      const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`kubectl timed out: ${stderr}`)); }, 30_000);
      child.on('close', (code) => { clearTimeout(timer); resolve({ code, stdout, stderr }); });
      child.stdin.end(input ?? '');
    });
  }

  it('kubectl exec runs in the container: output, exit code, stdin', async () => {
    const r = await run(['exec', 'web', '--', 'sh', '-c', 'echo out; echo err >&2; cat /www/index.html; hostname; exit 3']);
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stdout, /^out\nhello-from-pod\nstream-\d+\n$/);
    assert.match(r.stderr, /err/);
    const piped = await run(['exec', '-i', 'web', '--', 'sh', '-c', 'tr a-z A-Z'], 'shout\n');
    assert.equal(piped.code, 0, piped.stderr);
    assert.equal(piped.stdout, 'SHOUT\n');
  });

  it('kubectl port-forward reaches a server listening on localhost in the pod', async () => {
    const { localPort, child } = await kubectlPortForward(kubeconfig, 8080);
    try {
      const body = await (await fetch(`http://127.0.0.1:${localPort}/index.html`)).text();
      assert.equal(body, 'hello-from-pod\n');
    } finally {
      child.kill('SIGKILL');
    }
  });

  /** kubectl port-forward through `kubeconfigFile` to `remote`; resolves with the local port and the child. */
  async function kubectlPortForward(kubeconfigFile: string, remote: number): Promise<{ localPort: number; child: ReturnType<typeof spawn> }> {
    const child = spawn(kubectl!, ['--kubeconfig', kubeconfigFile, 'port-forward', 'web', `:${remote}`], { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: f.dirs.dir } });
    try {
      const localPort = await new Promise<number>((resolve, reject) => {
        let out = '';
        child.stdout!.on('data', (c: Buffer) => {
          out += c.toString();
          const m = /Forwarding from 127\.0\.0\.1:(\d+)/.exec(out);
          if (m) resolve(Number(m[1]));
        });
        child.on('close', () => reject(new Error(`port-forward ended: ${out}`)));
        setTimeout(() => reject(new Error('no forwarding line')), 20_000).unref();
      });
      return { localPort, child };
    } catch (err) {
      child.kill('SIGKILL');
      throw err;
    }
  }

  it('a host-network pod: its port on the node\'s loopback is forwarded over SPDY (kubectl) and WebSocket', async () => {
    const port = await unusedLoopbackPort();
    // The pod shares the node's network: its server listens on the node's 127.0.0.1 only.
    const hostNet = { namespaceOptions: { network: 'NODE' as const } };
    const hostPod = await f.runPod('hostnet', { hostname: '', linux: { cgroupParent: f.cgroupParent, securityContext: hostNet } });
    const body = `hello-from-the-host-network-${port}`;
    const server = await f.runContainer(hostPod, f.containerConfig('web', ['sh', '-c', `mkdir -p /www && echo ${body} > /www/index.html && exec httpd -f -p 127.0.0.1:${port} -h /www`],
      { linux: { securityContext: hostNet } }));
    await f.waitForState(server, 'CONTAINER_RUNNING');
    await listening(port);

    const hostShim = await startApiShim({
      execUrl: async () => { throw new Error('unused'); },
      attachUrl: async () => { throw new Error('unused'); },
      portForwardUrl: async (r) => (await f.cri.runtime.PortForward({ podSandboxId: r.podSandboxId, port: r.port ?? [] })).url,
    }, () => ({ containerId: server, podSandboxId: hostPod.id }), { portForwardQuery: 'port' });
    try {
      const { localPort, child } = await kubectlPortForward(await hostShim.writeKubeconfig(fs.mkdtempSync(path.join(f.dirs.dir, 'hostnet-'))), port);
      try {
        for (let i = 0; i < 2; i++) assert.equal(await (await fetch(`http://127.0.0.1:${localPort}/index.html`)).text(), `${body}\n`, `SPDY request ${i + 1}`);
      } finally {
        child.kill('SIGKILL');
      }
    } finally {
      await hostShim.close();
    }

    const ws = await wsPortForward(hostPod.id, port);
    ws.send(Buffer.concat([Buffer.from([0]), Buffer.from('GET /index.html HTTP/1.0\r\nHost: localhost\r\n\r\n')]));
    const reply = await ws.data;
    assert.match(reply, /^HTTP\/1\.[01] 200 OK/);
    assert.ok(reply.includes(body), reply);

    // Nothing listening on the node's port: the error channel says so, nothing else breaks.
    const closed = await wsPortForward(hostPod.id, await unusedLoopbackPort());
    assert.match(await closed.errors, /nothing accepts connections on port \d+/);
    await f.cri.runtime.RemovePodSandbox({ podSandboxId: hostPod.id });
  });

  it('kubectl exec -t: a real terminal in the container, with its size', async () => {
    // kubectl only allocates a tty when its own stdin is a terminal: run it under script(1).
    const cmd = `stty cols 97 rows 31; ${kubectl} --kubeconfig ${kubeconfig} exec -it web -- sh -c 'tty; stty size; exit 2'`;
    const r = await new Promise<{ code: number | null; out: string }>((resolve) => {
      const child = spawn('script', ['-qfec', cmd, '/dev/null'], { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: f.dirs.dir, TERM: 'xterm' } });
      let out = '';
      child.stdout.on('data', (c: Buffer) => { out += c.toString(); });
      child.on('close', (code) => resolve({ code, out }));
      setTimeout(() => child.kill('SIGKILL'), 20_000).unref();
    });
    assert.match(r.out, /\/dev\/pts\/\d+/, r.out);
    assert.match(r.out, /31 97/, r.out);
    assert.equal(r.code, 2, r.out);
  });

  it('kubectl attach joins the main process: stdin in, stdout out', async () => {
    const reader = await f.runContainer(pod as never, f.containerConfig('reader', ['sh', '-c', 'while read line; do echo "got $line"; done; echo bye'], { stdin: true, stdinOnce: true }));
    await f.waitForState(reader, 'CONTAINER_RUNNING');
    const readerShim = await startApiShim({
      execUrl: async () => { throw new Error('unused'); },
      attachUrl: async (r) => (await f.cri.runtime.Attach({ containerId: r.containerId, tty: r.tty, stdin: r.stdin, stdout: r.stdout, stderr: r.stderr })).url,
      portForwardUrl: async () => { throw new Error('unused'); },
    }, () => ({ containerId: reader, podSandboxId: pod.id }));
    try {
      const cfg = await readerShim.writeKubeconfig(path.join(f.dirs.dir));
      const r = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
        const child = spawn(kubectl!, ['--kubeconfig', cfg, 'attach', '-i', 'reader'], { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: f.dirs.dir } });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (c: Buffer) => { stdout += c.toString(); });
        child.stderr.on('data', (c: Buffer) => { stderr += c.toString(); });
        child.on('close', (code) => resolve({ code, stdout, stderr }));
        setTimeout(() => { child.stdin.end('one\ntwo\n'); }, 500);
        setTimeout(() => child.kill('SIGKILL'), 20_000).unref();
      });
      assert.match(r.stdout, /got one\ngot two\n/, r.stderr);
      await f.waitForState(reader, 'CONTAINER_EXITED');
    } finally {
      await readerShim.close();
    }
    await assert.rejects(f.cri.runtime.Attach({ containerId: web, stdin: true, stdout: true }), (err) => grpcError(err).code === grpc.status.FAILED_PRECONDITION);
  });

  it('stream sessions are counted in the metrics, by kind and protocol', async () => {
    const line = [...f.daemon.logRecords()].reverse().find((r) => r.msg === 'metrics server listening')!;
    const text = await (await fetch(`http://${String(line.address)}/metrics`)).text();
    const total = (series: string) => Number(text.split('\n').find((l) => l.startsWith(`${series} `))?.split(' ').pop() ?? 0);
    assert.ok(total('container_runtime_cradle_stream_sessions_total{kind="exec",protocol="v4.channel.k8s.io"}') >= 2, text.split('\n').filter((l) => l.includes('stream_sessions')).join('\n'));
    assert.ok(total('container_runtime_cradle_stream_sessions_total{kind="portforward",protocol="portforward.k8s.io"}') >= 1);
  });

  it('bad requests are refused before any URL exists', async () => {
    await assert.rejects(f.cri.runtime.Exec({ containerId: web, cmd: [], stdout: true }), (err) => grpcError(err).code === grpc.status.INVALID_ARGUMENT);
    await assert.rejects(f.cri.runtime.Exec({ containerId: 'nope', cmd: ['true'], stdout: true }), (err) => grpcError(err).code === grpc.status.NOT_FOUND);
    await assert.rejects(f.cri.runtime.PortForward({ podSandboxId: 'nope' }), (err) => grpcError(err).code === grpc.status.NOT_FOUND);
    const done = await f.runContainer(pod as never, f.containerConfig('done', ['true']));
    await f.waitForState(done, 'CONTAINER_EXITED');
    await assert.rejects(f.cri.runtime.Exec({ containerId: done, cmd: ['true'], stdout: true }), (err) => grpcError(err).code === grpc.status.FAILED_PRECONDITION);
  });
});
