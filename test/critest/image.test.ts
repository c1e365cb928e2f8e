// critest area: images (cri-tools pkg/validate/image.go): pull by tag and digest,
// list, status, remove, tags sharing one image, image user.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTarget, type CriTarget } from './target';
import { busyboxImage, pushImage, type PushedImage } from '../helpers/image-builder';

describe('image', () => {
  let target: CriTarget;
  let plain: PushedImage;
  before(async () => {
    target = await startTarget({ bridge: 'crit-image0', subnet: '10.214.11.0/24' });
    plain = await pushImage(target.registry, 'critest/busybox:1.0', busyboxImage());
  });
  after(async () => { await target?.stop(); });

  async function removeAll(ref: string): Promise<void> {
    const status = await target.cri.image.ImageStatus({ image: { image: ref } });
    if (status.image) await target.cri.image.RemoveImage({ image: { image: status.image.id } });
  }

  it('public image with tag should be pulled and removed', async () => {
    const ref = plain.reference;
    const pulled = await target.cri.image.PullImage({ image: { image: ref } });
    assert.notEqual(pulled.imageRef, '');
    const status = await target.cri.image.ImageStatus({ image: { image: ref } });
    assert.ok(status.image, 'image present after pull');
    assert.ok(status.image.repoTags.includes(ref));
    await target.cri.image.RemoveImage({ image: { image: ref } });
    assert.equal((await target.cri.image.ImageStatus({ image: { image: ref } })).image, null);
  });

  it('public image with digest should be pulled and removed', async () => {
    const ref = plain.digestReference;
    await target.cri.image.PullImage({ image: { image: ref } });
    const status = await target.cri.image.ImageStatus({ image: { image: ref } });
    assert.ok(status.image);
    assert.ok(status.image.repoDigests.includes(ref), `${status.image.repoDigests.join(',')} has ${ref}`);
    await removeAll(ref);
    assert.equal((await target.cri.image.ImageStatus({ image: { image: ref } })).image, null);
  });

  it('image status should support all kinds of references', async () => {
    const pulled = await target.cri.image.PullImage({ image: { image: plain.reference } });
    for (const ref of [plain.reference, plain.digestReference, pulled.imageRef]) {
      const status = await target.cri.image.ImageStatus({ image: { image: ref } });
      assert.ok(status.image, `status by ${ref}`);
      assert.equal(status.image.id, pulled.imageRef);
      assert.ok(Number(status.image.size) > 0);
    }
    await removeAll(plain.reference);
  });

  it('multiple tags of one image are listed on it, and removing by ID removes all', async () => {
    const second = await pushImage(target.registry, 'critest/busybox:other', busyboxImage());
    await target.cri.image.PullImage({ image: { image: plain.reference } });
    await target.cri.image.PullImage({ image: { image: second.reference } });
    const listed = (await target.cri.image.ListImages({})).images.filter((i) => i.repoTags.includes(plain.reference));
    assert.equal(listed.length, 1);
    assert.ok(listed[0]!.repoTags.includes(second.reference), 'both tags on the one image');
    await target.cri.image.RemoveImage({ image: { image: listed[0]!.id } });
    const after = (await target.cri.image.ListImages({})).images.filter((i) => i.repoTags.some((t) => t === plain.reference || t === second.reference));
    assert.equal(after.length, 0);
  });

  it('image user: uid, username and uid:gid are reported as the kubelet expects', async () => {
    const cases: [string, { uid?: string; username: string }][] = [
      ['1002', { uid: '1002', username: '' }],
      ['www-data', { username: 'www-data' }],
      ['1003:50', { uid: '1003', username: '' }],
    ];
    for (const [user, expected] of cases) {
      const img = await pushImage(target.registry, `critest/user:${user.replace(/:/g, '-')}`, busyboxImage({ config: { User: user } }));
      await target.cri.image.PullImage({ image: { image: img.reference } });
      const status = (await target.cri.image.ImageStatus({ image: { image: img.reference } })).image!;
      assert.equal(status.uid?.value, expected.uid, `uid for ${user}`);
      assert.equal(status.username, expected.username, `username for ${user}`);
      await removeAll(img.reference);
    }
  });

  it('ImageFsInfo reports the image filesystem', async () => {
    const info = await target.cri.image.ImageFsInfo({});
    assert.ok(info.imageFilesystems.length >= 1);
    assert.notEqual(info.imageFilesystems[0]!.fsId!.mountpoint, '');
  });
});
