// AppArmor for the spec: which profile the CRI fields ask for, what it resolves to on
// a host with and without AppArmor, the kernel's profile list, and cradle-default's text.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { isCradleError } from '../../../src/common/errors';
import { chooseAppArmor, resolveAppArmor, type AppArmorHost } from '../../../src/runtime/oci-config/apparmor';
import { buildContainerSpec, buildPauseSpec } from '../../../src/runtime/oci-config/build';
import { appArmorEnabled, parseLoadedProfiles } from '../../../src/sys/apparmor';
import { DEFAULT_APPARMOR_PROFILE, defaultAppArmorPolicy, prepareAppArmor } from '../../../src/runtime/apparmor-default';
import type { SecurityProfile__Output } from '../../../src/generated/runtime/v1/SecurityProfile';
import { containerInput, pauseInput, runtimeOptions } from './fixtures';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cradle-test-apparmor-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

const SC = 'config.linux.securityContext';
const profile = (profileType: SecurityProfile__Output['profileType'], localhostRef = ''): SecurityProfile__Output => ({ profileType, localhostRef });
const host = (loaded: string[] = [], defaultProfile = 'cradle-default'): AppArmorHost => ({ enabled: true, defaultProfile, isLoaded: (n) => loaded.includes(n) });
const invalid = (re: RegExp) => (err: unknown) => isCradleError(err) && err.kind === 'invalid-argument' && re.test(err.message);

test('chooseAppArmor: the SecurityProfile field first, then the deprecated string, none meaning RuntimeDefault', () => {
  assert.deepEqual(chooseAppArmor(profile('RuntimeDefault'), 'unconfined', SC), { kind: 'RuntimeDefault' });
  assert.deepEqual(chooseAppArmor(profile('Unconfined'), '', SC), { kind: 'Unconfined' });
  assert.deepEqual(chooseAppArmor(profile('Localhost', 'k8s-deny-write'), '', SC), { kind: 'Localhost', name: 'k8s-deny-write', field: `${SC}.apparmor.localhostRef` });
  // containerd and cri-o trim the prefix of the old annotation form.
  assert.deepEqual(chooseAppArmor(profile('Localhost', 'localhost/k8s-deny-write'), '', SC), { kind: 'Localhost', name: 'k8s-deny-write', field: `${SC}.apparmor.localhostRef` });
  assert.deepEqual(chooseAppArmor(null, '', SC), { kind: 'RuntimeDefault' });
  assert.deepEqual(chooseAppArmor(null, 'runtime/default', SC), { kind: 'RuntimeDefault' });
  assert.deepEqual(chooseAppArmor(null, 'unconfined', SC), { kind: 'Unconfined' });
  assert.deepEqual(chooseAppArmor(null, 'localhost/my-profile', SC), { kind: 'Localhost', name: 'my-profile', field: `${SC}.apparmorProfile` });
  assert.throws(() => chooseAppArmor(profile('Localhost'), '', SC), invalid(/apparmor\.localhostRef: required/));
  assert.throws(() => chooseAppArmor(null, 'localhost/', SC), invalid(/apparmorProfile: localhost\/ names no profile/));
  assert.throws(() => chooseAppArmor(null, 'docker-default', SC), invalid(/apparmorProfile: unknown AppArmor profile "docker-default"/));
});

test('resolveAppArmor with AppArmor enabled: the default profile, a loaded Localhost one, none for Unconfined', () => {
  const h = host(['my-profile']);
  assert.equal(resolveAppArmor({ kind: 'RuntimeDefault' }, false, h), 'cradle-default');
  assert.equal(resolveAppArmor({ kind: 'RuntimeDefault' }, false, host([], 'site-default')), 'site-default', '[runtime] apparmor_profile');
  assert.equal(resolveAppArmor({ kind: 'RuntimeDefault' }, false, host([], 'unconfined')), undefined, 'apparmor_profile = "unconfined"');
  assert.equal(resolveAppArmor({ kind: 'Unconfined' }, false, h), undefined);
  assert.equal(resolveAppArmor({ kind: 'Localhost', name: 'my-profile', field: 'f' }, false, h), 'my-profile');
  assert.throws(() => resolveAppArmor({ kind: 'Localhost', name: 'not-loaded', field: 'f.localhostRef' }, false, h),
    invalid(/^f\.localhostRef: AppArmor profile "not-loaded" is not loaded on this node/));
  // Privileged: no default profile, but one it names.
  assert.equal(resolveAppArmor({ kind: 'RuntimeDefault' }, true, h), undefined);
  assert.equal(resolveAppArmor({ kind: 'Localhost', name: 'my-profile', field: 'f' }, true, h), 'my-profile');
});

test('resolveAppArmor without AppArmor: RuntimeDefault and Unconfined are no-ops, Localhost is refused', () => {
  for (const h of [undefined, { enabled: false, defaultProfile: 'unconfined', isLoaded: () => true }]) {
    assert.equal(resolveAppArmor({ kind: 'RuntimeDefault' }, false, h), undefined);
    assert.equal(resolveAppArmor({ kind: 'Unconfined' }, false, h), undefined);
    assert.throws(() => resolveAppArmor({ kind: 'Localhost', name: 'my-profile', field: 'f' }, false, h),
      invalid(/AppArmor profile "my-profile" was asked for, but AppArmor is not enabled on this node/));
  }
});

test('buildContainerSpec: process.apparmorProfile from the container security context', () => {
  const spec = (sc: object, apparmor: AppArmorHost | undefined, privileged = false) => buildContainerSpec(containerInput({
    config: { linux: { securityContext: { privileged, ...sc } } },
    ...(privileged ? { sandboxConfig: { linux: { securityContext: { privileged: true } } } } : {}),
    runtime: apparmor ? { apparmor } : {},
  })).spec.process.apparmorProfile;
  const h = host(['deny-write']);
  assert.equal(spec({}, h), 'cradle-default', 'none named: RuntimeDefault');
  assert.equal(spec({ apparmor: { profileType: 'Localhost', localhostRef: 'deny-write' } }, h), 'deny-write');
  assert.equal(spec({ apparmorProfile: 'localhost/deny-write' }, h), 'deny-write');
  assert.equal(spec({ apparmor: { profileType: 'Unconfined' } }, h), undefined);
  assert.equal(spec({}, h, true), undefined, 'privileged');
  assert.equal(spec({}, undefined), undefined, 'a host without AppArmor');
  assert.throws(() => spec({ apparmor: { profileType: 'Localhost', localhostRef: 'gone' } }, h), invalid(/config\.linux\.securityContext\.apparmor\.localhostRef: AppArmor profile "gone" is not loaded/));
  assert.throws(() => spec({ apparmorProfile: 'localhost/deny-write' }, undefined), invalid(/apparmorProfile: AppArmor profile "deny-write" was asked for/));
});

test('buildPauseSpec: the pod security context\'s profile for the pause', () => {
  const h = host(['pod-profile']);
  assert.equal(buildPauseSpec(pauseInput({ runtime: runtimeOptions({ apparmor: h }) })).process.apparmorProfile, 'cradle-default');
  assert.equal(buildPauseSpec(pauseInput({ runtime: runtimeOptions({ apparmor: h }) }, {
    linux: { securityContext: { apparmor: { profileType: 'Localhost', localhostRef: 'pod-profile' } } },
  })).process.apparmorProfile, 'pod-profile');
  assert.equal(buildPauseSpec(pauseInput({ runtime: runtimeOptions({ apparmor: h }) }, {
    linux: { securityContext: { privileged: true } },
  })).process.apparmorProfile, undefined, 'a privileged pod');
  assert.equal(buildPauseSpec(pauseInput()).process.apparmorProfile, undefined, 'a host without AppArmor');
  assert.throws(() => buildPauseSpec(pauseInput({ runtime: runtimeOptions({ apparmor: h }) }, {
    linux: { securityContext: { apparmor: { profileType: 'Localhost', localhostRef: 'gone' } } },
  })), invalid(/config\.linux\.securityContext\.apparmor\.localhostRef: AppArmor profile "gone" is not loaded/));
});

test('the kernel\'s view: enabled needs the module parameter and securityfs; profile names with their modes stripped', () => {
  const param = path.join(dir, 'enabled');
  const fsDir = path.join(dir, 'securityfs');
  fs.writeFileSync(param, 'Y\n');
  assert.equal(appArmorEnabled(param, fsDir), false, 'no securityfs directory');
  fs.mkdirSync(fsDir);
  assert.equal(appArmorEnabled(param, fsDir), true);
  fs.writeFileSync(param, 'N\n');
  assert.equal(appArmorEnabled(param, fsDir), false);
  assert.equal(appArmorEnabled(path.join(dir, 'missing'), fsDir), false);
  assert.deepEqual([...parseLoadedProfiles('cradle-default (enforce)\n/usr/bin/man (enforce)\nname with spaces (complain)\nbroken line\n')],
    ['cradle-default', '/usr/bin/man', 'name with spaces']);
});

test('cradle-default: the profile text, with the distribution\'s includes only where they exist', () => {
  const withIncludes = path.join(dir, 'apparmor.d');
  fs.mkdirSync(path.join(withIncludes, 'tunables'), { recursive: true });
  fs.mkdirSync(path.join(withIncludes, 'abstractions'));
  fs.writeFileSync(path.join(withIncludes, 'tunables', 'global'), '');
  fs.writeFileSync(path.join(withIncludes, 'abstractions', 'base'), '');
  const full = defaultAppArmorPolicy(DEFAULT_APPARMOR_PROFILE, withIncludes);
  assert.match(full, /^#include <tunables\/global>\n/);
  assert.match(full, /^profile cradle-default flags=\(attach_disconnected,mediate_deleted\) \{$/m);
  assert.match(full, /^ {2}#include <abstractions\/base>$/m);
  for (const rule of ['deny mount,', 'deny @{PROC}/sysrq-trigger rwklx,', 'deny /sys/kernel/security/** rwklx,', 'signal (send,receive) peer=cradle-default,']) {
    assert.ok(full.includes(`  ${rule}\n`), rule);
  }
  const bare = defaultAppArmorPolicy('other', path.join(dir, 'none'));
  assert.match(bare, /^@\{PROC\}=\/proc\/\n/, '@{PROC} defined when tunables are missing');
  assert.doesNotMatch(bare, /#include/);
  assert.match(bare, /^profile other /m);
});

test('prepareAppArmor: nothing to do without AppArmor; another default profile must already be loaded', () => {
  const off = prepareAppArmor('cradle-default', false);
  assert.equal(off.enabled, false);
  const unconfined = prepareAppArmor('unconfined', true);
  assert.deepEqual([unconfined.enabled, unconfined.defaultProfile], [true, 'unconfined']);
  assert.throws(() => prepareAppArmor('cradle-test-never-loaded', true), /runtime\.apparmor_profile: AppArmor profile "cradle-test-never-loaded" is not loaded/);
});
