import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkIdsMapped, hostIdOf, validatePodUserns, MAX_ID_MAP_LINES } from '../../../src/runtime/oci-config/userns';

const F = 'ns.usernsOptions';
const map = (containerId: number, hostId: number, length: number) => ({ containerId, hostId, length });
const pod = (uids: ReturnType<typeof map>[], gids: ReturnType<typeof map>[] = [map(0, 100000, 65536)]) => ({ mode: 'POD' as const, uids, gids });

test('userns: NODE or unset is the host\'s; POD returns the checked maps', () => {
  assert.equal(validatePodUserns(null, F), undefined);
  assert.equal(validatePodUserns({ mode: 'NODE', uids: [], gids: [] }, F), undefined);
  const maps = [map(0, 100000, 1000), map(1000, 300000, 64536)];
  assert.deepEqual(validatePodUserns(pod(maps), F), { uids: maps, gids: [map(0, 100000, 65536)] });
  // The kubelet's shape: one range of 65536 at a multiple of 65536.
  assert.ok(validatePodUserns(pod([map(0, 65536 * 30, 65536)]), F));
});

test('userns: modes the kubelet does not send and maps with NODE are refused', () => {
  assert.throws(() => validatePodUserns({ mode: 'CONTAINER', uids: [], gids: [] }, F), /ns\.usernsOptions\.mode: user namespace mode CONTAINER is not supported/);
  assert.throws(() => validatePodUserns({ mode: 'TARGET', uids: [], gids: [] }, F), /mode TARGET is not supported/);
  assert.throws(() => validatePodUserns({ mode: 'NODE', uids: [map(0, 1, 1)], gids: [] }, F), /mappings are only valid with mode POD/);
});

test('userns: maps the kernel would refuse, or that give the pod the host\'s root, are INVALID_ARGUMENT naming the field', () => {
  const bad: [Parameters<typeof validatePodUserns>[0], RegExp][] = [
    [pod([]), /ns\.usernsOptions\.uids: at least one uid mapping is required/],
    [pod([map(0, 100000, 10)], []), /ns\.usernsOptions\.gids: at least one gid mapping is required/],
    [pod([map(0, 100000, 0)]), /uids\[0\]\.length: must be at least 1/],
    [pod([map(0, 100000, 100), map(50, 200000, 100)]), /uids: container uid ranges overlap: 0\+100 and 50\+100/],
    [pod([map(0, 100000, 100), map(100, 100050, 100)]), /uids: host uid ranges overlap: 100000\+100 and 100050\+100/],
    [pod([map(1, 100000, 100)]), /uids: container uid 0 is not mapped/],
    [pod([map(0, 0, 65536)]), /uids\[0\]\.hostId: maps the host's root uid 0 into the pod/],
    [pod([map(0, 100000, 65536)], [map(0, 0, 1)]), /gids\[0\]\.hostId: maps the host's root gid 0/],
    [pod([map(0, 4294967200, 200)]), /uids\[0\]: host uids 4294967200\+200 run past 4294967294/],
    [pod([map(4294967200, 100000, 200), map(0, 1, 1)]), /uids\[0\]: container uids 4294967200\+200 run past/],
    [pod([map(0, -5, 10)]), /uids\[0\]\.hostId: -5 is not a 32-bit id/],
    [pod([map(0, 1.5, 10)]), /uids\[0\]\.hostId: 1\.5 is not a 32-bit id/],
    [pod(Array.from({ length: MAX_ID_MAP_LINES + 1 }, (_, i) => map(i, 100000 + i, 1))), /341 uid mappings: the kernel accepts at most 340/],
  ];
  for (const [opts, pattern] of bad) {
    assert.throws(() => validatePodUserns(opts, F), (err: Error & { code?: number }) => {
      assert.match(err.message, pattern);
      return true;
    });
  }
  // 340 lines is the most, and fine.
  assert.ok(validatePodUserns(pod(Array.from({ length: MAX_ID_MAP_LINES }, (_, i) => map(i, 100000 + i, 1))), F));
});

test('userns: host id of a container id through the maps', () => {
  const maps = [map(0, 100000, 1000), map(1000, 300000, 10)];
  assert.equal(hostIdOf(maps, 0), 100000);
  assert.equal(hostIdOf(maps, 999), 100999);
  assert.equal(hostIdOf(maps, 1005), 300005);
  assert.equal(hostIdOf(maps, 1010), undefined);
});

test('userns: the process\'s uid, gid and groups must be ids of the pod\'s user namespace', () => {
  const userns = { uids: [map(0, 100000, 65536)], gids: [map(0, 100000, 1000), map(2000, 300000, 10)] };
  assert.doesNotThrow(() => checkIdsMapped(userns, { uid: 65535, gid: 999, additionalGids: [2005] }, 'sc.runAsUser'));
  assert.throws(() => checkIdsMapped(userns, { uid: 65536, gid: 0, additionalGids: [] }, 'sc.runAsUser'),
    /sc\.runAsUser: uid 65536 is not mapped in the pod's user namespace \(uids 0-65535\)/);
  assert.throws(() => checkIdsMapped(userns, { uid: 0, gid: 0, additionalGids: [1500] }, 'sc.runAsUser'),
    /gid 1500 is not mapped in the pod's user namespace \(gids 0-999, 2000-2009\)/);
});
