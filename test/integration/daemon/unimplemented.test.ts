// Every RPC without an implementation answers UNIMPLEMENTED naming itself: checked
// on a CriServer with no handlers, so the test holds whatever cradle implements.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { CriServer } from '../../../src/cri-server/server';
import { silentLogger } from '../../../src/common/logger';
import { CriClient, grpcError } from '../../helpers/cri-client';
import { loadCriProto } from '../../../src/cri-server/proto';
import { imageRpcs, runtimeRpcs } from '../../../src/cri-server/rpc';

test('unimplemented unary and streaming RPCs answer UNIMPLEMENTED naming the RPC', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cradle-test-unimpl-'));
  const server = new CriServer({ listen: `unix://${dir}/cri.sock`, maxMessageSize: 16 << 20, socketMode: 0o600, log: silentLogger(), runtime: {}, image: {}, interceptors: [] });
  await server.start();
  const cri = new CriClient(`unix://${dir}/cri.sock`);
  t.after(async () => { cri.close(); await server.shutdown(1000); fs.rmSync(dir, { recursive: true, force: true }); });
  const proto = loadCriProto();
  const methods = [...Object.entries(proto.runtime.v1.RuntimeService.service), ...Object.entries(proto.runtime.v1.ImageService.service)];
  assert.equal(methods.length, 41, 'CRI v1 has 41 RPCs');
  for (const [name, def] of methods) {
    const call = def.responseStream
      ? (cri.runtimeStreams as unknown as Record<string, ((r: object) => Promise<unknown>) | undefined>)[name] ?? (cri.imageStreams as unknown as Record<string, (r: object) => Promise<unknown>>)[name]!
      : (cri.runtime as unknown as Record<string, ((r: object) => Promise<unknown>) | undefined>)[name] ?? (cri.image as unknown as Record<string, (r: object) => Promise<unknown>>)[name]!;
    await assert.rejects(call({}), (err) => {
      assert.equal(grpcError(err).code, grpc.status.UNIMPLEMENTED, name);
      assert.match(grpcError(err).details, new RegExp(`^${name} is not implemented`));
      return true;
    });
  }
});

test('cradled implements every CRI v1 RPC (CheckpointContainer, the last, included)', () => {
  const proto = loadCriProto();
  // The handler tables only close over the services: built with none, nothing is called.
  const services = {} as Parameters<typeof runtimeRpcs>[0];
  const served = new Set([...Object.keys(runtimeRpcs(services)), ...Object.keys(imageRpcs(services))]);
  const all = [...Object.keys(proto.runtime.v1.RuntimeService.service), ...Object.keys(proto.runtime.v1.ImageService.service)];
  assert.deepEqual(all.filter((name) => !served.has(name)), []);
  assert.ok(served.has('CheckpointContainer'));
});
