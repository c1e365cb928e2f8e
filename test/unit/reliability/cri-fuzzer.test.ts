// The CRI fuzzer is deterministic per seed and reaches every RPC of the proto.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CriFuzzer, Rng } from '../../integration/reliability/cri-fuzzer';

const ctx = (wild = false) => ({
  ids: () => ['0123456789abcdef'],
  hostPath: (rng: Rng) => `/tmp/fuzz-host/${rng.pick(['a', 'b'])}`,
  cgroupParent: '/fuzz-parent',
  images: ['127.0.0.1:1/test/busybox:1'],
  wild,
});

test('the same seed gives the same request sequence; another seed another one', () => {
  const run = (seed: number) => {
    const fz = new CriFuzzer(new Rng(seed), ctx());
    return Array.from({ length: 300 }, () => fz.next()).map((r) => `${r.method.name}/${r.kind}/${r.bytes.toString('base64')}`);
  };
  assert.deepEqual(run(11), run(11));
  assert.notDeepEqual(run(11), run(12));
});

test('every RuntimeService and ImageService RPC is generated; excluded ones are not', () => {
  const fz = new CriFuzzer(new Rng(1), ctx(), new Set(['GetContainerEvents']));
  const names = new Set(fz.methods.map((m) => m.name));
  for (const n of ['Version', 'RunPodSandbox', 'CreateContainer', 'ExecSync', 'PullImage', 'ImageFsInfo', 'UpdatePodSandboxResources']) assert.ok(names.has(n), n);
  assert.equal(names.has('GetContainerEvents'), false);
  const seen = new Set(Array.from({ length: 3000 }, () => fz.next().method.name));
  assert.deepEqual([...names].filter((n) => !seen.has(n)), []);
});

test('RunPodSandbox requests carry the test\'s cgroup parent and host paths', () => {
  const fz = new CriFuzzer(new Rng(5), ctx());
  const run = fz.methods.find((m) => m.name === 'RunPodSandbox')!;
  const text = Array.from({ length: 4000 }, () => fz.next()).filter((r) => r.method === run && r.kind !== 'bytes').map((r) => r.bytes.toString('latin1')).join('\n');
  assert.ok(text.includes('/fuzz-parent'), 'cgroup parents are generated');
  assert.ok(text.includes('/tmp/fuzz-host/'), 'log directories come from hostPath()');
});
