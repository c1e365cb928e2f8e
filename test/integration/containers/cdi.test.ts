// CDI devices through cradled: a fake device made by the test (a character node from
// mknod, a library directory to mount, an environment variable) described by a CDI
// spec the test writes after cradled started, then asked for by CreateContainer as
// the kubelet does (CDI_devices) and as device plugins do (cdi.k8s.io/ annotations).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { status as grpcStatus } from '@grpc/grpc-js';
import { PodFixture } from '../../helpers/pod-fixture';
import type { ContainerConfig } from '../../../src/generated/runtime/v1/ContainerConfig';

const f = new PodFixture('cradle-tcd0', '10.239.0.0/24');

describe('CDI devices', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cradle-cdi-'));
  const etcCdi = path.join(dir, 'etc-cdi');
  const runCdi = path.join(dir, 'run-cdi');
  const node = path.join(dir, 'fakezero');
  const lib = path.join(dir, 'fake-lib');
  let pod: { id: string; config: Parameters<PodFixture['runContainer']>[0]['config'] };

  before(async () => {
    await f.start([], `[runtime]\ncdi_spec_dirs = ["${etcCdi}", "${runCdi}"]\n`);
    // Written after cradled started: specs are read at each create that asks for a device.
    execFileSync('mknod', ['-m', '0666', node, 'c', '1', '5']); // reads as zeros, like /dev/zero
    fs.mkdirSync(lib);
    fs.writeFileSync(path.join(lib, 'version'), 'fake 1.0\n');
    fs.mkdirSync(runCdi, { recursive: true });
    fs.writeFileSync(path.join(runCdi, 'fake.yaml'), [
      'cdiVersion: "0.6.0"',
      'kind: cradle.test/fake',
      'containerEdits:',
      '  env: ["FAKE_DRIVER=1"]',
      'devices:',
      '  - name: dev0',
      '    containerEdits:',
      '      env: ["FAKE_DEVICE=dev0"]',
      '      deviceNodes:',
      `        - path: /dev/fake0`,
      `          hostPath: ${node}`,
      '      mounts:',
      `        - hostPath: ${lib}`,
      '          containerPath: /usr/lib/fake',
      '          options: [ro, bind]',
      '',
    ].join('\n'));
    pod = await f.runPod('cdi');
  });
  after(async () => {
    await f.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const exec = async (id: string, cmd: string[]) => {
    const r = await f.cri.runtime.ExecSync({ containerId: id, cmd, timeout: 30 });
    return { code: r.exitCode, out: r.stdout.toString(), err: r.stderr.toString() };
  };

  for (const [how, extra] of [
    ['CDI_devices', { CDIDevices: [{ name: 'cradle.test/fake=dev0' }] }],
    ['a cdi.k8s.io/ annotation', { annotations: { 'cdi.k8s.io/fake-plugin': 'cradle.test/fake=dev0' } }],
  ] as [string, Partial<ContainerConfig>][]) {
    it(`a container asking through ${how} gets the node, the mount and the environment`, async () => {
      const id = await f.runContainer(pod, f.containerConfig(`cdi-${how.length}`, ['sleep', '1000'], extra));
      await f.waitForState(id, 'CONTAINER_RUNNING');
      assert.deepEqual(await exec(id, ['sh', '-c', 'head -c 4 /dev/fake0 | od -An -tx1']), { code: 0, out: ' 00 00 00 00\n', err: '' });
      assert.equal((await exec(id, ['cat', '/usr/lib/fake/version'])).out, 'fake 1.0\n');
      assert.notEqual((await exec(id, ['touch', '/usr/lib/fake/new'])).code, 0, 'the mount is read-only');
      assert.equal((await exec(id, ['sh', '-c', 'echo $FAKE_DRIVER $FAKE_DEVICE'])).out, '1 dev0\n');
      await f.cri.runtime.RemoveContainer({ containerId: id });
    });
  }

  it('a container without the device has none of it, and the device cgroup keeps the node closed', async () => {
    const id = await f.runContainer(pod, f.containerConfig('no-cdi', ['sleep', '1000']));
    await f.waitForState(id, 'CONTAINER_RUNNING');
    assert.notEqual((await exec(id, ['ls', '/dev/fake0'])).code, 0);
    assert.equal((await exec(id, ['sh', '-c', 'echo ${FAKE_DEVICE:-none}'])).out, 'none\n');
    await f.cri.runtime.RemoveContainer({ containerId: id });
  });

  it('an unknown device is INVALID_ARGUMENT naming it, and creates nothing', async () => {
    const before = (await f.cri.runtime.ListContainers({})).containers.length;
    const dataDir = f.dirs.layout.containerDataDirs;
    const dirsBefore = fs.existsSync(dataDir) ? fs.readdirSync(dataDir).length : 0;
    await assert.rejects(
      f.cri.runtime.CreateContainer({ podSandboxId: pod.id, config: f.containerConfig('bad-cdi', ['sleep', '1'], { CDIDevices: [{ name: 'cradle.test/fake=nope' }] }), sandboxConfig: pod.config }),
      (err: { code: number; details: string }) => err.code === grpcStatus.INVALID_ARGUMENT && err.details.includes('cradle.test/fake=nope'),
    );
    await assert.rejects(
      f.cri.runtime.CreateContainer({ podSandboxId: pod.id, config: f.containerConfig('bad-cdi', ['sleep', '1'], { CDIDevices: [{ name: 'gpu0' }] }), sandboxConfig: pod.config }),
      (err: { code: number; details: string }) => err.code === grpcStatus.INVALID_ARGUMENT && err.details.includes('"gpu0" is not a qualified CDI device name'),
    );
    assert.equal((await f.cri.runtime.ListContainers({})).containers.length, before);
    assert.equal(fs.existsSync(dataDir) ? fs.readdirSync(dataDir).length : 0, dirsBefore);
    // The name is free again: the kubelet's retry with the device present works.
    const id = await f.runContainer(pod, f.containerConfig('bad-cdi', ['sleep', '1000'], { CDIDevices: [{ name: 'cradle.test/fake=dev0' }] }));
    await f.waitForState(id, 'CONTAINER_RUNNING');
  });
});
