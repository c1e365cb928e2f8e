// `cradled check`'s host checks against a fake /proc, /sys, PATH and CNI directories.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { checkHost, pluginTypes, type HostPaths } from '../../../src/daemon/check-host';
import { defaultConfig } from '../../../src/config/schema';

function put(file: string, content: string, mode = 0o644): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, content, { mode });
}

test('host checks: forwarding, br_netfilter, iptables backend, libseccomp, cgroup v1 warning, overlay features, CNI plugins', (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cradle-check-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const paths: HostPaths = { proc: path.join(dir, 'proc'), sys: path.join(dir, 'sys'), path: [path.join(dir, 'sbin')], libDirs: [path.join(dir, 'lib')] };
  put(path.join(dir, 'proc/sys/net/ipv4/ip_forward'), '0\n');
  put(path.join(dir, 'sys/module/overlay/parameters/redirect_dir'), 'N\n');
  put(path.join(dir, 'sys/module/overlay/parameters/index'), 'N\n');
  put(path.join(dir, 'sys/module/overlay/parameters/metacopy'), 'N\n');
  const config = defaultConfig();
  config.network.cni_config_dir = path.join(dir, 'net.d');
  config.network.cni_plugin_dirs = [path.join(dir, 'cni')];
  put(path.join(dir, 'net.d/10-test.conflist'), JSON.stringify({ name: 'test', plugins: [{ type: 'bridge', ipam: { type: 'host-local' } }, { type: 'portmap' }] }));
  put(path.join(dir, 'cni/bridge'), '#!/bin/sh\n', 0o755);
  put(path.join(dir, 'cni/portmap'), '#!/bin/sh\n', 0o755);

  const by = (findings: ReturnType<typeof checkHost>) => new Map(findings.map((f) => [f.what, f]));
  let f = by(checkHost(config, paths));
  assert.equal(f.get('net.ipv4.ip_forward')!.level, 'warn');
  assert.equal(f.get('br_netfilter')!.level, 'warn');
  assert.match(f.get('br_netfilter')!.detail, /modprobe br_netfilter/);
  assert.equal(f.get('iptables')!.level, 'fail');
  assert.equal(f.get('libseccomp')!.level, 'fail');
  assert.equal(f.get('cgroup mode')!.level, 'warn');
  assert.match(f.get('cgroup mode')!.detail, /1\.35/);
  assert.equal(f.get('overlayfs features')!.detail, 'redirect_dir=N index=N metacopy=N');
  assert.equal(f.get('CNI plugin host-local')!.level, 'fail', 'the default network lacks host-local');
  assert.equal(f.get('CNI plugin bridge')!.level, 'ok');

  put(path.join(dir, 'proc/sys/net/ipv4/ip_forward'), '1\n');
  put(path.join(dir, 'proc/sys/net/bridge/bridge-nf-call-iptables'), '1\n');
  put(path.join(dir, 'sbin/iptables'), '#!/bin/sh\necho "iptables v1.8.9 (nf_tables)"\n', 0o755);
  put(path.join(dir, 'lib/libseccomp.so.2'), '');
  put(path.join(dir, 'sys/fs/cgroup/cgroup.controllers'), 'cpu memory pids\n');
  put(path.join(dir, 'cni/host-local'), '#!/bin/sh\n', 0o755);
  f = by(checkHost(config, paths));
  for (const what of ['net.ipv4.ip_forward', 'br_netfilter', 'iptables', 'libseccomp', 'cgroup mode', 'CNI plugin host-local']) {
    assert.equal(f.get(what)!.level, 'ok', `${what}: ${f.get(what)!.detail}`);
  }
  assert.match(f.get('iptables')!.detail, /backend nft/);
});

test('pluginTypes reads .conf and .conflist documents, IPAM included', () => {
  assert.deepEqual(pluginTypes({ type: 'macvlan', ipam: { type: 'dhcp' } }), ['macvlan', 'dhcp']);
  assert.deepEqual(pluginTypes({ plugins: [{ type: 'bridge', ipam: { type: 'host-local' } }, { type: 'portmap' }] }), ['bridge', 'host-local', 'portmap']);
});
