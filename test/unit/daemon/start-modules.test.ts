// What loading the daemon costs: modules a request may never need load on first
// use, not with the daemon (its cold start is mostly module loading).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';

const DAEMON = path.resolve(__dirname, '../../../src/daemon/daemon.js');

/** Packages (and cradle's own directories) loaded by requiring the daemon module in a fresh Node. */
function loadedWithDaemon(): string[] {
  const script = `require(${JSON.stringify(DAEMON)}); process.stdout.write(JSON.stringify(Object.keys(require.cache)));`;
  const out = execFileSync(process.execPath, ['-e', script], { encoding: 'utf8', env: { PATH: process.env.PATH ?? '' } });
  return JSON.parse(out) as string[];
}

test('the daemon module does not load what only some requests need', () => {
  const loaded = loadedWithDaemon();
  const has = (fragment: string) => loaded.some((file) => file.includes(fragment));
  assert.ok(has('/@grpc/grpc-js/'), 'sanity: the gRPC server loads with the daemon');
  for (const lazy of [
    '/node_modules/prom-client/', '/node_modules/ws/', '/node_modules/js-yaml/', '/node_modules/tar-stream/',
    '/node_modules/koffi/', '/node_modules/protobufjs/', '/src/runtime/oci-config/build.js', '/src/runtime/cdi/',
    '/src/oci-runtime/launch-plan.js', '/src/streaming/remotecommand/', '/src/image/unpack.js', '/src/stats/index.js',
  ]) {
    assert.ok(!has(lazy), `${lazy} is loaded with the daemon`);
  }
});
