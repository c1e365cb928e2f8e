// runc as an alternate runtime handler (RuntimeClass): the same pod and container
// RPCs, with Debian's runc under conmon instead of cradle-runtime.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { PodFixture } from '../../helpers/pod-fixture';

const f = new PodFixture('cradle-trh0', '10.220.0.0/24');

describe('runc runtime handler', () => {
  before(() => f.start([], '[runtime.runtimes.runc]\nruntime_path = "/usr/sbin/runc"\nruntime_root = "/run/cradle-test-runc"\n'));
  after(async () => {
    await f.stop();
    fs.rmSync('/run/cradle-test-runc', { recursive: true, force: true });
  });

  it('runs a pod and a container with runc, exec works, state is runc\'s', async () => {
    const config = f.podConfig('runc');
    const { podSandboxId } = await f.cri.runtime.RunPodSandbox({ config, runtimeHandler: 'runc' });
    const status = await f.cri.runtime.PodSandboxStatus({ podSandboxId });
    assert.equal(status.status!.state, 'SANDBOX_READY');
    assert.equal(status.status!.runtimeHandler, 'runc');
    const id = await f.runContainer({ id: podSandboxId, config }, f.containerConfig('r', ['sleep', '1000']));
    await f.waitForState(id, 'CONTAINER_RUNNING');
    assert.ok(fs.existsSync(`/run/cradle-test-runc/${id}/state.json`), 'runc holds the container state');
    const r = await f.cri.runtime.ExecSync({ containerId: id, cmd: ['hostname'], timeout: 5 });
    assert.equal(r.stdout.toString(), `${config.hostname}\n`);
    await f.cri.runtime.RemovePodSandbox({ podSandboxId });
    assert.ok(!fs.existsSync(`/run/cradle-test-runc/${id}`));
  });

  it('ExecSync timeout under conmon: the process and what it started are gone when the call answers', async () => {
    const config = f.podConfig('runc-timeout');
    const { podSandboxId } = await f.cri.runtime.RunPodSandbox({ config, runtimeHandler: 'runc' });
    const id = await f.runContainer({ id: podSandboxId, config }, f.containerConfig('t', ['top']));
    await f.waitForState(id, 'CONTAINER_RUNNING');
    for (const cmd of [['sleep', '4321'], ['sh', '-c', 'sleep 4322 & sleep 4323; echo not reached']]) {
      const r = await f.cri.runtime.ExecSync({ containerId: id, cmd, timeout: 1 });
      assert.equal(r.exitCode, -1);
      // The pause's own child aside (the pod shares its PID namespace), no sleep is left, running or zombie.
      const ps = await f.cri.runtime.ExecSync({ containerId: id, cmd: ['ps', '-o', 'stat,comm,args'], timeout: 30 });
      const left = ps.stdout.toString().split('\n').filter((l) => / sleep /.test(` ${l} `) && !l.includes('sleep 2147483647'));
      assert.deepEqual(left, [], `after ${cmd.join(' ')}`);
    }
    await f.cri.runtime.RemovePodSandbox({ podSandboxId });
  });
});
