import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { errors } from '../../../src/common/errors';
import { streamingOptionsFromConfig } from '../../../src/streaming/server';

const base = { address: '127.0.0.1', port: 0, idle_timeout: 4 * 3600_000, tls_cert: '', tls_key: '', tls_ca: '' };

test('[streaming] maps to server options; no TLS without a certificate', async () => {
  assert.deepEqual(await streamingOptionsFromConfig({ ...base, port: 10010, idle_timeout: 1000 }),
    { address: '127.0.0.1', port: 10010, idleTimeoutMs: 1000 });
});

test('TLS files are read; a certificate without a key, or a missing file, is a clear error', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'cradle-test-streaming-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  for (const f of ['cert', 'key', 'ca']) await writeFile(path.join(dir, f), `${f} bytes`);
  const opts = await streamingOptionsFromConfig({ ...base, tls_cert: `${dir}/cert`, tls_key: `${dir}/key`, tls_ca: `${dir}/ca` });
  assert.equal(opts.tls?.cert.toString(), 'cert bytes');
  assert.equal(opts.tls?.key.toString(), 'key bytes');
  assert.equal(opts.tls?.ca?.toString(), 'ca bytes');
  await assert.rejects(streamingOptionsFromConfig({ ...base, tls_cert: `${dir}/cert` }),
    (err: unknown) => errors.config.is(err) && /tls_key/.test((err as Error).message));
  await assert.rejects(streamingOptionsFromConfig({ ...base, tls_cert: `${dir}/cert`, tls_key: `${dir}/missing` }), /tls_key: reading .*missing/);
});
