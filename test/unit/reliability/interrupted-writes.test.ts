// A crash between the temp-file write and its rename leaves the temp file behind;
// the startup sweep removes exactly those, and the stores run it when they load.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { removeInterruptedWrites, writeFileAtomic } from '../../../src/common/atomic-file';
import { RecordStore } from '../../../src/common/record-store';

function tempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'cradle-interrupted-'));
}

describe('interrupted atomic writes', () => {
  it('removes temp files named as writeFileAtomic names them and keeps everything else', async () => {
    const dir = tempDir();
    try {
      await writeFileAtomic(path.join(dir, 'kept'), 'x');
      const leftovers = ['.kept.0123456789ab.tmp', '.pod-eth0.a1b2c3d4e5f6.tmp'];
      const others = ['.hidden', 'plain.tmp', '.short.abc.tmp'];
      for (const name of [...leftovers, ...others]) fs.writeFileSync(path.join(dir, name), '');
      const removed = await removeInterruptedWrites(dir);
      assert.deepEqual(removed.map((f) => path.basename(f)).sort(), [...leftovers].sort());
      assert.deepEqual(fs.readdirSync(dir).sort(), [...others, 'kept'].sort());
      assert.equal(fs.readFileSync(path.join(dir, 'kept'), 'utf8'), 'x');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a missing directory is nothing to sweep', async () => {
    assert.deepEqual(await removeInterruptedWrites(path.join(os.tmpdir(), 'cradle-no-such-dir-for-sweep')), []);
  });

  it('RecordStore.loadAll drops the leftovers of an interrupted save and loads the records', async () => {
    const dir = tempDir();
    try {
      const store = new RecordStore<{ id: string; n: number }>(dir);
      await store.save({ id: 'a', n: 1 });
      fs.writeFileSync(path.join(dir, '.b.json.00112233aabb.tmp'), '{"id":"b","n"');
      assert.deepEqual(await store.loadAll(), [{ id: 'a', n: 1 }]);
      assert.deepEqual(fs.readdirSync(dir), ['a.json']);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
