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
});
