// AppArmor through cradled on a node without AppArmor (as cri-o): RuntimeDefault and
// Unconfined change nothing (no profile in the container's or the pause's spec, the
// workload runs), a Localhost profile is INVALID_ARGUMENT naming it and creates
// nothing. Nodes with AppArmor are the VM lane's (test/vm/apparmor.test.ts).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { status as grpcStatus } from '@grpc/grpc-js';
import { PodFixture } from '../../helpers/pod-fixture';
import { appArmorEnabled } from '../../../src/sys/apparmor';
import type { LinuxContainerSecurityContext } from '../../../src/generated/runtime/v1/LinuxContainerSecurityContext';

const skip = appArmorEnabled() && 'this node has AppArmor (the VM lane\'s test/vm/apparmor.test.ts covers it)';
const f = new PodFixture('cradle-taa0', '10.247.0.0/24');

describe('AppArmor through cradled on a node without it', { skip }, () => {
  before(() => f.start());
  after(() => f.stop());

  const specOf = (bundle: string) => JSON.parse(fs.readFileSync(path.join(bundle, 'config.json'), 'utf8')) as { process: { apparmorProfile?: string } };

  it('RuntimeDefault (named or not) and Unconfined: no profile in the spec, the container runs', async () => {
    const pod = await f.runPod('aa-default', { linux: { cgroupParent: f.cgroupParent, securityContext: { apparmor: { profileType: 'RuntimeDefault' } } } });
    assert.equal(specOf(f.dirs.layout.pauseBundle(pod.id)).process.apparmorProfile, undefined, 'the pause');
    const contexts: [string, LinuxContainerSecurityContext][] = [
      ['unnamed', {}],
      ['field', { apparmor: { profileType: 'RuntimeDefault' } }],
      ['legacy', { apparmorProfile: 'runtime/default' }],
      ['unconfined', { apparmor: { profileType: 'Unconfined' } }],
    ];
    for (const [name, securityContext] of contexts) {
      const id = await f.runContainer(pod, f.containerConfig(name, ['sleep', '1000'], { linux: { securityContext } }));
      await f.waitForState(id, 'CONTAINER_RUNNING');
      assert.equal(specOf(f.dirs.layout.containerDataDir(id)).process.apparmorProfile, undefined, name);
      const r = await f.cri.runtime.ExecSync({ containerId: id, cmd: ['echo', 'ok'], timeout: 10 });
      assert.equal(r.stdout.toString(), 'ok\n', name);
    }
    await f.cri.runtime.RemovePodSandbox({ podSandboxId: pod.id });
  });

  it('a Localhost profile is INVALID_ARGUMENT naming it, for a container and for a pod, and creates nothing', async () => {
    const pod = await f.runPod('aa-localhost');
    const dataDir = f.dirs.layout.containerDataDirs;
    const count = () => (fs.existsSync(dataDir) ? fs.readdirSync(dataDir).length : 0);
    const before = count();
    for (const securityContext of [{ apparmor: { profileType: 'Localhost' as const, localhostRef: 'k8s-deny-write' } }, { apparmorProfile: 'localhost/k8s-deny-write' }]) {
      await assert.rejects(
        f.cri.runtime.CreateContainer({ podSandboxId: pod.id, config: f.containerConfig('localhost', ['sleep', '1000'], { linux: { securityContext } }), sandboxConfig: pod.config }),
        (err: { code: number; details: string }) => err.code === grpcStatus.INVALID_ARGUMENT
          && err.details.includes('AppArmor profile "k8s-deny-write" was asked for, but AppArmor is not enabled on this node'),
      );
    }
    assert.equal(count(), before, 'no bundle left');
    assert.deepEqual((await f.cri.runtime.ListContainers({ filter: { podSandboxId: pod.id } })).containers, []);
    const pods = (await f.cri.runtime.ListPodSandbox({})).items.length;
    await assert.rejects(
      f.runPod('aa-localhost-pod', { linux: { cgroupParent: f.cgroupParent, securityContext: { apparmor: { profileType: 'Localhost', localhostRef: 'k8s-pod' } } } }),
      (err: { code: number; details: string }) => err.code === grpcStatus.INVALID_ARGUMENT && err.details.includes('AppArmor profile "k8s-pod"'),
    );
    assert.equal((await f.cri.runtime.ListPodSandbox({})).items.length, pods, 'no pod left');
    await f.cri.runtime.RemovePodSandbox({ podSandboxId: pod.id });
  });
});
