// User namespaces (hostUsers: false) on the VM lane's Debian guest, its own kernel and
// cradled under systemd, with both cgroup drivers. On a kernel whose overlayfs takes
// idmapped layers (5.19 and later), the pod must run in its own user namespace: its root a
// mapped host uid, root inside, an idmapped volume written with the ids it sees. On an
// older kernel it is refused with the reason before anything is made: never run in the host's.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { status as grpcStatus } from '@grpc/grpc-js';
import { CriClient, grpcError } from '../helpers/cri-client';
import { startFixtureRegistry, type FixtureRegistry } from '../helpers/registry';
import { busyboxImage, pauseImage, pushImage, type PushedImage } from '../helpers/image-builder';
import { ServiceDropIns, systemctl } from './guest-service';
import { probeUsernsSupport } from '../../src/sys/userns-support';
import type { PodSandboxConfig } from '../../src/generated/runtime/v1/PodSandboxConfig';

const IN_GUEST = process.env.CRADLE_VM_GUEST === '1';
const SOCKET = 'unix:///run/cradle/cradle.sock';
const DROP_INS = new ServiceDropIns('50-vm-userns');
const SLOW_CALL = { timeoutMs: 300_000 };
const BASE = 1_500_000_000;
// On the guest's disk (its /tmp may be a tmpfs, idmapped only from Linux 6.3).
const VOLUME = '/var/lib/cradle-vm-userns-vol';

/** Whether the kernel's overlayfs takes idmapped lower layers (Linux 5.19). */
function kernelTakesIdmappedLayers(release = os.release()): boolean {
  const [major, minor] = release.split('.').map(Number) as [number, number];
  return major > 5 || (major === 5 && minor >= 19);
}

describe('VM: user namespaces on the guest\'s kernel', { skip: IN_GUEST ? false : 'runs inside the VM lane (scripts/vm-test.sh)' }, () => {
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
    await registry?.stop();
    fs.rmSync(VOLUME, { recursive: true, force: true });
  });

  for (const [driver, setting] of [['cgroupfs', 'cgroupfs'], ['systemd', 'auto']] as const) {
    it(`a hostUsers: false pod runs in its own user namespace where the kernel allows (${driver} driver)`, async (t) => {
      DROP_INS.restartWith(registry, pause, setting);
      const cri = new CriClient(SOCKET, {}, { timeoutMs: 300_000 });
      let podSandboxId = '';
      // The pod goes before the client closes.
      t.after(async () => {
        if (podSandboxId) await cri.runtime.RemovePodSandbox({ podSandboxId }).catch(() => undefined);
        cri.close();
      });
      const probe = probeUsernsSupport(path.resolve('bin/cradle-runtime'), '/var/lib/cradle');
      const expected = kernelTakesIdmappedLayers();
      if (expected) assert.deepEqual(probe, { supported: true }, `kernel ${os.release()}`);
      const status = await cri.runtime.Status({});
      const reported = status.runtimeHandlers.find((h) => h.name === '')?.features?.userNamespaces;
      assert.equal(reported, expected, `kernel ${os.release()}: probe ${JSON.stringify(probe)}, ${driver} driver`);

      const maps = [{ containerId: 0, hostId: BASE, length: 65536 }];
      const config: PodSandboxConfig = {
        metadata: { name: `userns-${driver}`, namespace: 'vm', uid: `uid-userns-${driver}`, attempt: 0 },
        hostname: 'userns', logDirectory: '',
        linux: { cgroupParent: driver === 'systemd' ? 'kubepods-besteffort-poduserns.slice' : '/cradle-vm-userns', securityContext: { namespaceOptions: { usernsOptions: { mode: 'POD', uids: maps, gids: maps } } } },
      };
      if (!expected) {
        await assert.rejects(cri.runtime.RunPodSandbox({ config }, SLOW_CALL), (err) => {
          assert.equal(grpcError(err).code, grpcStatus.INVALID_ARGUMENT, grpcError(err).details);
          assert.match(grpcError(err).details, /cannot run pods with their own user namespace on this node/);
          if (!probe.supported) assert.ok(grpcError(err).details.includes(probe.reason!), grpcError(err).details);
          return true;
        });
        const made = (await cri.runtime.ListPodSandbox({})).items.filter((p) => p.metadata?.name === config.metadata!.name);
        assert.equal(made.length, 0, 'no pod was made');
        return;
      }
      fs.mkdirSync(VOLUME, { recursive: true });
      await cri.image.PullImage({ image: { image: busybox.reference } }, SLOW_CALL);
      podSandboxId = (await cri.runtime.RunPodSandbox({ config }, SLOW_CALL)).podSandboxId;
      const { containerId } = await cri.runtime.CreateContainer({
        podSandboxId, sandboxConfig: config,
        config: {
          metadata: { name: 'c', attempt: 0 }, image: { image: busybox.reference }, command: ['sleep', '1000'],
          mounts: [{ containerPath: '/vol', hostPath: VOLUME, readonly: false, propagation: 'PROPAGATION_PRIVATE' }],
        },
      }, SLOW_CALL);
      await cri.runtime.StartContainer({ containerId }, SLOW_CALL);
      const pid = (JSON.parse((await cri.runtime.ContainerStatus({ containerId, verbose: true })).info.info!) as { pid: number }).pid;
      assert.match(fs.readFileSync(`/proc/${pid}/status`, 'utf8'), new RegExp(`^Uid:\\s+${BASE}\\s`, 'm'));
      const r = await cri.runtime.ExecSync({ containerId, cmd: ['id', '-u'], timeout: 60 }, SLOW_CALL);
      assert.equal(r.stdout.toString().trim(), '0');
      // The image's files are the pod root's (idmapped layers), and it writes its root filesystem.
      const ls = await cri.runtime.ExecSync({ containerId, cmd: ['sh', '-c', 'ls -ln /bin/busybox && touch /made-here && echo > /vol/by-root && echo ok'], timeout: 60 }, SLOW_CALL);
      assert.match(ls.stdout.toString(), /^\S+\s+\d+\s+0\s+0\s[\s\S]*\nok\n$/, ls.stderr.toString());
      const written = fs.statSync(path.join(VOLUME, 'by-root'));
      assert.deepEqual([written.uid, written.gid], [0, 0], 'the pod\'s root writes uid 0 on the idmapped volume');
    });
  }
});
