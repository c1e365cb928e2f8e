import { test } from 'node:test';
import assert from 'node:assert/strict';
import { containerCgroupPath, expandSlice, podCgroupPath } from '../../../src/stats';

test('systemd slice names expand to their nested directories', () => {
  assert.equal(expandSlice('kubepods-besteffort-pod1.slice'), '/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod1.slice');
  assert.equal(expandSlice('system.slice'), '/system.slice');
  assert.equal(expandSlice('-.slice'), '/');
  for (const bad of ['kubepods', '.slice', 'a--b.slice', '-a.slice', 'a-.slice', 'a/b.slice']) {
    assert.throws(() => expandSlice(bad), /slice/, bad);
  }
});

test('systemd cgroupsPath "slice:prefix:name" maps to <slice path>/prefix-name.scope', () => {
  assert.equal(containerCgroupPath('kubepods-besteffort-pod1.slice:cradle:abc', 'systemd'),
    '/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod1.slice/cradle-abc.scope');
  assert.equal(containerCgroupPath(':cradle:abc', 'systemd'), '/system.slice/cradle-abc.scope');
  assert.equal(containerCgroupPath('system.slice::abc', 'systemd'), '/system.slice/abc.scope');
  assert.throws(() => containerCgroupPath('/kubepods/pod1/cradle-abc', 'systemd'), /slice:prefix:name/);
  assert.equal(podCgroupPath('kubepods-burstable-pod2.slice', 'systemd'), '/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod2.slice');
});

test('cgroupfs paths are used as given, rooted, and may not climb out', () => {
  assert.equal(containerCgroupPath('/kubepods/pod1/cradle-abc', 'cgroupfs'), '/kubepods/pod1/cradle-abc');
  assert.equal(containerCgroupPath('kubepods/pod1/cradle-abc/', 'cgroupfs'), '/kubepods/pod1/cradle-abc');
  assert.equal(podCgroupPath('/kubepods/pod1', 'cgroupfs'), '/kubepods/pod1');
  assert.throws(() => containerCgroupPath('/kubepods/../../etc', 'cgroupfs'), /\.\./);
});
