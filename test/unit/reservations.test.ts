import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { NameReservations } from '../../src/common/reservations';
import { RecordStore } from '../../src/common/record-store';

test('a retry with the same request gets the in-flight result; another request is ALREADY_EXISTS', async () => {
  const names = new NameReservations<string>('pod sandbox');
  let runs = 0;
  let release!: () => void;
  const gate = new Promise<void>((r) => { release = r; });
  const first = names.run('web_default_uid_0', 'id1', 'fp', async () => { runs++; await gate; return 'id1'; });
  const retry = names.run('web_default_uid_0', 'id2', 'fp', async () => { runs++; return 'id2'; });
  await assert.rejects(names.run('web_default_uid_0', 'id3', 'other', async () => 'id3'), (err: Error & { kind?: string }) => {
    assert.equal(err.kind, 'already-exists');
    assert.match(err.message, /reserved by id1/);
    return true;
  });
  release();
  assert.equal(await first, 'id1');
  assert.equal(await retry, 'id1');
  assert.equal(runs, 1);
});

test('a failed operation frees its name; release frees a held name', async () => {
  const names = new NameReservations<string>('container');
  await assert.rejects(names.run('n', 'a', 'fp', async () => { throw new Error('boom'); }), /boom/);
  assert.equal(await names.run('n', 'b', 'fp2', async () => 'b'), 'b');
  assert.equal(names.holderOf('n'), 'b');
  names.release('n', 'other');
  assert.equal(names.holderOf('n'), 'b', 'only the holder releases');
  names.release('n', 'b');
  assert.equal(names.holderOf('n'), undefined);
});

test('record store round-trips records and skips torn files', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cradle-unit-records-'));
  try {
    const store = new RecordStore<{ id: string; n: number }>(path.join(dir, 'r'));
    await store.save({ id: 'a', n: 1 });
    await store.save({ id: 'b', n: 2 });
    await store.save({ id: 'a', n: 3 });
    fs.writeFileSync(path.join(dir, 'r', 'c.json'), '{"id": "c", ');
    const all = (await store.loadAll()).sort((x, y) => x.id.localeCompare(y.id));
    assert.deepEqual(all, [{ id: 'a', n: 3 }, { id: 'b', n: 2 }]);
    await store.remove('a');
    assert.deepEqual((await store.loadAll()).map((r) => r.id), ['b']);
    await assert.rejects(store.save({ id: '../x', n: 0 }), /invalid record id/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
