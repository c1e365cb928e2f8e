// A pod's life driven through grpc-go, the gRPC of kubelet and crictl, against
// a real cradled. Dialled as kubelet <= 1.29 and crictl 1.26 dial (the bare
// socket path as target, so :authority is the path, which Node's HTTP/2 layer
// refuses unless cradle handles it) and as kubelet >= 1.30 (:authority
// "localhost"). The grpc-js clients of the other tests never send such an
// authority, so only a foreign client catches that regression.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { PodFixture } from '../../helpers/pod-fixture';
import { busyboxImage, entry, pushImage } from '../../helpers/image-builder';
import { spdyExec } from '../../helpers/spdy-test-client';
import { buildGoClient, goClient, goClientUnavailable, type GoDialMode } from '../../helpers/foreign-clients';
import { loadCriProto } from '../../../src/cri-server/proto';

const f = new PodFixture('cradle-tgo0', '10.226.0.0/24');
const runtime = loadCriProto().runtime.v1.RuntimeService.service;
const image = loadCriProto().runtime.v1.ImageService.service;

describe('grpc-go client (Debian golang-google-grpc-dev)', { skip: goClientUnavailable() }, () => {
  let binary = '';
  before(async () => {
    // The build (~45 s cold, cached afterwards) overlaps the daemon's start.
    [binary] = await Promise.all([buildGoClient(), f.start()]);
  });
  after(() => f.stop());

  const modes: [GoDialMode, string][] = [
    ['path', ':authority = socket path, as kubelet <= 1.29 and crictl 1.26'],
    ['localhost', ':authority = localhost, as kubelet >= 1.30'],
  ];
  for (const [mode, label] of modes) {
    it(`${label}: Version, Status, PullImage, pod and container lifecycle, ExecSync, Exec`, async (t) => {
      const go = goClient(binary, f.daemon.socket, mode);
      t.after(() => go.close());

      const version = await go.call(runtime.Version, { version: 'v1' });
      assert.equal(version.runtimeName, 'cradle');
      assert.equal(version.runtimeApiVersion, 'v1');
      assert.ok(version.runtimeVersion, 'a runtime version');

      const status = await go.call(runtime.Status, { verbose: false });
      const conditions = Object.fromEntries(status.status!.conditions.map((c) => [c.type, c.status]));
      assert.equal(conditions.RuntimeReady, true);
      assert.equal(conditions.NetworkReady, true);

      // An image of its own, so the pull is this client's and the marker file proves which image runs.
      const marker = `pulled through grpc-go, ${mode}\n`;
      const pushed = await pushImage(f.registry, `test/go-client-${mode}:1`, busyboxImage({
        extraLayers: [{ entries: [entry.file('etc/cradle-client', marker)] }],
      }));
      const pulled = await go.call(image.PullImage, { image: { image: pushed.reference } });
      assert.equal(pulled.imageRef, pushed.imageId);

      const config = f.podConfig(`go-${mode}`);
      const { podSandboxId } = await go.call(runtime.RunPodSandbox, { config });
      assert.match(podSandboxId, /^[0-9a-f]{64}$/);
      t.after(() => f.cri.runtime.RemovePodSandbox({ podSandboxId }).catch(() => undefined));

      const { containerId } = await go.call(runtime.CreateContainer, {
        podSandboxId, config: f.containerConfig('app', ['sleep', '1000'], { image: { image: pushed.reference } }), sandboxConfig: config,
      });
      assert.match(containerId, /^[0-9a-f]{64}$/);
      await go.call(runtime.StartContainer, { containerId });

      const sync = await go.call(runtime.ExecSync, { containerId, cmd: ['cat', '/etc/cradle-client'], timeout: 10 });
      assert.equal(sync.exitCode, 0, sync.stderr.toString());
      assert.equal(sync.stdout.toString(), marker);

      const { url } = await go.call(runtime.Exec, { containerId, cmd: ['cat', '/etc/cradle-client'], stdout: true, stderr: true });
      assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\//);
      const streamed = await spdyExec(url);
      assert.equal(streamed.stdout, marker);

      await go.call(runtime.StopPodSandbox, { podSandboxId });
      const stopped = await go.call(runtime.PodSandboxStatus, { podSandboxId, verbose: false });
      assert.equal(stopped.status!.state, 'SANDBOX_NOTREADY');
      await go.call(runtime.RemovePodSandbox, { podSandboxId });
      const left = await go.call(runtime.ListPodSandbox, { filter: { id: podSandboxId } });
      assert.deepEqual(left.items, []);
    });
  }
});
