// startWriteback: sync_file_range(SYNC_FILE_RANGE_WRITE) through koffi. It starts
// the writeback of a regular file's range, and on an fd that has no pages to write
// back (a pipe) it reports the kernel's refusal instead of throwing.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { startWriteback } from '../../../src/sys/writeback';
import { mknod, S_IFIFO } from '../../../src/sys/mknod';

test('starts the writeback of a written file range and leaves its content as written', (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cradle-test-writeback-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'data');
  const content = Buffer.alloc(3 << 20, 'cradle ');
  const fd = fs.openSync(file, 'w');
  try {
    fs.writeSync(fd, content);
    assert.deepEqual(startWriteback(fd, 1 << 20, 1 << 20), { started: true });
    assert.deepEqual(startWriteback(fd, 0, 0), { started: true });
  } finally {
    fs.closeSync(fd);
  }
  assert.ok(fs.readFileSync(file).equals(content));
});

test('a pipe has nothing to write back: ESPIPE is reported, not thrown', () => {
  const fds = pipe();
  try {
    assert.deepEqual(startWriteback(fds.write, 0, 0), { started: false, errno: os.constants.errno.ESPIPE });
  } finally {
    fs.closeSync(fds.read);
    fs.closeSync(fds.write);
  }
});

function pipe(): { read: number; write: number } {
  // A FIFO opened read-write never blocks on open and is a pipe to the kernel.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cradle-test-writeback-fifo-'));
  const fifo = path.join(dir, 'fifo');
  try {
    mknod(fifo, S_IFIFO | 0o600, 0, 0);
    const read = fs.openSync(fifo, fs.constants.O_RDWR);
    const write = fs.openSync(fifo, fs.constants.O_RDWR);
    return { read, write };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
