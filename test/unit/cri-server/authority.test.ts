// The :authority grpc-go clients send on a unix socket (the socket path, as
// kubelet <= 1.29 and crictl 1.26 dial) must reach cradle's handlers: checked on a
// bare CriServer with a grpc-js client that sets grpc.default_authority to the
// path, the cheapest reproduction (test/integration/clients has the real clients).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { CriServer } from '../../../src/cri-server/server';
import { silentLogger } from '../../../src/common/logger';
import { loadCriProto } from '../../../src/cri-server/proto';
import type { VersionResponse__Output } from '../../../src/generated/runtime/v1/VersionResponse';

for (const [label, authority] of [['the socket path', (sock: string) => sock], ['localhost', () => 'localhost']] as const) {
  test(`a call with :authority = ${label} reaches the handler`, async (t) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cradle-test-authority-'));
    const socket = path.join(dir, 'cri.sock');
    const server = new CriServer({
      listen: `unix://${socket}`, maxMessageSize: 16 << 20, socketMode: 0o600, log: silentLogger(), interceptors: [], image: {},
      runtime: { Version: async () => ({ version: '0.1.0', runtimeName: 'authority-test', runtimeVersion: '0', runtimeApiVersion: 'v1' }) },
    });
    await server.start();
    const client = new (loadCriProto().runtime.v1.RuntimeService)(`unix://${socket}`, grpc.credentials.createInsecure(), {
      'grpc.default_authority': authority(socket),
    });
    t.after(async () => { client.close(); await server.shutdown(1000); fs.rmSync(dir, { recursive: true, force: true }); });
    const response = await new Promise<VersionResponse__Output>((resolve, reject) => {
      client.Version({ version: 'v1' }, { deadline: Date.now() + 10_000 }, (err, res) => (err ? reject(err) : resolve(res!)));
    });
    assert.equal(response.runtimeName, 'authority-test');
  });
}
