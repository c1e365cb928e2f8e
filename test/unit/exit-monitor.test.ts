import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ExitMonitor, type ContainerExit } from '../../src/runtime/conmon/exit-monitor';

test('exit monitor reports files present at start and new ones from inotify, once each', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cradle-unit-exits-'));
  const exits: ContainerExit[] = [];
  fs.writeFileSync(path.join(dir, 'before'), '137');
  const monitor = new ExitMonitor(dir, (e) => exits.push(e));
  try {
    await monitor.start();
    assert.deepEqual(exits.map((e) => [e.id, e.exitCode]), [['before', 137]]);
    fs.writeFileSync(path.join(dir, 'later'), '0');
    for (let i = 0; i < 100 && exits.length < 2; i++) await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(exits.map((e) => [e.id, e.exitCode]), [['before', 137], ['later', 0]]);
    fs.writeFileSync(path.join(dir, 'tmpexit.ABC123'), '5');
    fs.appendFileSync(path.join(dir, 'later'), '');
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(exits.length, 2, 'no duplicate reports, and conmon\'s temp files (<id>.XXXXXX) are not exits');
    await monitor.consume('before');
    assert.ok(!fs.existsSync(path.join(dir, 'before')));
  } finally {
    monitor.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
