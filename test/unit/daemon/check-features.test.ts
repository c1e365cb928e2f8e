// `cradled check`'s feature lines on made-up hosts: the cgroup driver and the native
// path under systemd, AppArmor's default profile, user namespaces, CRIU.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { checkFeatures, type FeatureHost } from '../../../src/daemon/check-features';
import { defaultConfig } from '../../../src/config/schema';

const systemdHost: FeatureHost = {
  cgroups: { systemdBooted: true, unified: true },
  systemdPrivateSocket: true,
  apparmor: { enabled: true, loaded: new Set(['cradle-default']), parser: '/usr/sbin/apparmor_parser' },
  userns: { supported: true },
  criu: '/usr/sbin/criu',
};

function lines(host: FeatureHost, change: (c: ReturnType<typeof defaultConfig>) => void = () => undefined): Map<string, { level: string; detail: string }> {
  const config = defaultConfig();
  change(config);
  return new Map(checkFeatures(config, host).map((f) => [f.what, f]));
}

test('a current systemd node: every feature there, the systemd driver native', () => {
  const f = lines(systemdHost);
  assert.deepEqual([...f.values()].map((x) => x.level), ['ok', 'ok', 'ok', 'ok']);
  assert.match(f.get('cgroup driver')!.detail, /^systemd \(auto\): .*native launcher through \/run\/systemd\/private; the kubelet needs --cgroup-driver=systemd$/);
  assert.equal(f.get('AppArmor')!.detail, 'enabled; the default profile cradle-default is loaded');
  assert.match(f.get('CRIU')!.detail, /^\/usr\/sbin\/criu: /);
});

test('what is missing is said with its consequence', () => {
  let f = lines({ ...systemdHost, systemdPrivateSocket: false });
  assert.equal(f.get('cgroup driver')!.level, 'warn');
  assert.match(f.get('cgroup driver')!.detail, /creates take the Node init \(a 16 MiB memory floor, no user namespaces\)/);
  f = lines({ ...systemdHost, cgroups: { systemdBooted: true, unified: false } }, (c) => { c.runtime.cgroup_manager = 'systemd'; });
  assert.equal(f.get('cgroup driver')!.level, 'fail');
  f = lines(systemdHost, (c) => { c.runtime.cgroup_manager = 'cgroupfs'; });
  assert.equal(f.get('cgroup driver')!.level, 'warn', 'two managers of one tree');
  f = lines({ ...systemdHost, cgroups: { systemdBooted: false, unified: false } });
  assert.deepEqual(f.get('cgroup driver'), { what: 'cgroup driver', level: 'ok', detail: 'cgroupfs (auto: systemd is not PID 1 or cgroup v2 is not mounted); the kubelet needs --cgroup-driver=cgroupfs' });

  f = lines({ ...systemdHost, apparmor: { enabled: true, loaded: new Set(), parser: undefined } });
  assert.equal(f.get('AppArmor')!.level, 'fail');
  assert.match(f.get('AppArmor')!.detail, /apparmor_parser is missing: cradled cannot load cradle-default and will not start/);
  f = lines({ ...systemdHost, apparmor: { enabled: true, loaded: new Set(), parser: '/sbin/apparmor_parser' } });
  assert.equal(f.get('AppArmor')!.detail, 'enabled; cradled loads cradle-default at start with /sbin/apparmor_parser');
  f = lines(systemdHost, (c) => { c.runtime.apparmor_profile = 'site-profile'; });
  assert.equal(f.get('AppArmor')!.level, 'fail');
  f = lines({ ...systemdHost, apparmor: { enabled: false, loaded: new Set(), parser: undefined } });
  assert.equal(f.get('AppArmor')!.level, 'ok');
  assert.match(f.get('AppArmor')!.detail, /^not enabled on this kernel/);

  f = lines({ ...systemdHost, userns: { supported: false, reason: 'overlay on idmapped layers: EINVAL' }, criu: undefined });
  assert.deepEqual(f.get('user namespaces'), { what: 'user namespaces', level: 'warn', detail: 'not available, pods with hostUsers: false are refused: overlay on idmapped layers: EINVAL' });
  assert.equal(f.get('CRIU')!.level, 'warn');
  assert.match(f.get('CRIU')!.detail, /refused \(apt-get install criu\)$/);
  assert.equal(lines({ ...systemdHost, userns: undefined }).has('user namespaces'), false, 'not probed, not said');
});
