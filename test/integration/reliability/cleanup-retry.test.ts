// Cleanup that does not give up, through the real daemon: a pod's run dir that
// cannot be removed (a mount the test put in it: rmdir is EBUSY, a real fault) makes
// RemovePodSandbox UNAVAILABLE while the release is retried in the background and
// counted; the pod stays listed NOTREADY. Once the mount is gone the retry succeeds
// without a restart, and the kubelet's next RemovePodSandbox removes the pod.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { PodFixture } from '../../helpers/pod-fixture';
import { grpcError } from '../../helpers/cri-client';
import { eventually } from '../../helpers/eventually';
import { baseArgs, mountPointsUnder, runCradled } from '../../helpers/daemon';
import { mount, umount2 } from '../../../src/sys/libc';
import { MNT_DETACH } from '../../../src/sys/constants';
import { metricValue, scrapeMetrics } from '../../helpers/metrics';

const f = new PodFixture('cradle-tcr0', '10.219.0.0/24');

const scrape = () => scrapeMetrics(f.daemon);
/** A counter or gauge; an absent series is 0. */
const metric = (text: string, series: string): number => metricValue(text, series) ?? 0;

const FAILED = 'container_runtime_cradle_cleanup_retries_total{kind="pod resources",outcome="failed"}';
const SUCCEEDED = 'container_runtime_cradle_cleanup_retries_total{kind="pod resources",outcome="succeeded"}';
const PENDING = 'container_runtime_cradle_cleanups_pending';
/** Background retries that fail before the test lets the release succeed. */
const FAILURES = 2;

describe('cleanup retried in the background', () => {
  let busy: string | undefined;
  let immutable: string | undefined;
  before(() => f.start(['--metrics-enable', '--metrics-port', '0']));
  after(async () => {
    if (busy) try { umount2(busy, MNT_DETACH); } catch { /* gone */ }
    if (immutable) spawnSync('chattr', ['-i', immutable]);
    await f.stop();
  });

  it(`a pod run dir held busy: RemovePodSandbox is UNAVAILABLE, the release fails ${FAILURES} more times and then ends clean without a restart`, async () => {
    const pod = await f.runPod('busy');
    await f.cri.runtime.StopPodSandbox({ podSandboxId: pod.id });
    busy = path.join(f.dirs.layout.podRunDir(pod.id), 'busy');
    fs.mkdirSync(busy);
    mount('tmpfs', busy, 'tmpfs', 0, 'size=64k');

    await assert.rejects(f.cri.runtime.RemovePodSandbox({ podSandboxId: pod.id }), (err) => {
      assert.equal(grpcError(err).code, 14 /* UNAVAILABLE */);
      assert.match(grpcError(err).details, /retried in the background/);
      return true;
    });
    const listed = (await f.cri.runtime.ListPodSandbox({})).items.find((p) => p.id === pod.id);
    assert.equal(listed?.state, 'SANDBOX_NOTREADY', 'the pod stays listed while its cleanup is pending');
    assert.equal(metric(await scrape(), PENDING), 1);
    const status = await runCradled(['status', ...baseArgs(f.dirs)]);
    assert.match(status.stdout, /cleanups +1 retried in the background/);
    assert.match(status.stdout, new RegExp(`pod resources of ${pod.id}: \\d+ failed tries, .*busy`, 'i'));

    let seen = 0;
    await eventually(async () => (seen = metric(await scrape(), FAILED)) >= FAILURES, `${FAILURES} failed retries`);
    assert.equal(metric(await scrape(), SUCCEEDED), 0);
    umount2(busy, MNT_DETACH);
    busy = undefined;

    await eventually(async () => metric(await scrape(), PENDING) === 0, 'the retry to succeed');
    const text = await scrape();
    assert.equal(metric(text, SUCCEEDED), 1);
    assert.ok(metric(text, FAILED) >= seen);
    assert.equal(fs.existsSync(f.dirs.layout.podRunDir(pod.id)), false, 'the run dir is gone');

    await f.cri.runtime.RemovePodSandbox({ podSandboxId: pod.id });
    assert.equal((await f.cri.runtime.ListPodSandbox({})).items.some((p) => p.id === pod.id), false);
    assert.deepEqual(mountPointsUnder(f.dirs.dir).filter((m) => m.includes(pod.id)), []);
    assert.match((await runCradled(['status', ...baseArgs(f.dirs)])).stdout, /cleanups +none pending/);
  });

  // A container dir's release unmounts what is below it, so the fault here is a file
  // that cannot be removed (immutable: EPERM), as a stuck file system would leave.
  it('a container dir that cannot be removed: RemoveContainer is UNAVAILABLE, the container stays listed, and it ends clean once the retry succeeds', async () => {
    const CFAILED = 'container_runtime_cradle_cleanup_retries_total{kind="container resources",outcome="failed"}';
    const CSUCCEEDED = 'container_runtime_cradle_cleanup_retries_total{kind="container resources",outcome="succeeded"}';
    const pod = await f.runPod('busy-container');
    const id = await f.runContainer(pod, f.containerConfig('c', ['sleep', '1000']));
    await f.cri.runtime.StopContainer({ containerId: id, timeout: 0 });
    immutable = path.join(f.dirs.layout.containerDataDir(id), 'stuck');
    fs.writeFileSync(immutable, '');
    const chattr = spawnSync('chattr', ['+i', immutable], { encoding: 'utf8' });
    assert.equal(chattr.status, 0, `chattr +i: ${chattr.stderr}`);

    await assert.rejects(f.cri.runtime.RemoveContainer({ containerId: id }), (err) => {
      assert.equal(grpcError(err).code, 14 /* UNAVAILABLE */);
      return true;
    });
    assert.equal((await f.cri.runtime.ListContainers({})).containers.find((c) => c.id === id)?.state, 'CONTAINER_EXITED');
    // RemovePodSandbox cannot finish either while its container is pending.
    await assert.rejects(f.cri.runtime.RemovePodSandbox({ podSandboxId: pod.id }), (err) => grpcError(err).code === 14);
    await eventually(async () => metric(await scrape(), CFAILED) >= FAILURES, `${FAILURES} failed retries`);
    spawnSync('chattr', ['-i', immutable]);
    immutable = undefined;

    await eventually(async () => metric(await scrape(), PENDING) === 0, 'the retry to succeed');
    assert.equal(metric(await scrape(), CSUCCEEDED), 1);
    assert.equal(fs.existsSync(f.dirs.layout.containerDataDir(id)), false, 'the container dir is gone');
    await f.cri.runtime.RemovePodSandbox({ podSandboxId: pod.id });
    assert.equal((await f.cri.runtime.ListContainers({})).containers.some((c) => c.id === id), false);
    assert.equal((await f.cri.runtime.ListPodSandbox({})).items.some((p) => p.id === pod.id), false);
  });
});
