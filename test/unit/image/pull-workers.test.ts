// The pull workers' lifetime: an idle worker first releases its garbage (and the
// freed memory is handed back, malloc_trim) but stays for the next pull, then exits,
// and when the last one is gone the memory its malloc arenas freed is handed back; a
// cancelled job ends in its worker, which keeps serving.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as http from 'node:http';
import * as zlib from 'node:zlib';
import type { AddressInfo } from 'node:net';
import { PullWorkers, pullThreads } from '../../../src/image/pull-workers';
import { errors } from '../../../src/common/errors';
import { mallocTrim } from '../../../src/sys/malloc-trim';
import { silentLogger } from '../../../src/common/logger';
import { buildTar, sha256 } from './tar-fixture';

let unpacks = 0;

/** An unpack job on the pool: a one-file layer holding `content`; resolves to that file as unpacked. */
async function unpackOn(workers: PullWorkers, dir: string, content: string): Promise<string> {
  const n = unpacks++;
  const blob = path.join(dir, `layer-${n}.tar`);
  const tar = await buildTar([{ name: 'hello', content }]);
  fs.writeFileSync(blob, tar);
  const dest = path.join(dir, `dest-${n}`);
  fs.mkdirSync(dest);
  const result = await workers.unpack(blob, dest, `layer ${n}`, sha256(tar));
  assert.equal(result.entries, 1);
  return fs.readFileSync(path.join(dest, 'hello'), 'utf8');
}

test('once the last idle worker has exited, its freed memory is released, once', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cradle-test-workers-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  let released = 0;
  const workers = new PullWorkers({ threads: 2, idleMs: 50, log: silentLogger(), onAllExited: async () => { released++; } });
  t.after(() => workers.close());
  const unpacked = await Promise.all([1, 2, 3].map(() => unpackOn(workers, dir, 'cradle')));
  assert.deepEqual(unpacked, Array(3).fill('cradle'));
  assert.equal(released, 0, 'nothing is released while workers live');
  const deadline = Date.now() + 20_000;
  while ((workers.threads > 0 || released === 0) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
  assert.equal(workers.threads, 0);
  await new Promise((resolve) => setTimeout(resolve, 200));
  assert.equal(released, 1);
});

test('an idle worker releases its memory once per idle spell and stays for the next job', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cradle-test-workers-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  let released = 0;
  const workers = new PullWorkers({
    threads: 1, releaseMs: 50, idleMs: 60_000, log: silentLogger(),
    onReleased: async () => { released++; }, onAllExited: async () => undefined,
  });
  t.after(() => workers.close());
  assert.equal(await unpackOn(workers, dir, 'first'), 'first');
  assert.equal(released, 0, 'nothing is released as a job ends');
  await until('the idle worker released its memory', () => released === 1);
  assert.equal(workers.threads, 1, 'the worker stays after its release');
  await new Promise((resolve) => setTimeout(resolve, 200));
  assert.equal(released, 1, 'one release per idle spell');
  assert.equal(await unpackOn(workers, dir, 'second'), 'second');
  assert.equal(workers.threads, 1, 'the next job ran on the same worker');
  await until('the worker released again after its next job', () => released === 2);
});

test('a prewarmed worker takes the jobs that follow; busy workers get company up to the thread limit', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cradle-test-workers-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const workers = new PullWorkers({ threads: 2, idleMs: 60_000, log: silentLogger(), onAllExited: async () => undefined });
  t.after(() => workers.close());
  workers.prewarm();
  workers.prewarm();
  assert.equal(workers.threads, 1);
  assert.equal(await unpackOn(workers, dir, 'warm'), 'warm');
  assert.equal(workers.threads, 1, 'the job ran on the prewarmed worker');
  await Promise.all([1, 2, 3, 4].map(() => unpackOn(workers, dir, 'busy')));
  assert.equal(workers.threads, 2, 'a second worker joined while the first was busy, and no more');
});

test('a cancelled download stops in its worker, which lives on for the next job', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cradle-test-workers-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  // A registry that sends the start of a blob and then nothing more.
  const blob = zlib.gzipSync(Buffer.alloc(4 << 20, 'cradle'));
  let requested!: () => void;
  const started = new Promise<void>((resolve) => (requested = resolve));
  const server = http.createServer((_req, res) => {
    res.writeHead(200, { 'content-length': String(blob.length) });
    res.write(blob.subarray(0, 1024));
    requested();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    server.closeAllConnections();
    server.close();
  });
  const host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  fs.mkdirSync(path.join(dir, 'dest'));
  const workers = new PullWorkers({ threads: 1, idleMs: 60_000, log: silentLogger(), onAllExited: async () => undefined });
  t.after(() => workers.close());
  const controller = new AbortController();
  const digest = `sha256:${createHash('sha256').update(blob).digest('hex')}`;
  const fetching = workers.fetchAndUnpack({
    storeRoot: path.join(dir, 'store'),
    blob: { digest, size: blob.length },
    source: { registry: host, repository: 'test/stall', insecure: true, mirror: false },
    auth: { plainHttp: [host], tokens: [], challenges: [] },
    certsDir: path.join(dir, 'certs.d'),
    proxyEnv: {},
    stallTimeoutSec: 0,
    what: 'layer of test/stall',
    dest: path.join(dir, 'dest'),
    expectedDiffId: digest,
  }, controller.signal);
  await started;
  controller.abort();
  await assert.rejects(fetching, (err: unknown) => errors.cancelled.is(err));
  assert.equal(workers.threads, 1, 'the worker was not terminated');
  assert.equal(await unpackOn(workers, dir, 'next'), 'next');
  assert.deepEqual(fs.readdirSync(path.join(dir, 'store', 'ingest')), [digest.replace(':', '-')], 'the partial blob stays for a resume');
});

test('pull threads: at most the downloads, at most one per core', () => {
  assert.equal(pullThreads(3, 2), 2);
  assert.equal(pullThreads(3, 1), 1);
  assert.equal(pullThreads(3, 4), 3);
  assert.equal(pullThreads(8, 4), 4);
  assert.equal(pullThreads(1, 0), 1);
});

test('malloc_trim runs', async () => {
  assert.equal(typeof await mallocTrim(), 'boolean');
});

async function until(what: string, done: () => boolean): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!done() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
  assert.ok(done(), `timed out waiting until ${what}`);
}
