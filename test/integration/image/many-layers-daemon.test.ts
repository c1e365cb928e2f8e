// A 127-layer image (busybox at the bottom, Docker's maximum layer count) through
// a real cradled: PullImage, RunPodSandbox, CreateContainer, StartContainer, and
// the container reads files from its lowest and its top-most layer.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { PodFixture } from '../../helpers/pod-fixture';
import { busyboxImage, entry } from '../../helpers/image-builder';
import { parseCriLog } from '../../../src/runtime/conmon/conmon';

const LAYERS = 127;
const f = new PodFixture('cradle-tml0', '10.241.0.0/24');

describe('127 layers through the daemon', () => {
  before(() => f.start());
  after(() => f.stop());

  it('a container of a 127-layer image starts and sees its lowest and top layers', async () => {
    const extraLayers = Array.from({ length: LAYERS - 1 }, (_, i) => ({
      entries: [entry.file('etc/which', `${i + 1}\n`), ...(i === LAYERS - 2 ? [entry.file('etc/top', 'top layer\n')] : [])],
    }));
    const image = await f.pushAndPull('test/many-layers:v1', busyboxImage({ extraLayers }));
    const status = await f.cri.image.ImageStatus({ image: { image: image.reference } });
    assert.ok(status.image, 'pulled');
    const pod = await f.runPod('many-layers');
    const id = await f.runContainer(pod, f.containerConfig('reader', ['sh', '-c', 'cat /etc/top /etc/which; ls /bin/busybox'], {
      image: { image: image.reference },
    }));
    await f.waitForState(id, 'CONTAINER_EXITED');
    const s = (await f.cri.runtime.ContainerStatus({ containerId: id })).status!;
    const out = parseCriLog(fs.readFileSync(s.logPath)).map((r) => r.content.toString()).join('\n');
    assert.equal(s.exitCode, 0, out);
    assert.equal(out, `top layer\n${LAYERS - 1}\n/bin/busybox`);
  });
});
