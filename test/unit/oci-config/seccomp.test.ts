import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { errors } from '../../../src/common/errors';
import { DEFAULT_SECCOMP_PROFILE, CLONE_NAMESPACE_FLAGS } from '../../../src/runtime/oci-config/seccomp-default';
import { allowsSyscall, resolveSeccompProfile, validateSeccompProfile } from '../../../src/runtime/oci-config/seccomp-profile';
import { buildSeccomp, chooseSeccomp, localhostProfilePath } from '../../../src/runtime/oci-config/seccomp';
import { CRIO_DEFAULT_CAPABILITIES } from '../../../src/runtime/oci-config/capabilities';
import { buildContainerSpec, buildPauseSpec } from '../../../src/runtime/oci-config/build';
import { containerInput, pauseInput, runtimeOptions } from './fixtures';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cradle-test-spec-seccomp-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

const resolveDefault = (capabilities: readonly string[], arch: NodeJS.Architecture = 'x64') =>
  resolveSeccompProfile(DEFAULT_SECCOMP_PROFILE, { capabilities, arch, kernel: '6.1.0-13-amd64' });

test('validateSeccompProfile: flags and listeners', () => {
  assert.equal(validateSeccompProfile({ defaultAction: 'SCMP_ACT_ALLOW', flags: ['SECCOMP_FILTER_FLAG_LOG'] }), null);
  assert.match(validateSeccompProfile({ defaultAction: 'SCMP_ACT_ALLOW', flags: [1] })!, /flags/);
  assert.match(validateSeccompProfile({ defaultAction: 'SCMP_ACT_ALLOW', listenerPath: '/run/agent.sock' })!, /listenerPath/);
  assert.match(validateSeccompProfile([])!, /not a JSON object/);
  assert.match(validateSeccompProfile({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ name: 'a', names: ['b'], action: 'SCMP_ACT_ALLOW' }] })!, /both name and names/);
  assert.match(validateSeccompProfile({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ action: 'SCMP_ACT_ALLOW' }] })!, /names no syscall/);
  assert.match(validateSeccompProfile({ defaultAction: 'SCMP_ACT_ALLOW', architectures: ['SCMP_ARCH_X86_64'], archMap: [{ architecture: 'SCMP_ARCH_X86_64', subArchitectures: [] }] })!, /both set/);
});

test('RuntimeDefault: deny with EPERM, x86_64 + x86 + x32', () => {
  const p = resolveDefault(CRIO_DEFAULT_CAPABILITIES);
  assert.equal(p.defaultAction, 'SCMP_ACT_ERRNO');
  assert.equal(p.defaultErrnoRet, 1);
  assert.deepEqual(p.architectures, ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32']);
  assert.deepEqual(resolveDefault([], 'arm64').architectures, ['SCMP_ARCH_AARCH64', 'SCMP_ARCH_ARM']);
  assert.equal(validateSeccompProfile(DEFAULT_SECCOMP_PROFILE), null);
});

test('RuntimeDefault: ordinary syscalls allowed, dangerous ones not without capabilities', () => {
  const p = resolveDefault(CRIO_DEFAULT_CAPABILITIES);
  for (const ok of ['read', 'write', 'openat', 'execve', 'futex', 'epoll_wait', 'setuid', 'io_uring_setup', 'arch_prctl', 'modify_ldt', 'ptrace']) {
    assert.ok(allowsSyscall(p, ok), `${ok} should be allowed`);
  }
  for (const denied of ['reboot', 'mount', 'umount2', 'unshare', 'setns', 'sethostname', 'init_module', 'kexec_load', 'bpf',
    'perf_event_open', 'chroot', 'acct', 'settimeofday', 'open_by_handle_at', 'keyctl', 'add_key', 'swapon', 'userfaultfd',
    'iopl', 'syslog', 'pivot_root', 'kcmp', 'process_madvise', 'clone3', 'set_mempolicy', 'cacheflush', 's390_runtime_instr']) {
    assert.ok(!allowsSyscall(p, denied), `${denied} should not be allowed`);
  }
});

test('RuntimeDefault: clone allowed only without namespace flags; clone3 gets ENOSYS', () => {
  const p = resolveDefault(CRIO_DEFAULT_CAPABILITIES);
  const clone = p.syscalls!.filter((s) => s.names.includes('clone'));
  assert.deepEqual(clone, [{ names: ['clone'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: CLONE_NAMESPACE_FLAGS, op: 'SCMP_CMP_MASKED_EQ' }] }]);
  assert.deepEqual(p.syscalls!.filter((s) => s.names.includes('clone3')), [{ names: ['clone3'], action: 'SCMP_ACT_ERRNO', errnoRet: 38 }]);
  assert.deepEqual(p.syscalls!.filter((s) => s.names.includes('socket')), [{ names: ['socket'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 40, op: 'SCMP_CMP_NE' }] }]);
  assert.equal(p.syscalls!.filter((s) => s.names.includes('personality')).length, 5);
});

test('RuntimeDefault: capabilities open their syscalls', () => {
  const admin = resolveDefault([...CRIO_DEFAULT_CAPABILITIES, 'CAP_SYS_ADMIN']);
  for (const s of ['mount', 'umount2', 'unshare', 'setns', 'sethostname', 'clone', 'clone3', 'bpf']) assert.ok(allowsSyscall(admin, s), s);
  assert.ok(!admin.syscalls!.some((s) => s.names.includes('clone3') && s.action === 'SCMP_ACT_ERRNO'));
  assert.ok(!allowsSyscall(admin, 'reboot'));
  assert.ok(allowsSyscall(resolveDefault(['CAP_SYS_BOOT']), 'reboot'));
  assert.ok(allowsSyscall(resolveDefault(['CAP_SYS_CHROOT']), 'chroot'));
  assert.ok(allowsSyscall(resolveDefault(['CAP_SYS_TIME']), 'settimeofday'));
  assert.ok(allowsSyscall(resolveDefault(['CAP_SYS_MODULE']), 'finit_module'));
  assert.ok(allowsSyscall(resolveDefault(['CAP_DAC_READ_SEARCH']), 'open_by_handle_at'));
});

test('RuntimeDefault: arch-only rules follow the architecture', () => {
  const arm = resolveDefault([], 'arm64');
  assert.ok(allowsSyscall(arm, 'cacheflush'));
  assert.ok(!allowsSyscall(arm, 'arch_prctl'));
  assert.ok(!allowsSyscall(resolveDefault([], 'x64'), 'cacheflush'));
  const old = resolveSeccompProfile(DEFAULT_SECCOMP_PROFILE, { capabilities: [], arch: 'x64', kernel: '4.4.0' });
  assert.ok(!allowsSyscall(old, 'ptrace'), 'ptrace needs kernel 4.8 without CAP_SYS_PTRACE');
});

test('chooseSeccomp: new field wins, deprecated path forms understood', () => {
  const f = 'config.linux.securityContext';
  const choose = (seccomp: Parameters<typeof chooseSeccomp>[0], p: string) => chooseSeccomp(seccomp, p, f, false);
  assert.deepEqual(choose({ profileType: 'Unconfined', localhostRef: '' }, 'runtime/default'), { kind: 'Unconfined' });
  assert.deepEqual(choose(null, 'runtime/default'), { kind: 'RuntimeDefault' });
  assert.deepEqual(choose(null, 'docker/default'), { kind: 'RuntimeDefault' });
  assert.deepEqual(choose(null, 'unconfined'), { kind: 'Unconfined' });
  assert.deepEqual(choose(null, 'localhost/profiles/a.json'), { kind: 'Localhost', ref: 'profiles/a.json', field: `${f}.seccompProfilePath` });
  assert.deepEqual(choose({ profileType: 'Localhost', localhostRef: '/x.json' }, ''), { kind: 'Localhost', ref: '/x.json', field: `${f}.seccomp.localhostRef` });
  assert.throws(() => choose({ profileType: 'Localhost', localhostRef: '' }, ''), /seccomp\.localhostRef: required/);
  assert.throws(() => choose(null, 'bogus'), /seccompProfilePath: unknown seccomp profile "bogus"/);
});

test('chooseSeccomp: no profile named is Unconfined (the CRI\'s meaning), RuntimeDefault only when the node opts in', () => {
  const f = 'config.linux.securityContext';
  assert.deepEqual(chooseSeccomp(null, '', f, false), { kind: 'Unconfined' });
  assert.deepEqual(chooseSeccomp(null, '', f, true), { kind: 'RuntimeDefault' });
  // The option changes only "nothing named": an explicit choice stays what it says.
  assert.deepEqual(chooseSeccomp(null, 'unconfined', f, true), { kind: 'Unconfined' });
  assert.deepEqual(chooseSeccomp({ profileType: 'Unconfined', localhostRef: '' }, '', f, true), { kind: 'Unconfined' });
  // A present `seccomp` message with zero values is RuntimeDefault (enum value 0), option or not.
  assert.deepEqual(chooseSeccomp({ profileType: 'RuntimeDefault', localhostRef: '' }, '', f, false), { kind: 'RuntimeDefault' });
});

test('localhostProfilePath: absolute as given, relative under the root only', () => {
  assert.equal(localhostProfilePath('/var/lib/kubelet/seccomp/a.json', '/root', 'f'), '/var/lib/kubelet/seccomp/a.json');
  assert.equal(localhostProfilePath('profiles/a.json', '/var/lib/kubelet/seccomp', 'f'), '/var/lib/kubelet/seccomp/profiles/a.json');
  assert.throws(() => localhostProfilePath('../../etc/shadow', '/var/lib/kubelet/seccomp', 'f'), /outside the seccomp profile root/);
});

test('Localhost: a valid file (extended or OCI format) is loaded and resolved', () => {
  const file = path.join(dir, 'deny-mkdir.json');
  fs.writeFileSync(file, JSON.stringify({
    defaultAction: 'SCMP_ACT_ALLOW',
    architectures: ['SCMP_ARCH_X86_64'],
    syscalls: [
      { names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet: 1 },
      { name: 'reboot', action: 'SCMP_ACT_KILL' },
      { names: ['chroot'], action: 'SCMP_ACT_ERRNO', includes: { caps: ['CAP_SYS_CHROOT'] } },
    ],
  }));
  const { spec } = buildContainerSpec(containerInput({
    runtime: { seccompProfileRoot: dir },
    config: { linux: { securityContext: { seccomp: { profileType: 'Localhost', localhostRef: 'deny-mkdir.json' } } } },
  }));
  assert.deepEqual(spec.linux.seccomp, {
    defaultAction: 'SCMP_ACT_ALLOW',
    architectures: ['SCMP_ARCH_X86_64'],
    syscalls: [
      { names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet: 1 },
      { names: ['reboot'], action: 'SCMP_ACT_KILL' },
    ],
  });
});

test('Localhost: missing or invalid profile is INVALID_ARGUMENT naming the field and file', () => {
  fs.writeFileSync(path.join(dir, 'broken.json'), '{ "defaultAction": ');
  fs.writeFileSync(path.join(dir, 'badaction.json'), JSON.stringify({ defaultAction: 'SCMP_ACT_MAYBE' }));
  fs.writeFileSync(path.join(dir, 'badrule.json'), JSON.stringify({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['x'], action: 'SCMP_ACT_NOTIFY' }] }));
  fs.writeFileSync(path.join(dir, 'badarg.json'), JSON.stringify({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['x'], action: 'SCMP_ACT_ERRNO', args: [{ index: 9, value: 1, op: 'SCMP_CMP_EQ' }] }] }));
  const cases: [string, RegExp][] = [
    ['missing.json', /seccomp\.localhostRef: cannot read seccomp profile .*missing\.json: no such file/],
    ['broken.json', /seccomp\.localhostRef: seccomp profile .*broken\.json is not valid JSON/],
    ['badaction.json', /invalid defaultAction "SCMP_ACT_MAYBE"/],
    ['badrule.json', /syscalls\[0\]\.action "SCMP_ACT_NOTIFY" is not supported/],
    ['badarg.json', /syscalls\[0\]\.args\[0\]\.index must be 0\.\.5/],
  ];
  for (const [file, re] of cases) {
    assert.throws(() => buildContainerSpec(containerInput({
      runtime: { seccompProfileRoot: dir },
      config: { linux: { securityContext: { seccomp: { profileType: 'Localhost', localhostRef: file } } } },
    })), (err: unknown) => {
      assert.ok(errors.invalidField.is(err), String(err));
      assert.match(err.message, /^config\.linux\.securityContext\.seccomp\.localhostRef: /);
      assert.match(err.message, re);
      return true;
    });
  }
  // Deprecated field reports itself.
  assert.throws(() => buildContainerSpec(containerInput({
    runtime: { seccompProfileRoot: dir },
    config: { linux: { securityContext: { seccompProfilePath: 'localhost/missing.json' } } },
  })), /^CradleError: config\.linux\.securityContext\.seccompProfilePath: cannot read/);
});

test('full spec: no profile means no filter; RuntimeDefault filters; added caps widen the profile; the option restores the default', () => {
  assert.equal(buildContainerSpec(containerInput()).spec.linux.seccomp, undefined);
  const runtimeDefault = { seccomp: { profileType: 'RuntimeDefault' as const } };
  const def = buildContainerSpec(containerInput({ config: { linux: { securityContext: runtimeDefault } } })).spec.linux.seccomp!;
  assert.equal(def.defaultAction, 'SCMP_ACT_ERRNO');
  assert.ok(!allowsSyscall(def, 'mount'));
  const admin = buildContainerSpec(containerInput({ config: { linux: { securityContext: { ...runtimeDefault, capabilities: { addCapabilities: ['SYS_ADMIN'] } } } } })).spec.linux.seccomp!;
  assert.ok(allowsSyscall(admin, 'mount'));
  const none = buildContainerSpec(containerInput({ config: { linux: { securityContext: { seccomp: { profileType: 'Unconfined' } } } } })).spec;
  assert.equal(none.linux.seccomp, undefined);
  const optedIn = buildContainerSpec(containerInput({ runtime: { seccompUseDefaultWhenEmpty: true } })).spec.linux.seccomp;
  assert.deepEqual(optedIn, def);
});

test('buildSeccomp: privileged ignores the requested profile', () => {
  assert.equal(buildSeccomp({ kind: 'RuntimeDefault' }, { privileged: true, capabilities: [], profileRoot: dir }), undefined);
});

test('pause spec: the pod\'s profile, resolved without capabilities; none named is unconfined', () => {
  assert.equal(buildPauseSpec(pauseInput()).linux.seccomp, undefined);
  const spec = buildPauseSpec(pauseInput({}, { linux: { securityContext: { seccomp: { profileType: 'RuntimeDefault' } } } }));
  assert.ok(spec.linux.seccomp);
  assert.ok(!allowsSyscall(spec.linux.seccomp!, 'chroot'));
  const optedIn = buildPauseSpec(pauseInput({ runtime: runtimeOptions({ seccompUseDefaultWhenEmpty: true }) }));
  assert.deepEqual(optedIn.linux.seccomp, spec.linux.seccomp);
  const legacy = buildPauseSpec(pauseInput({}, { linux: { securityContext: { seccompProfilePath: 'runtime/default' } } }));
  assert.deepEqual(legacy.linux.seccomp, spec.linux.seccomp);
});
