// Daemon start as a stack: a failure late in Daemon.start (here a real one, the
// metrics port already taken) stops everything start had started, in reverse. Run
// in this process so that what would be left behind is visible: the streaming
// server's port, the CNI and exit-file watchers, the inspection and CRI sockets.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { Daemon } from '../../../src/daemon/daemon';
import { makeTempDirs } from '../../helpers/daemon';
import { eventually } from '../../helpers/eventually';

function listening(port: number): Promise<net.Server> {
  const server = net.createServer();
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}

function connects(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => { socket.destroy(); resolve(true); });
    socket.once('error', () => resolve(false));
  });
}

/** What the daemon's subsystems hold open: file watchers and listening servers. */
const SERVING = new Set(['FSEventWrap', 'StatWatcher', 'TCPServerWrap', 'PipeServerWrap']);
function servingHandles(): string[] {
  return process.getActiveResourcesInfo().filter((r) => SERVING.has(r)).sort();
}

test('a failure late in start leaves no streaming server, watcher, exit monitor or socket behind', async (t) => {
  const dirs = makeTempDirs('cradle-start-unwind-');
  const busyMetrics = await listening(0);
  const streamingPort = await (async () => {
    const probe = await listening(0);
    const port = (probe.address() as net.AddressInfo).port;
    await new Promise((r) => probe.close(r));
    return port;
  })();
  t.after(() => {
    busyMetrics.close();
    fs.rmSync(dirs.dir, { recursive: true, force: true });
  });
  const flags = new Map<string, string>([
    ['api.listen', `unix://${dirs.socket}`],
    ['state.root', dirs.root],
    ['state.run_root', dirs.runRoot],
    ['network.cni_config_dir', dirs.cniDir],
    ['network.write_default_config', 'false'],
    ['image.registries_conf', path.join(dirs.dir, 'registries.conf')],
    ['image.registries_conf_dir', path.join(dirs.dir, 'registries.conf.d')],
    ['image.certs_dir', path.join(dirs.dir, 'certs.d')],
    ['streaming.port', String(streamingPort)],
    ['metrics.enable', 'true'],
    ['metrics.host', '127.0.0.1'],
    ['metrics.port', String((busyMetrics.address() as net.AddressInfo).port)],
    ['log.level', 'fatal'],
  ]);
  // The port probe's server is closed, and only busyMetrics listens.
  await eventually(() => servingHandles().filter((h) => h === 'TCPServerWrap').length === 1, 'the port probe to close', 10_000);
  const before = servingHandles();

  await assert.rejects(
    Daemon.start({ configFile: dirs.configFile, configDir: dirs.configDir, flags }),
    (err: Error) => /starting the metrics server/.test(err.message),
  );

  // Closed handles leave the list on a later turn of the event loop.
  await eventually(() => servingHandles().length === before.length, 'the handles start opened to close', 10_000).catch(() => undefined);
  assert.deepEqual(servingHandles(), before, 'no watcher or server is left open');
  assert.equal(await connects(streamingPort), false, 'the streaming server is stopped');
  assert.equal(fs.existsSync(dirs.layout.inspectSocket), false, 'the inspection socket is removed');
  assert.equal(fs.existsSync(dirs.socket), false, 'the CRI socket was never made');
});
