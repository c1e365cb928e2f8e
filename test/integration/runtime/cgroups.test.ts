// cgroup limits are enforced on the real kernel (v1, or v2 in the VM lane): OOM kill, pids limit,
// and the Node init survives the smallest limits we accept (trap 11).
import { test, before } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { TestContainer, CGROUP_V2_ONLY, isRoot, sweepStale } from './harness';

const skip = !isRoot() && 'needs root';
before(() => { if (isRoot()) sweepStale(); });

test('the memory limit is enforced: an allocation above it is OOM-killed', { skip }, async (t) => {
  const ctr = new TestContainer('cradle', 'oom', ['sh', '-c', 'echo before; dd if=/dev/zero of=/dev/null bs=100M count=1 2>/dev/null; echo "dd exit $?"']);
  t.after(() => ctr.cleanup());
  ctr.spec.linux!.resources!.memory = { limit: 32 * 1024 * 1024, swap: 32 * 1024 * 1024 };
  const { stdout } = await ctr.run();
  assert.match(stdout, /^before\ndd exit 137$/m);
});

test('the pids limit is enforced, and the init survives its smallest setting (trap 11)', { skip }, async (t) => {
  const ctr = new TestContainer('cradle', 'pids', ['sh', '-c', 'for i in 1 2 3 4 5 6; do sleep 5 & done 2>&1; echo done']);
  t.after(() => ctr.cleanup());
  ctr.spec.linux!.resources!.pids = { limit: 3 };
  const { stdout, stderr } = await ctr.run();
  assert.match(stdout + stderr, /can't fork/);
  assert.doesNotMatch(stderr, /pthread_create/, 'node\'s own threads never hit the limit: it is set after READY');
  assert.equal(fs.readFileSync(path.join(ctr.cgroupDir('pids'), 'pids.max'), 'utf8').trim(), '3');
});

test('a container at the memory floor (16 MiB) runs', { skip }, async (t) => {
  // Read inside the container, through its cgroup namespace (v2) or the v1 memory hierarchy.
  const ctr = new TestContainer('cradle', 'floor8', ['sh', '-c', CGROUP_V2_ONLY ? 'cat /sys/fs/cgroup/memory.max' : 'cat /sys/fs/cgroup/memory/memory.limit_in_bytes']);
  t.after(() => ctr.cleanup());
  ctr.spec.linux!.resources!.memory = { limit: 16 * 1024 * 1024 };
  const { stdout } = await ctr.run();
  assert.equal(stdout, `${16 * 1024 * 1024}\n`);
});

test('cpu shares/quota and devices rules are written; a denied device cannot be opened', { skip }, async (t) => {
  const ctr = new TestContainer('cradle', 'devs', ['sh', '-c', 'mknod /tmp/mem c 1 1 && (head -c1 /tmp/mem >/dev/null 2>&1 && echo mem-open || echo mem-denied); head -c1 /dev/zero | wc -c']);
  t.after(() => ctr.cleanup());
  ctr.spec.process!.capabilities!.bounding!.push('CAP_MKNOD');
  ctr.spec.process!.capabilities!.effective!.push('CAP_MKNOD');
  ctr.spec.process!.capabilities!.permitted!.push('CAP_MKNOD');
  ctr.writeSpec();
  assert.equal(ctr.create().status, 0);
  if (CGROUP_V2_ONLY) {
    // runc's conversion: weight = 1 + (shares - 2) * 9999 / 262142; the device rules are an eBPF program (no file).
    assert.equal(fs.readFileSync(path.join(ctr.cgroupDir('cpu'), 'cpu.weight'), 'utf8').trim(), '20');
    assert.equal(fs.readFileSync(path.join(ctr.cgroupDir('cpu'), 'cpu.max'), 'utf8').trim(), '50000 100000');
  } else {
    assert.equal(fs.readFileSync(path.join(ctr.cgroupDir('cpu'), 'cpu.shares'), 'utf8').trim(), '512');
    assert.equal(fs.readFileSync(path.join(ctr.cgroupDir('cpu'), 'cpu.cfs_quota_us'), 'utf8').trim(), '50000');
    assert.match(fs.readFileSync(path.join(ctr.cgroupDir('devices'), 'devices.list'), 'utf8'), /^c 1:3 rwm$/m);
  }
  assert.equal(ctr.cli(['start', ctr.id]).status, 0);
  await ctr.waitStopped();
  assert.equal(fs.readFileSync(ctr.outFile, 'utf8'), 'mem-denied\n1\n');
});
