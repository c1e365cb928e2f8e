import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { ContentStore, digestOf, type BlobBody } from '../../../src/image/content-store';
import { errors } from '../../../src/common/errors';

function store(t: { after(fn: () => void): void }): ContentStore {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cradle-test-content-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return new ContentStore(dir);
}

const data = Buffer.from('0123456789'.repeat(1000));
const desc = { digest: digestOf(data), size: data.length };
const options = { what: 'blob x', stallTimeoutSec: 0 };

/** Serves `data` honouring Range, recording the offsets asked for. */
function server(body: Buffer = data, honourRange = true) {
  const offsets: number[] = [];
  const open = async (offset: number): Promise<BlobBody> => {
    offsets.push(offset);
    const start = honourRange ? offset : 0;
    return { stream: Readable.from([body.subarray(start)]), offset: start };
  };
  return { offsets, open };
}

test('a verified blob is stored; concurrent ingests of one digest fetch once', async (t) => {
  const s = store(t);
  const src = server();
  const [a, b] = await Promise.all([s.ingest(desc, src.open, options), s.ingest(desc, src.open, options)]);
  assert.equal(a, b);
  assert.ok(fs.readFileSync(a).equals(data));
  assert.deepEqual(src.offsets, [0]);
  assert.equal(await s.ingest(desc, src.open, options), a, 'present blobs are not fetched again');
  assert.deepEqual(src.offsets, [0]);
  assert.deepEqual(await s.list(), [desc.digest]);
});

test('partial ingests resume with the right offset; a server ignoring Range restarts from 0', async (t) => {
  const s = store(t);
  fs.writeFileSync(path.join(s.ingestDir, desc.digest.replace(':', '-')), data.subarray(0, 4000));
  const src = server();
  await s.ingest(desc, src.open, options);
  assert.deepEqual(src.offsets, [4000]);

  const s2 = store(t);
  fs.writeFileSync(path.join(s2.ingestDir, desc.digest.replace(':', '-')), data.subarray(0, 4000));
  const ignoring = server(data, false);
  const file = await s2.ingest(desc, ignoring.open, options);
  assert.ok(fs.readFileSync(file).equals(data));
});

test('a corrupt partial from an earlier run is discarded and the blob fetched again', async (t) => {
  const s = store(t);
  fs.writeFileSync(path.join(s.ingestDir, desc.digest.replace(':', '-')), Buffer.alloc(4000, 0x78));
  const src = server();
  const file = await s.ingest(desc, src.open, options);
  assert.ok(fs.readFileSync(file).equals(data));
  assert.deepEqual(src.offsets, [4000, 0]);
});

test('wrong content, or more bytes than the descriptor says, is a digest mismatch and nothing is kept', async (t) => {
  const s = store(t);
  const wrong = Buffer.from(data);
  wrong[10] = 0;
  await assert.rejects(s.ingest(desc, server(wrong).open, options),
    (err: unknown) => errors.digestMismatch.is(err) && err.message.includes(desc.digest) && err.message.includes('blob x'));
  await assert.rejects(s.ingest(desc, server(Buffer.concat([data, data])).open, options), (err: unknown) => errors.digestMismatch.is(err) && /size/.test(err.message));
  assert.deepEqual(await s.list(), []);
  assert.deepEqual(fs.readdirSync(s.ingestDir), []);
});

test('no bytes for stallTimeoutSec aborts with a stall error', async (t) => {
  const s = store(t);
  const open = async (_offset: number, signal: AbortSignal): Promise<BlobBody> => {
    const stream = new Readable({ read() { /* never sends */ } });
    signal.addEventListener('abort', () => stream.destroy(new Error('aborted')));
    return { stream, offset: 0 };
  };
  await assert.rejects(s.ingest(desc, open, { ...options, stallTimeoutSec: 0.2 }),
    (err: unknown) => errors.pullStalled.is(err) && err.message.includes('blob x'));
});

test('a discarded blob is out of sight at once and deleted; a leftover .trash file goes with the next prune', async (t) => {
  const s = store(t);
  await s.putBytes(desc, data, 'blob');
  assert.equal(s.has(desc.digest), true);
  s.discard(desc.digest);
  assert.equal(s.has(desc.digest), false);
  const leftover = path.join(s.ingestDir, 'crashed.trash');
  fs.writeFileSync(leftover, 'x');
  await s.pruneIngests(24 * 3600_000);
  assert.equal(fs.existsSync(leftover), false);
  assert.deepEqual(fs.readdirSync(s.ingestDir), []);
});
