// Cost of cradle's CRI socket layer (src/cri-server/http2: every request header
// block decoded and re-encoded) against the same handlers on a grpc-js server
// bound to a unix socket directly, as cradled served before. Interleaved rounds,
// one grpc-js client each; prints medians and the ratio cradle ÷ direct.
// Run: npm run build && ./node_modules/.bin/node dist/bench/cri-socket.js [rounds]
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { CriServer } from '../src/cri-server/server';
import { loadCriProto } from '../src/cri-server/proto';
import { silentLogger } from '../src/common/logger';
import { CriClient } from '../test/helpers/cri-client';
import { percentile } from './lib/stats';

const BULK_BYTES = 4 << 20;
const version = { version: '0.1.0', runtimeName: 'cradle', runtimeVersion: 'bench', runtimeApiVersion: 'v1' };
const bulk = Buffer.alloc(BULK_BYTES, 0x61);

async function directServer(socket: string): Promise<grpc.Server> {
  const proto = loadCriProto();
  const server = new grpc.Server({ 'grpc.max_receive_message_length': 16 << 20, 'grpc.max_send_message_length': 16 << 20 });
  server.addService(proto.runtime.v1.RuntimeService.service, {
    Version: (_call: unknown, cb: grpc.sendUnaryData<unknown>) => cb(null, version),
    ExecSync: (_call: unknown, cb: grpc.sendUnaryData<unknown>) => cb(null, { stdout: bulk, stderr: Buffer.alloc(0), exitCode: 0 }),
  });
  await new Promise<void>((resolve, reject) => server.bindAsync(`unix://${socket}`, grpc.ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve())));
  return server;
}

async function timeCalls(n: number, call: () => Promise<unknown>): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i < n; i++) {
    const start = performance.now();
    await call();
    samples.push(performance.now() - start);
  }
  return samples;
}

async function main(): Promise<void> {
  const rounds = Number(process.argv[2] ?? 10);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cradle-bench-socket-'));
  const cradle = new CriServer({
    listen: `unix://${dir}/cradle.sock`, maxMessageSize: 16 << 20, socketMode: 0o600, log: silentLogger(), interceptors: [], image: {},
    runtime: { Version: async () => version, ExecSync: async () => ({ stdout: bulk, stderr: Buffer.alloc(0), exitCode: 0 }) },
  });
  await cradle.start();
  const direct = await directServer(`${dir}/direct.sock`);
  // The path as authority is what grpc-go's kubelet sends; the direct server would refuse it.
  const clients = { cradle: new CriClient(`unix://${dir}/cradle.sock`, { 'grpc.default_authority': `${dir}/cradle.sock`, 'grpc.max_send_message_length': 16 << 20 }), direct: new CriClient(`unix://${dir}/direct.sock`, { 'grpc.max_send_message_length': 16 << 20 }) };
  const results: Record<string, Record<'cradle' | 'direct', number[]>> = { 'Version (µs)': { cradle: [], direct: [] }, 'ExecSync 4 MiB request + reply (ms)': { cradle: [], direct: [] } };
  try {
    for (const c of Object.values(clients)) await c.runtime.Version({});
    for (let round = 0; round < rounds; round++) {
      for (const side of ['cradle', 'direct'] as const) {
        const cri = clients[side];
        results['Version (µs)'][side].push(...(await timeCalls(200, () => cri.runtime.Version({}))).map((ms) => ms * 1000));
        results['ExecSync 4 MiB request + reply (ms)'][side].push(...await timeCalls(5, () => cri.runtime.ExecSync({ containerId: 'x', cmd: [bulk.toString('latin1')], timeout: 0 })));
      }
    }
  } finally {
    for (const c of Object.values(clients)) c.close();
    await cradle.shutdown(1000);
    direct.forceShutdown();
    fs.rmSync(dir, { recursive: true, force: true });
  }
  console.log('| workload | cradle socket median / p90 | grpc-js direct median / p90 | ratio (medians) |');
  console.log('|---|---|---|---|');
  for (const [name, r] of Object.entries(results)) {
    const c50 = percentile(r.cradle, 50);
    const d50 = percentile(r.direct, 50);
    console.log(`| ${name} | ${c50.toFixed(1)} / ${percentile(r.cradle, 90).toFixed(1)} | ${d50.toFixed(1)} / ${percentile(r.direct, 90).toFixed(1)} | ${(c50 / d50).toFixed(2)} |`);
  }
}

void main();
