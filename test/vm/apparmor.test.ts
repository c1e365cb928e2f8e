// AppArmor in the VM lane (scripts/vm-test.sh x86_64 smoke): the guest's Debian kernel
// has AppArmor enabled and the apparmor package installed, which this development
// host lacks. cradled is the shipped cradle.service, started by systemd; the test
// checks, as a workload sees it (/proc/<pid>/attr/current), that RuntimeDefault is
// cradle-default (loaded by cradled at start), that a Localhost profile the test loads
// is enforced, that Unconfined is unconfined, that ExecSync processes run under the
// container's profile, and that an unloaded profile is INVALID_ARGUMENT. Both cgroup
// drivers: the native launcher runs the init and exec under both, in a systemd scope
// under systemd.
// Skipped outside the guest.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { status as grpcStatus } from '@grpc/grpc-js';
import { CriClient } from '../helpers/cri-client';
import { startFixtureRegistry, type FixtureRegistry } from '../helpers/registry';
import { busyboxImage, pauseImage, pushImage, type PushedImage } from '../helpers/image-builder';
import { ServiceDropIns, systemctl } from './guest-service';
import { APPARMOR_SECURITYFS, appArmorEnabled, loadAppArmorProfile, loadedAppArmorProfiles } from '../../src/sys/apparmor';
import type { PodSandboxConfig } from '../../src/generated/runtime/v1/PodSandboxConfig';
import type { LinuxContainerSecurityContext } from '../../src/generated/runtime/v1/LinuxContainerSecurityContext';

const IN_GUEST = process.env.CRADLE_VM_GUEST === '1';
const SOCKET = 'unix:///run/cradle/cradle.sock';
// Last in lexical order, so the settings of another test's drop-in do not win over these.
const DROP_INS = new ServiceDropIns('90-vm-apparmor');
const SLOW_CALL = { timeoutMs: 300_000 };
const DENY_WRITE = 'cradle-test-deny-write';
const NOT_LOADED = 'cradle-test-not-loaded';

// A Localhost profile as an administrator would load it: everything allowed but
// writes to /tmp/forbidden*.
const DENY_WRITE_POLICY = `profile ${DENY_WRITE} flags=(attach_disconnected,mediate_deleted) {
  file,
  capability,
  network,
  signal,
  ptrace,
  umount,
  deny /tmp/forbidden* w,
}
`;

/** Unloads a profile if the kernel has it (a killed run may have left one). */
function unloadProfile(name: string): void {
  if (!loadedAppArmorProfiles().has(name)) return;
  fs.writeFileSync(path.join(APPARMOR_SECURITYFS, '.remove'), name);
}

/**
 * Starts cradle.service with this cgroup driver, restarting it only when the drop-ins
 * change (each restart costs the emulated guest most of a minute).
 */
function startCradleService(registry: FixtureRegistry, pause: PushedImage, cgroupManager: 'cgroupfs' | 'systemd'): void {
  if (!DROP_INS.write(registry, pause, cgroupManager) && systemctl('show', '-P', 'ActiveState', 'cradle.service') === 'active') return;
  systemctl('restart', 'cradle.service');
}

describe('VM: AppArmor through cradled', { skip: IN_GUEST ? false : 'runs inside the VM lane (scripts/vm-test.sh)' }, () => {
  let registry: FixtureRegistry;
  let pause: PushedImage;
  let busybox: PushedImage;

  before(async () => {
    registry = await startFixtureRegistry();
    pause = await pushImage(registry, 'vm/pause:3.10', pauseImage());
    busybox = await pushImage(registry, 'vm/busybox:1', busyboxImage());
  });
  after(async () => {
    try { systemctl('stop', 'cradle.service'); } catch { /* not started */ }
    DROP_INS.remove();
    try { unloadProfile(DENY_WRITE); } catch { /* AppArmor absent: the first test said so */ }
    await registry?.stop();
  });

  it('the guest has AppArmor enabled; cradled loads cradle-default at start when the kernel lacks it', () => {
    assert.equal(appArmorEnabled(), true, 'AppArmor enabled in the guest kernel (module parameter and securityfs)');
    try { systemctl('stop', 'cradle.service'); } catch { /* not running */ }
    unloadProfile('cradle-default');
    unloadProfile(NOT_LOADED);
    assert.equal(loadedAppArmorProfiles().has('cradle-default'), false);
    startCradleService(registry, pause, 'cgroupfs');
    assert.equal(systemctl('is-active', 'cradle.service'), 'active');
    const modes = fs.readFileSync(path.join(APPARMOR_SECURITYFS, 'profiles'), 'utf8').split('\n');
    assert.ok(modes.includes('cradle-default (enforce)'), 'cradle-default loaded in enforce mode');
    // The Localhost profile the containers below ask for, loaded as an administrator would.
    loadAppArmorProfile(DENY_WRITE_POLICY);
    assert.ok(loadedAppArmorProfiles().has(DENY_WRITE));
  });

  // The systemd round repeats what the runtime applies (in a scope systemd made); what
  // cradled decides alone (Unconfined, an unloaded name) runs once.
  for (const [driver, title] of [
    ['cgroupfs', 'RuntimeDefault, Localhost, Unconfined and an unloaded profile, ExecSync confined alike (cgroupfs driver)'],
    ['systemd', 'RuntimeDefault and Localhost, ExecSync confined alike (systemd driver)'],
  ] as const) {
    it(title, async (t) => {
      startCradleService(registry, pause, driver);
      const cri = new CriClient(SOCKET, {}, { timeoutMs: 300_000 });
      t.after(() => cri.close());
      await cri.image.PullImage({ image: { image: busybox.reference } }, SLOW_CALL);
      const cgroupParent = driver === 'systemd' ? 'kubepods-besteffort-podapparmor.slice' : '/cradle-vm-apparmor';
      const podConfig: PodSandboxConfig = {
        metadata: { name: `apparmor-${driver}`, namespace: 'vm', uid: `uid-apparmor-${driver}`, attempt: 0 },
        hostname: 'apparmor', logDirectory: fs.mkdtempSync('/tmp/cradle-vm-apparmor-logs-'), linux: { cgroupParent },
      };
      t.after(() => fs.rmSync(podConfig.logDirectory!, { recursive: true, force: true }));
      const { podSandboxId } = await cri.runtime.RunPodSandbox({ config: podConfig }, SLOW_CALL);
      t.after(() => cri.runtime.RemovePodSandbox({ podSandboxId }).catch(() => undefined));

      // The pause names no profile: RuntimeDefault.
      const info = JSON.parse((await cri.runtime.PodSandboxStatus({ podSandboxId, verbose: true })).info.info!) as { pause: { pid: number } };
      assert.equal(fs.readFileSync(`/proc/${info.pause.pid}/attr/current`, 'utf8').trim(), 'cradle-default (enforce)', 'the pause');

      /** Starts a container (its own PID namespace: PID 1 is its init) and runs cmd in it with ExecSync. */
      const run = async (name: string, securityContext: LinuxContainerSecurityContext, cmd: string): Promise<{ stdout: string; stderr: string }> => {
        const { containerId } = await cri.runtime.CreateContainer({
          podSandboxId, sandboxConfig: podConfig,
          config: {
            metadata: { name, attempt: 0 }, image: { image: busybox.reference }, command: ['sleep', '1000'], logPath: `${name}.log`,
            linux: { securityContext: { namespaceOptions: { pid: 'CONTAINER' }, ...securityContext } },
          },
        }, SLOW_CALL);
        await cri.runtime.StartContainer({ containerId });
        const r = await cri.runtime.ExecSync({ containerId, cmd: ['sh', '-c', cmd], timeout: '60' });
        return { stdout: Buffer.from(r.stdout ?? []).toString(), stderr: Buffer.from(r.stderr ?? []).toString() };
      };
      const labels = 'cat /proc/1/attr/current /proc/self/attr/current';

      // No profile named: cradle-default, for the init and the exec; at work, it denies
      // mount even with CAP_SYS_ADMIN (no seccomp filter here: none named).
      const unnamed = await run('unnamed', { capabilities: { addCapabilities: ['SYS_ADMIN'] } },
        `${labels}; mkdir -p /tmp/m && mount -t tmpfs none /tmp/m; echo "mount $?"`);
      const [init, exec, mount] = unnamed.stdout.trim().split('\n');
      assert.deepEqual([init, exec], ['cradle-default (enforce)', 'cradle-default (enforce)'], unnamed.stderr);
      assert.match(mount ?? '', /^mount [1-9]\d*$/, unnamed.stderr);

      // A Localhost profile: the write it denies fails, another succeeds, in the exec'd process too.
      const localhost = await run('localhost', { apparmor: { profileType: 'Localhost', localhostRef: DENY_WRITE } },
        `${labels}; echo x > /tmp/allowed && echo allowed-ok; echo x > /tmp/forbidden && echo forbidden-ok; true`);
      assert.deepEqual(localhost.stdout.trim().split('\n'), [`${DENY_WRITE} (enforce)`, `${DENY_WRITE} (enforce)`, 'allowed-ok'], localhost.stderr);
      assert.match(localhost.stderr, /\/tmp\/forbidden: Permission denied/);

      if (driver === 'systemd') {
        await cri.runtime.StopPodSandbox({ podSandboxId });
        await cri.runtime.RemovePodSandbox({ podSandboxId });
        return;
      }
      // Unconfined, through the deprecated string here.
      const unconfined = await run('unconfined', { apparmorProfile: 'unconfined' }, labels);
      assert.deepEqual(unconfined.stdout.trim().split('\n'), ['unconfined', 'unconfined'], unconfined.stderr);

      // A profile the kernel does not have: INVALID_ARGUMENT naming it, nothing created.
      const before = (await cri.runtime.ListContainers({ filter: { podSandboxId } })).containers.length;
      await assert.rejects(
        cri.runtime.CreateContainer({
          podSandboxId, sandboxConfig: podConfig,
          config: {
            metadata: { name: 'missing', attempt: 0 }, image: { image: busybox.reference }, command: ['sleep', '1000'], logPath: 'missing.log',
            linux: { securityContext: { apparmor: { profileType: 'Localhost', localhostRef: NOT_LOADED } } },
          },
        }, SLOW_CALL),
        (err: { code: number; details: string }) => err.code === grpcStatus.INVALID_ARGUMENT && err.details.includes(`AppArmor profile "${NOT_LOADED}" is not loaded`),
      );
      assert.equal((await cri.runtime.ListContainers({ filter: { podSandboxId } })).containers.length, before);

      await cri.runtime.StopPodSandbox({ podSandboxId });
      await cri.runtime.RemovePodSandbox({ podSandboxId });
    });
  }
});
