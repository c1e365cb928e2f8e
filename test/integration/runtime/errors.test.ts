// Configuration errors: a clear message naming the problem, exit status 1 and
// nothing left behind (no state dir, no cgroup, no process).
import { test, before } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { TestContainer, isRoot, leftoverCgroups, sweepStale } from './harness';

const skip = !isRoot() && 'needs root';
before(() => { if (isRoot()) sweepStale(); });

function expectCreateFails(ctr: TestContainer, pattern: RegExp): void {
  const r = ctr.create();
  assert.equal(r.status, 1, `create should fail: ${r.stderr}`);
  assert.match(r.stderr, pattern);
  assert.equal(fs.existsSync(path.join(ctr.root, ctr.id)), false, 'no state dir left');
  assert.deepEqual(leftoverCgroups(ctr.cgroupsPath), [], 'no cgroup left');
  assert.equal(ctr.state(), undefined);
}

test('bad config.json: invalid JSON names the file', { skip }, (t) => {
  const ctr = new TestContainer('cradle', 'badjson', ['true']);
  t.after(() => ctr.cleanup());
  fs.writeFileSync(path.join(ctr.bundle, 'config.json'), '{"ociVersion": "1.0.2", ');
  expectCreateFails(ctr, /config\.json: \(file\): invalid JSON/);
});

test('bad config.json: missing process.args names the key', { skip }, (t) => {
  const ctr = new TestContainer('cradle', 'noargs', ['true']);
  t.after(() => ctr.cleanup());
  ctr.spec.process!.args = [];
  ctr.writeSpec();
  expectCreateFails(ctr, /process\.args: must be a non-empty array/);
});

test('missing rootfs', { skip }, (t) => {
  const ctr = new TestContainer('cradle', 'norootfs', ['true']);
  t.after(() => ctr.cleanup());
  ctr.spec.root = { path: 'nope' };
  ctr.writeSpec();
  expectCreateFails(ctr, /root\.path: rootfs .*nope does not exist/);
});

test('unknown capability', { skip }, (t) => {
  const ctr = new TestContainer('cradle', 'badcap', ['true']);
  t.after(() => ctr.cleanup());
  ctr.spec.process!.capabilities!.bounding = ['CAP_KILL', 'CAP_FLY'];
  ctr.writeSpec();
  expectCreateFails(ctr, /process\.capabilities\.bounding: unknown capability "CAP_FLY"/);
});

test('a new user namespace is refused with a clear error', { skip }, (t) => {
  const ctr = new TestContainer('cradle', 'userns', ['true']);
  t.after(() => ctr.cleanup());
  ctr.spec.linux!.namespaces!.push({ type: 'user' });
  ctr.writeSpec();
  expectCreateFails(ctr, /joins a user namespace by path only/);
});

test('the Node path never runs a spec with a user namespace in the host\'s', { skip }, (t) => {
  const ctr = new TestContainer('cradle', 'userns-node', ['true']);
  t.after(() => ctr.cleanup());
  ctr.launcher = 'node'; // Node cannot setns(CLONE_NEWUSER): only the native launcher joins one
  ctr.spec.linux!.namespaces!.push({ type: 'user', path: '/proc/self/ns/user' });
  ctr.spec.linux!.uidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
  ctr.spec.linux!.gidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
  ctr.writeSpec();
  expectCreateFails(ctr, /user namespaces and idmapped mounts need the native launcher/);
});

test('memory limit below the Node init floor is rejected before anything is created (Node path)', { skip }, (t) => {
  const ctr = new TestContainer('cradle', 'floor', ['true']);
  t.after(() => ctr.cleanup());
  ctr.launcher = 'node'; // the native init is not charged to the container: no floor there
  ctr.spec.linux!.resources!.memory = { limit: 4 * 1024 * 1024 };
  ctr.writeSpec();
  expectCreateFails(ctr, /memory\.limit: 4194304 bytes is below cradle-runtime's floor/);
});

test('executable not found fails create and cleans up the started init', { skip }, (t) => {
  const ctr = new TestContainer('cradle', 'noexe', ['no-such-binary']);
  t.after(() => ctr.cleanup());
  ctr.writeSpec();
  expectCreateFails(ctr, /executable file not found in \$PATH/);
});

test('a failing mount fails create and cleans up', { skip }, (t) => {
  const ctr = new TestContainer('cradle', 'badmount', ['true']);
  t.after(() => ctr.cleanup());
  ctr.spec.mounts!.push({ destination: '/data', type: 'bind', source: '/nonexistent-cradle-source', options: ['rbind'] });
  ctr.writeSpec();
  expectCreateFails(ctr, /nonexistent-cradle-source/);
});

test('duplicate id', { skip }, (t) => {
  const ctr = new TestContainer('cradle', 'dup', ['sleep', '100']);
  t.after(() => ctr.cleanup());
  ctr.writeSpec();
  assert.equal(ctr.create().status, 0);
  const r = ctr.create();
  assert.equal(r.status, 1);
  assert.match(r.stderr, /already exists/);
  assert.equal(ctr.state()!.status, 'created', 'the first container is untouched');
});

test('unknown command and missing id are usage errors', { skip }, (t) => {
  const ctr = new TestContainer('cradle', 'usage', ['true']);
  t.after(() => ctr.cleanup());
  const r = ctr.cli(['frobnicate', 'x']);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /unknown command "frobnicate"/);
  const s = ctr.cli(['start']);
  assert.equal(s.status, 1);
  assert.match(s.stderr, /container id is required/);
});

test('trap 13: an init killed during setup fails create cleanly (no crash on the sync pipe)', { skip }, (t) => {
  const ctr = new TestContainer('cradle', 'initdies', ['true']);
  t.after(() => ctr.cleanup());
  // A createRuntime hook gets the init's pid on stdin and SIGKILLs it, as an OOM kill would.
  ctr.spec.hooks = { createRuntime: [{ path: '/bin/sh', args: ['sh', '-c', 'read s; pid=$(echo "$s" | grep -o \'"pid":[0-9]*\' | grep -o \'[0-9]*$\'); kill -9 $pid; sleep 0.2'] }] };
  ctr.writeSpec();
  const r = ctr.create();
  assert.equal(r.status, 1);
  assert.match(r.stderr, /container init exited during setup|sync pipe/);
  assert.doesNotMatch(r.stderr, /ECONNRESET|Unhandled|at .*\.js/, 'a clean message, not a crash');
  assert.equal(fs.existsSync(path.join(ctr.root, ctr.id)), false);
  assert.deepEqual(leftoverCgroups(ctr.cgroupsPath), []);
});
