// Seccomp through cradled, as a workload sees it (the Seccomp line of
// /proc/self/status: 0 unconfined, 2 filtered): a pod or container that names no
// profile runs unconfined (the CRI's meaning, containerd's behaviour), named
// profiles apply, and [runtime] seccomp_use_default_when_empty turns "none named"
// into RuntimeDefault without touching an explicit Unconfined.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { PodFixture } from '../../helpers/pod-fixture';
import type { LinuxContainerSecurityContext } from '../../../src/generated/runtime/v1/LinuxContainerSecurityContext';
import type { LinuxSandboxSecurityContext } from '../../../src/generated/runtime/v1/LinuxSandboxSecurityContext';

const f = new PodFixture('cradle-tsc0', '10.236.0.0/24');

function seccompMode(status: string): string {
  const m = /^Seccomp:\s*(\d+)$/m.exec(status);
  if (!m) throw new Error(`no Seccomp line in ${status}`);
  return m[1]!;
}

describe('seccomp through cradled', () => {
  before(() => f.start());
  after(() => f.stop());

  async function pod(name: string, sc: LinuxSandboxSecurityContext = {}): Promise<{ id: string; config: ReturnType<PodFixture['podConfig']> }> {
    return f.runPod(name, { linux: { cgroupParent: f.cgroupParent, securityContext: sc } });
  }

  /** The Seccomp mode of a container's process, as ExecSync in it reads it. */
  async function containerMode(p: { id: string; config: ReturnType<PodFixture['podConfig']> }, name: string, sc: LinuxContainerSecurityContext): Promise<string> {
    const id = await f.runContainer(p, f.containerConfig(name, ['sleep', '1000'], { linux: { securityContext: sc } }));
    await f.waitForState(id, 'CONTAINER_RUNNING');
    const r = await f.cri.runtime.ExecSync({ containerId: id, cmd: ['cat', '/proc/self/status'], timeout: 10 });
    assert.equal(r.exitCode, 0, r.stderr.toString());
    return seccompMode(r.stdout.toString());
  }

  /** The Seccomp mode of the pod's pause process, read from the host. */
  async function pauseMode(podSandboxId: string): Promise<string> {
    const info = JSON.parse((await f.cri.runtime.PodSandboxStatus({ podSandboxId, verbose: true })).info.info!) as { pause: { pid: number } };
    return seccompMode(fs.readFileSync(`/proc/${info.pause.pid}/status`, 'utf8'));
  }

  it('no profile named: the pod and its container run unconfined; named profiles apply to both', async () => {
    const unnamed = await pod('unnamed');
    assert.equal(await containerMode(unnamed, 'plain', {}), '0', 'a container naming no profile');
    assert.equal(await pauseMode(unnamed.id), '0', 'a pod naming no profile');
    assert.equal(await containerMode(unnamed, 'field', { seccomp: { profileType: 'RuntimeDefault' } }), '2');
    assert.equal(await containerMode(unnamed, 'path', { seccompProfilePath: 'runtime/default' }), '2');
    assert.equal(await containerMode(unnamed, 'docker', { seccompProfilePath: 'docker/default' }), '2');
    const named = await pod('named', { seccomp: { profileType: 'RuntimeDefault' } });
    assert.equal(await pauseMode(named.id), '2', 'the pod\'s own profile is the pause\'s');
    const legacy = await pod('legacy', { seccompProfilePath: 'runtime/default' });
    assert.equal(await pauseMode(legacy.id), '2');
    for (const p of [unnamed, named, legacy]) await f.cri.runtime.RemovePodSandbox({ podSandboxId: p.id });
  });

  it('seccomp_use_default_when_empty: no profile named gets RuntimeDefault, an explicit Unconfined stays unconfined', async () => {
    await f.restart(false, {}, ['--runtime-seccomp-use-default-when-empty']);
    const unnamed = await pod('optedin');
    assert.equal(await pauseMode(unnamed.id), '2');
    assert.equal(await containerMode(unnamed, 'plain', {}), '2');
    assert.equal(await containerMode(unnamed, 'unconfined', { seccomp: { profileType: 'Unconfined' } }), '0');
    assert.equal(await containerMode(unnamed, 'legacy', { seccompProfilePath: 'unconfined' }), '0');
    const unconfinedPod = await pod('unconfinedpod', { seccomp: { profileType: 'Unconfined' } });
    assert.equal(await pauseMode(unconfinedPod.id), '0');
  });
});
