// critest area: streaming (cri-tools pkg/validate/streaming.go): Exec, Attach
// and PortForward through the URLs the runtime's Exec/Attach/PortForward RPCs
// hand out, reached the way the kubelet proxies them (test/helpers/
// kube-apiserver-shim.ts replays the API server's upgrade request to the URL).
// Clients: kubectl 1.20 (SPDY, as cri-tools' own client) and
// @kubernetes/client-node (WebSocket, channel.k8s.io protocols). Beyond cri-tools
// v1.26.1: PortForward to a host-network pod (the kubelet forwards those too;
// containerd dials the node's loopback for them).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import { PassThrough } from 'node:stream';
import { Exec, KubeConfig, PortForward, type V1Status } from '@kubernetes/client-node';
import type WebSocket from 'ws';
import { startTarget, type CriTarget } from './target';
import { ContainerKit, eventually, type Pod } from './containers';
import { startApiShim, type ApiShim } from '../helpers/kube-apiserver-shim';
import { kubectl120 } from '../helpers/kubectl-1.20';

const kubectl = kubectl120();

interface Run { code: number | null; stdout: string; stderr: string }

describe('streaming', () => {
  let target: CriTarget;
  let kit: ContainerKit;
  let shim: ApiShim;
  let kubeconfig: string;
  let kc: KubeConfig;
  let pod: Pod;
  /** API pod name → the container the shim resolves it to (in `pod` unless `podOf` says otherwise). */
  const names = new Map<string, string>();
  const podOf = new Map<string, string>();

  before(async () => {
    target = await startTarget({ bridge: 'crit-str0', subnet: '10.214.5.0/24' });
    kit = new ContainerKit(target);
    await kit.start();
    pod = await kit.runPod('stream');
    const web = await kit.run(pod, kit.containerConfig('web', ['sh', '-c', 'mkdir -p /www && echo hello-from-web > /www/index.html && exec httpd -f -p 8080 -h /www']));
    names.set('web', web);
    names.set('shell', await kit.runSleeper(pod, 'shell'));
    await kit.waitState(web, 'CONTAINER_RUNNING');
    const cri = () => target.cri.runtime;
    shim = await startApiShim({
      execUrl: async (r) => (await cri().Exec({ containerId: r.containerId, cmd: r.cmd, tty: r.tty, stdin: r.stdin, stdout: r.stdout, stderr: r.stderr })).url,
      attachUrl: async (r) => (await cri().Attach({ containerId: r.containerId, tty: r.tty, stdin: r.stdin, stdout: r.stdout, stderr: r.stderr })).url,
      portForwardUrl: async (r) => (await cri().PortForward({ podSandboxId: r.podSandboxId, port: r.port ?? [] })).url,
    }, (_ns, name) => {
      const containerId = names.get(name);
      if (!containerId) throw new Error(`shim: no container for pod name ${name}`);
      return { containerId, podSandboxId: podOf.get(name) ?? pod.id };
    }, { portForwardQuery: 'port' }); // as the real API server words the request (api.PortHeader)
    kubeconfig = await shim.writeKubeconfig(kit.logRoot);
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
    await kit?.stop();
    await target?.stop();
  });

  function kubectlRun(args: string[], opts: { input?: string; inputDelayMs?: number } = {}): Promise<Run> {
    return new Promise((resolve, reject) => {
      const home = path.join(kit.logRoot, 'kube-home');
      fs.mkdirSync(home, { recursive: true });
      const child = spawn(kubectl!, ['--kubeconfig', kubeconfig, '--cache-dir', path.join(home, 'cache'), ...args], { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home } });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (c: Buffer) => { stdout += c.toString(); });
      child.stderr.on('data', (c: Buffer) => { stderr += c.toString(); });
      const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`kubectl ${args.join(' ')} timed out: ${stderr}`)); }, 30_000);
      child.on('close', (code) => { clearTimeout(timer); resolve({ code, stdout, stderr }); });
      if (opts.inputDelayMs) setTimeout(() => child.stdin.end(opts.input ?? ''), opts.inputDelayMs);
      else child.stdin.end(opts.input ?? '');
    });
  }

  const spdy = { skip: kubectl ? false : 'kubectl 1.20 unavailable' };

  it('Exec over SPDY (kubectl 1.20): stdout, stderr, exit code', spdy, async () => {
    const r = await kubectlRun(['exec', 'shell', '--', 'sh', '-c', 'echo out; echo err >&2; hostname; exit 3']);
    assert.equal(r.code, 3, r.stderr);
    assert.equal(r.stdout, `out\n${pod.config.hostname}\n`);
    assert.match(r.stderr, /^err$/m);
  });

  it('Exec over SPDY with stdin (kubectl exec -i)', spdy, async () => {
    const r = await kubectlRun(['exec', '-i', 'shell', '--', 'sh', '-c', 'tr a-z A-Z'], { input: 'shout\n' });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'SHOUT\n');
  });

  async function wsExec(container: string, cmd: string[]): Promise<{ status: V1Status; stdout: string; stderr: string; protocol: string }> {
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    let out = '';
    let err = '';
    stdout.on('data', (c: Buffer) => { out += c.toString(); });
    stderr.on('data', (c: Buffer) => { err += c.toString(); });
    let ws: WebSocket | undefined;
    const status = await new Promise<V1Status>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('WebSocket exec timed out')), 20_000);
      new Exec(kc).exec('default', container, 'main', cmd, stdout, stderr, null, false, (s) => { clearTimeout(timer); resolve(s); })
        .then((w) => { ws = w as unknown as WebSocket; }, (e: unknown) => { clearTimeout(timer); reject(e); });
    });
    await new Promise((r) => setImmediate(r));
    return { status, stdout: out, stderr: err, protocol: ws?.protocol ?? '' };
  }

  it('Exec over WebSocket (client-node): stdout, stderr, Success and NonZeroExitCode', async (t) => {
    const ok = await wsExec('shell', ['sh', '-c', 'echo out; echo err >&2']);
    // Documented difference: cradle speaks v5.channel.k8s.io; containerd 1.6's streaming
    // server (the kubelet's of 1.2x) at most v4.channel.k8s.io. client-node offers both.
    t.diagnostic(`negotiated ${ok.protocol}`);
    assert.match(ok.protocol, /^v[45]\.channel\.k8s\.io$/);
    assert.equal(ok.status.status, 'Success');
    assert.equal(ok.stdout, 'out\n');
    assert.equal(ok.stderr, 'err\n');
    const bad = await wsExec('shell', ['sh', '-c', 'exit 42']);
    assert.equal(bad.status.status, 'Failure');
    assert.equal(bad.status.reason, 'NonZeroExitCode');
    assert.deepEqual(bad.status.details?.causes, [{ reason: 'ExitCode', message: '42' }]);
  });

  it('Attach over SPDY (kubectl attach -i): stdin to the main process, its stdout back', spdy, async () => {
    const reader = await kit.run(pod, kit.containerConfig('reader', ['sh', '-c', 'while read line; do echo "got $line"; done; echo bye'], { stdin: true, stdinOnce: true }));
    names.set('reader', reader);
    await kit.waitState(reader, 'CONTAINER_RUNNING');
    const r = await kubectlRun(['attach', '-i', 'reader'], { input: 'one\ntwo\n', inputDelayMs: 500 });
    assert.match(r.stdout, /got one\ngot two\n/, r.stderr);
    // stdin_once: the container's stdin closes with the attach; the loop ends.
    const s = await kit.waitState(reader, 'CONTAINER_EXITED');
    assert.equal(s.exitCode, 0);
  });

  it('Attach asking for stdin of a container created without stdin', async (t) => {
    // Documented difference: cradle (as cri-o) refuses at the RPC (FAILED_PRECONDITION);
    // containerd 1.6 hands out a URL and the stream has no stdin to write to.
    const outcome = await target.cri.runtime.Attach({ containerId: names.get('shell')!, stdin: true, stdout: true })
      .then((r) => `URL ${r.url}`, (err: unknown) => `refused: ${(err as Error).message}`);
    t.diagnostic(outcome);
    if (target.name === 'cradle') assert.match(outcome, /^refused: 9 FAILED_PRECONDITION/);
    else assert.match(outcome, /^(refused|URL http)/);
  });

  /** `kubectl port-forward <apiPod> :<port>`, then GET /index.html twice through the local port. */
  async function kubectlForwardedGet(apiPod: string, port: number): Promise<string[]> {
    const child = spawn(kubectl!, ['--kubeconfig', kubeconfig, 'port-forward', apiPod, `:${port}`], { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: kit.logRoot } });
    try {
      const localPort = await new Promise<number>((resolve, reject) => {
        let out = '';
        child.stdout.on('data', (c: Buffer) => {
          out += c.toString();
          const m = /Forwarding from 127\.0\.0\.1:(\d+)/.exec(out);
          if (m) resolve(Number(m[1]));
        });
        child.on('close', () => reject(new Error(`port-forward ended: ${out}`)));
        setTimeout(() => reject(new Error('no forwarding line')), 20_000).unref();
      });
      const bodies: string[] = [];
      for (let i = 0; i < 2; i++) bodies.push(await (await fetch(`http://127.0.0.1:${localPort}/index.html`)).text());
      return bodies;
    } finally {
      child.kill('SIGKILL');
    }
  }

  /** client-node's WebSocket port-forward to <apiPod>:<port>: an HTTP/1.0 GET, the raw reply. */
  async function wsForwardedGet(apiPod: string, port: number, expect: string): Promise<string> {
    const input = new PassThrough();
    const output = new PassThrough();
    let got = '';
    output.on('data', (c: Buffer) => { got += c.toString(); });
    const ws = await new PortForward(kc).portForward('default', apiPod, [port], output, null, input) as unknown as WebSocket;
    try {
      input.write('GET /index.html HTTP/1.0\r\nHost: localhost\r\n\r\n');
      await eventually(() => got.includes(expect), 10_000, 'the HTTP response');
      return got;
    } finally {
      ws.close();
    }
  }

  it('PortForward over SPDY (kubectl port-forward) to a busybox httpd container in the pod', spdy, async () => {
    const bodies = await kubectlForwardedGet('web', 8080);
    assert.deepEqual(bodies, ['hello-from-web\n', 'hello-from-web\n']);
  });

  it('PortForward over WebSocket (client-node) to the httpd container', async () => {
    assert.match(await wsForwardedGet('web', 8080, 'hello-from-web'), /^HTTP\/1\.[01] 200 OK/);
  });

  it('PortForward to a host-network pod reaches its server on the node\'s loopback (SPDY and WebSocket)', async () => {
    // A free port of the node's loopback; the pod's server binds 127.0.0.1 only, so it is
    // reachable through the node's network and nowhere else.
    const probe = net.createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const port = (probe.address() as net.AddressInfo).port;
    await new Promise((resolve) => probe.close(resolve));
    const hostNet = { namespaceOptions: { network: 'NODE' as const } };
    const hostPod = await kit.runPod('streamhost', { hostname: '', linux: { securityContext: hostNet } });
    const body = `hello-from-host-network-${port}`;
    const web = await kit.run(hostPod, kit.containerConfig('web', ['sh', '-c', `mkdir -p /www && echo ${body} > /www/index.html && exec httpd -f -p 127.0.0.1:${port} -h /www`],
      { linux: { securityContext: hostNet } }));
    await kit.waitState(web, 'CONTAINER_RUNNING');
    await eventually(() => new Promise<boolean>((resolve) => {
      const c = net.connect({ host: '127.0.0.1', port }, () => { c.destroy(); resolve(true); });
      c.on('error', () => resolve(false));
    }), 10_000, `the pod's server on 127.0.0.1:${port}`);
    names.set('hostweb', web);
    podOf.set('hostweb', hostPod.id);
    if (kubectl) assert.deepEqual(await kubectlForwardedGet('hostweb', port), [`${body}\n`, `${body}\n`]);
    assert.match(await wsForwardedGet('hostweb', port, body), /^HTTP\/1\.[01] 200 OK/);
    await kit.removePod(hostPod);
  });
});
