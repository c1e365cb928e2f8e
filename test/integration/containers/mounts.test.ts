// Mount kinds current kubelets ask for, through cradled: recursive read-only binds
// (KEP-3857), where a host directory with a submount stays read-only all the way down.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { PodFixture } from '../../helpers/pod-fixture';
import type { Mount } from '../../../src/generated/runtime/v1/Mount';

const f = new PodFixture('cradle-tmv0', '10.229.0.0/24');

describe('recursive read-only mounts', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cradle-rro-'));
  const vol = path.join(dir, 'vol');
  const sub = path.join(vol, 'sub');
  let pod: { id: string; config: Parameters<PodFixture['runContainer']>[0]['config'] };

  before(async () => {
    fs.mkdirSync(sub, { recursive: true });
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'cradle-rro-test', sub]);
    await f.start();
    pod = await f.runPod('rro');
  });
  after(async () => {
    await f.stop();
    execFileSync('umount', ['-l', sub], { stdio: 'ignore' });
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const touch = async (id: string, file: string): Promise<string> => {
    const r = await f.cri.runtime.ExecSync({ containerId: id, cmd: ['sh', '-c', `touch ${file} 2>&1 && echo written`], timeout: 30 });
    return r.stdout.toString().trim();
  };
  const volume = (extra: Partial<Mount>): Mount => ({ containerPath: '/vol', hostPath: vol, readonly: true, propagation: 'PROPAGATION_PRIVATE', ...extra });

  it('Status reports the feature for the default handler', async () => {
    const s = await f.cri.runtime.Status({});
    const handler = s.runtimeHandlers.find((h) => h.name === '');
    assert.equal(handler?.features?.recursiveReadOnlyMounts, true);
  });

  it('recursive_read_only makes the submount read-only too; plain readonly leaves it writable', async () => {
    const rro = await f.runContainer(pod, f.containerConfig('rro', ['sleep', '1000'], { mounts: [volume({ recursiveReadOnly: true })] }));
    const ro = await f.runContainer(pod, f.containerConfig('ro', ['sleep', '1000'], { mounts: [volume({})] }));
    await f.waitForState(rro, 'CONTAINER_RUNNING');
    await f.waitForState(ro, 'CONTAINER_RUNNING');
    assert.match(await touch(rro, '/vol/top'), /Read-only file system/);
    assert.match(await touch(rro, '/vol/sub/x'), /Read-only file system/, 'the submount is read-only with recursive_read_only');
    assert.match(await touch(ro, '/vol/top'), /Read-only file system/);
    assert.equal(await touch(ro, '/vol/sub/x'), 'written', 'plain readonly reaches only the top mount');
    assert.ok(fs.existsSync(path.join(sub, 'x')), 'the write landed on the host submount');
  });

  it('recursive_read_only without readonly is INVALID_ARGUMENT', async () => {
    await assert.rejects(
      f.cri.runtime.CreateContainer({ podSandboxId: pod.id, config: f.containerConfig('bad', ['true'], { mounts: [volume({ readonly: false, recursiveReadOnly: true })] }), sandboxConfig: pod.config }),
      (err: { code: number; details: string }) => err.code === 3 && /recursiveReadOnly: requires readonly/.test(err.details),
    );
  });
});
