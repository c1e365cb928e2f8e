// cradle through gRPC C-core (Debian's python3-grpcio for /usr/bin/python3), a
// second HTTP/2 stack besides grpc-js: once with :authority set to the socket
// path, as grpc-go clients (kubelet <= 1.29, crictl 1.26) send it, and once with
// C-core's default for unix: targets ("localhost").
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { PodFixture } from '../../helpers/pod-fixture';
import { pythonClient, pythonClientUnavailable } from '../../helpers/foreign-clients';
import { loadCriProto } from '../../../src/cri-server/proto';

const f = new PodFixture('cradle-tpy0', '10.227.0.0/24');
const runtime = loadCriProto().runtime.v1.RuntimeService.service;

describe('python3-grpcio client (gRPC C-core)', { skip: pythonClientUnavailable() }, () => {
  let podSandboxId = '';
  before(async () => {
    await f.start();
    // A pod made by grpc-js, so ListPodSandbox has something to decode.
    podSandboxId = (await f.runPod('python')).id;
  });
  after(() => f.stop());

  const authorities: [string, () => string | undefined][] = [
    [':authority = socket path (grpc.default_authority), as grpc-go clients send it', () => f.daemon.socket],
    ['default :authority', () => undefined],
  ];
  for (const [label, authority] of authorities) {
    it(`${label}: Version and ListPodSandbox`, async (t) => {
      const py = pythonClient(f.daemon.socket, authority());
      t.after(() => py.close());

      const version = await py.call(runtime.Version, { version: 'v1' });
      assert.equal(version.runtimeName, 'cradle');
      assert.equal(version.runtimeApiVersion, 'v1');

      const { items } = await py.call(runtime.ListPodSandbox, {});
      assert.deepEqual(items.map((p) => [p.id, p.metadata!.name, p.state]), [[podSandboxId, 'python-1', 'SANDBOX_READY']]);
    });
  }
});
