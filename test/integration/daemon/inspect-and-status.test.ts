// The root-only inspection API and `cradled status` against a real daemon.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { baseArgs, makeTempDirs, runCradled, startCradled } from '../../helpers/daemon';
import { inspectGet } from '../../../src/daemon/inspect';

test('inspection socket is root-only and serves /info, /config, /debug/heap and 404s', async (t) => {
  const daemon = await startCradled();
  t.after(() => daemon.stop());
  const socket = daemon.dirs.layout.inspectSocket;
  const st = fs.statSync(socket);
  assert.equal(st.mode & 0o777, 0o600);
  assert.equal(st.uid, 0);

  const info = JSON.parse((await inspectGet(socket, '/info')).body) as { version: string; socket: string; conditions: Record<string, { ready: boolean; reason: string }> };
  assert.equal(info.socket, daemon.socket);
  assert.equal(info.conditions.NetworkReady!.ready, false);
  assert.equal(info.conditions.NetworkReady!.reason, 'NetworkPluginNotReady');

  const config = await inspectGet(socket, '/config');
  assert.equal(config.status, 200);
  assert.match(config.body, /^\[api\]$/m);
  assert.match(config.body, new RegExp(`listen = "unix://${daemon.socket}"`));
  assert.equal((await inspectGet(socket, '/nope')).status, 404);

  const heap = JSON.parse((await inspectGet(socket, '/debug/heap')).body) as { usedHeapBytes: number; totalHeapBytes: number; rssBytes: number };
  assert.ok(heap.usedHeapBytes > 1 << 20 && heap.usedHeapBytes <= heap.totalHeapBytes && heap.totalHeapBytes < heap.rssBytes, JSON.stringify(heap));
});

test('`cradled status` prints the daemon\'s view, or a clear error when it is down', async (t) => {
  const daemon = await startCradled();
  t.after(() => daemon.stop());
  const human = await runCradled(['status', ...baseArgs(daemon.dirs)]);
  assert.equal(human.code, 0, human.stderr);
  assert.match(human.stdout, /^cradled \d+\.\d+\.\d+ \(node v24/m);
  assert.match(human.stdout, /^NetworkReady +false \(NetworkPluginNotReady: /m);
  assert.match(human.stdout, new RegExp(`^socket +${daemon.socket}$`, 'm'));
  const json = await runCradled(['status', '--json', ...baseArgs(daemon.dirs)]);
  assert.equal(json.code, 0, json.stderr);
  const parsed = JSON.parse(json.stdout) as { info: { pid: number } };
  assert.equal(parsed.info.pid, daemon.proc.pid, 'bin/cradled execs node, so the pid is the daemon\'s');

  const dirs = makeTempDirs();
  t.after(() => fs.rmSync(dirs.dir, { recursive: true, force: true }));
  fs.writeFileSync(dirs.configFile, '');
  const down = await runCradled(['status', ...baseArgs(dirs)]);
  assert.equal(down.code, 1);
  assert.match(down.stderr, /cannot reach cradled at .*inspect\.sock/);
});
