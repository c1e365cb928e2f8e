import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { listConfigFiles, loadNetworkConfigs, parseNetworkConfig } from '../../../src/cni/config';
import { defaultNetworkConfig, ensureDefaultConfig } from '../../../src/cni/default-config';
import { errors } from '../../../src/common/errors';
import { writeFakePlugins } from './fake-plugin';

function tmpdir(t: { after(fn: () => void): void }): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cradle-test-cni-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('a .conf file becomes a one-plugin list', () => {
  const net = parseNetworkConfig('/d/10-a.conf', JSON.stringify({
    cniVersion: '0.4.0', name: 'a', type: 'bridge', bridge: 'br9', capabilities: { portMappings: true, bandwidth: false },
  }));
  assert.equal(net.name, 'a');
  assert.equal(net.cniVersion, '0.4.0');
  assert.equal(net.plugins.length, 1);
  assert.equal(net.plugins[0]!.type, 'bridge');
  assert.deepEqual([...net.plugins[0]!.capabilities], ['portMappings']);
  assert.deepEqual(net.raw.plugins, [{ cniVersion: '0.4.0', name: 'a', type: 'bridge', bridge: 'br9', capabilities: { portMappings: true, bandwidth: false } }]);
});

test('a .conflist keeps plugin order and flags', () => {
  const net = parseNetworkConfig('/d/20.conflist', JSON.stringify({
    cniVersion: '1.0.0', name: 'n1', disableCheck: 'true', plugins: [{ type: 'bridge' }, { type: 'portmap' }],
  }));
  assert.deepEqual(net.plugins.map((p) => p.type), ['bridge', 'portmap']);
  assert.equal(net.disableCheck, true);
  assert.equal(net.disableGC, false);
});

test('cniVersions picks the highest supported version', () => {
  const net = parseNetworkConfig('/d/x.conflist', JSON.stringify({
    cniVersions: ['0.3.1', '1.1.0', '9.9.9'], name: 'n', plugins: [{ type: 'bridge' }],
  }));
  assert.equal(net.cniVersion, '1.1.0');
  assert.equal(net.raw.cniVersion, '1.1.0');
});

test('invalid configs are rejected with the file and the problem', () => {
  const cases: Array<[string, string, RegExp]> = [
    ['/d/a.conf', '{ not json', /\/d\/a\.conf: invalid JSON/],
    ['/d/b.conf', JSON.stringify({ cniVersion: '0.2.0', name: 'b', type: 'bridge' }), /cniVersion "0\.2\.0" is not supported \(supported: 0\.3\.0, 0\.3\.1, 0\.4\.0, 1\.0\.0, 1\.1\.0\)/],
    ['/d/c.conf', JSON.stringify({ name: 'c', type: 'bridge' }), /c\.conf: cniVersion is required/],
    ['/d/d.conf', JSON.stringify({ cniVersion: '1.0.0', name: 'd' }), /plugin\.type is required/],
    ['/d/e.conflist', JSON.stringify({ cniVersion: '1.0.0', name: 'e', plugins: [] }), /plugins must be a non-empty list/],
    ['/d/f.conflist', JSON.stringify({ cniVersion: '1.0.0', name: 'f', plugins: [{ type: '../../bin/sh' }] }), /plugins\[0\]\.type "\.\.\/\.\.\/bin\/sh" is not a valid plugin name/],
    ['/d/g.conflist', JSON.stringify({ cniVersion: '1.0.0', name: 'bad name', plugins: [{ type: 'x' }] }), /name "bad name" may only contain/],
    ['/d/h.conflist', JSON.stringify([1]), /top level must be a JSON object/],
  ];
  for (const [file, text, pattern] of cases) {
    assert.throws(() => parseNetworkConfig(file, text), (err: unknown) => {
      assert.ok(errors.cniConfig.is(err), `${file}: ${String(err)}`);
      assert.match((err as Error).message, pattern);
      return true;
    });
  }
});

test('config files are listed in lexical order, by extension, skipping hidden and other files', (t) => {
  const dir = tmpdir(t);
  for (const name of ['b.conf', '10-z.conflist', '2.json', 'a.txt', '.hidden.conf', '99.conf.bak']) fs.writeFileSync(path.join(dir, name), '{}');
  fs.mkdirSync(path.join(dir, 'sub.conf'));
  return listConfigFiles(dir).then((files) => {
    assert.deepEqual(files.map((f) => path.basename(f)), ['10-z.conflist', '2.json', 'b.conf']);
  });
});

test('loading: missing plugin binaries make a file invalid; valid files keep lexical order', async (t) => {
  const dir = tmpdir(t);
  const bin = path.join(dir, 'bin');
  writeFakePlugins(bin, ['good']);
  const conf = path.join(dir, 'net.d');
  fs.mkdirSync(conf);
  fs.writeFileSync(path.join(conf, '30-b.conf'), JSON.stringify({ cniVersion: '1.0.0', name: 'b', type: 'good' }));
  fs.writeFileSync(path.join(conf, '10-missing.conflist'), JSON.stringify({ cniVersion: '1.0.0', name: 'm', plugins: [{ type: 'good' }, { type: 'nosuch' }] }));
  fs.writeFileSync(path.join(conf, '20-a.conflist'), JSON.stringify({ cniVersion: '1.0.0', name: 'a', plugins: [{ type: 'good' }] }));
  fs.writeFileSync(path.join(conf, '40-broken.json'), '{');
  const loaded = await loadNetworkConfigs(conf, [path.join(dir, 'nodir'), bin]);
  assert.deepEqual(loaded.networks.map((n) => n.name), ['a', 'b']);
  assert.equal(loaded.invalid.length, 2);
  assert.equal(loaded.invalid[0]!.file, path.join(conf, '10-missing.conflist'));
  assert.match(loaded.invalid[0]!.error, /plugin type "nosuch" not found in .*nodir, .*bin/);
  assert.match(loaded.invalid[1]!.error, /40-broken\.json: invalid JSON/);
});

test('missing conf dir loads as empty', async () => {
  const loaded = await loadNetworkConfigs('/nonexistent/cradle-test-cni', ['/nonexistent']);
  assert.deepEqual(loaded, { networks: [], invalid: [] });
});

test('default config: bridge + host-local + portmap, written only into an empty dir', async (t) => {
  const dir = tmpdir(t);
  const config = defaultNetworkConfig();
  const net = parseNetworkConfig('/x/10-cradle-default.conflist', JSON.stringify(config));
  assert.equal(net.name, 'cradle');
  assert.deepEqual(net.plugins.map((p) => p.type), ['bridge', 'portmap']);
  const bridge = net.plugins[0]!.raw;
  assert.equal(bridge.bridge, 'cradle0');
  assert.equal(bridge.isGateway, true);
  assert.equal(bridge.ipMasq, true);
  assert.equal(bridge.hairpinMode, true);
  assert.deepEqual(bridge.ipam, { type: 'host-local', ranges: [[{ subnet: '10.85.0.0/16' }]], routes: [{ dst: '0.0.0.0/0' }] });
  assert.ok(net.plugins[1]!.capabilities.has('portMappings'));

  const conf = path.join(dir, 'net.d');
  const written = await ensureDefaultConfig(conf, { subnet: '10.99.0.0/24', bridge: 'cradle-t9' });
  assert.equal(written, path.join(conf, '10-cradle-default.conflist'));
  const onDisk = JSON.parse(fs.readFileSync(written, 'utf8'));
  assert.equal(onDisk.plugins[0].bridge, 'cradle-t9');
  assert.deepEqual(onDisk.plugins[0].ipam.ranges, [[{ subnet: '10.99.0.0/24' }]]);
  // A second call, or any existing config, leaves the dir alone.
  fs.writeFileSync(written, '{"user":"edited"}');
  assert.equal(await ensureDefaultConfig(conf), undefined);
  assert.equal(fs.readFileSync(written, 'utf8'), '{"user":"edited"}');
  assert.throws(() => defaultNetworkConfig({ subnet: 'banana' }), /subnet "banana" is not a CIDR/);
});
