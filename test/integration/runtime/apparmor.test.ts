// process.apparmorProfile in cradle-runtime: applied at the execve of the init and of
// an exec (native launcher and Node path alike) through /proc/thread-self/attr. A
// profile the kernel cannot apply (not loaded, or no AppArmor at all) fails the
// create or the exec with the step and the profile named, never runs unconfined.
// Confinement itself is checked in the VM lane (test/vm/apparmor.test.ts).
import { test, before } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { writeExecPlan } from '../../../src/oci-runtime/exec-plan';
import { appArmorEnabled } from '../../../src/sys/apparmor';
import { TestContainer, isRoot, leftoverCgroups, sweepStale, type Launcher } from './harness';

const skip = !isRoot() && 'needs root';
before(() => { if (isRoot()) sweepStale(); });

const NEVER_LOADED = 'cradle-test-never-loaded';
const launchers: Launcher[] = ['native', 'node'];

for (const launcher of launchers) {
  test(`create (${launcher}): a profile the kernel cannot apply fails the create, naming it`, { skip }, (t) => {
    const ctr = new TestContainer('cradle', `aa${launcher}`, ['true']);
    t.after(() => ctr.cleanup());
    ctr.launcher = launcher;
    ctr.spec.process!.apparmorProfile = NEVER_LOADED;
    ctr.writeSpec();
    assert.equal(ctr.planned, launcher === 'native', 'a profile keeps the native launcher');
    const r = ctr.create();
    assert.equal(r.status, 1);
    assert.match(r.stderr, new RegExp(`apparmor: .*${NEVER_LOADED}.*/proc/thread-self/attr/(apparmor/)?exec`));
    assert.equal(ctr.state(), undefined, 'no container left');
    assert.deepEqual(leftoverCgroups(ctr.cgroupsPath), []);
  });
}

test('exec: the process file\'s profile (exec plan and Node exec) and --apparmor (Node CLI) are applied, an unusable one fails the exec', { skip }, (t) => {
  const ctr = new TestContainer('cradle', 'aaexec', ['sleep', '1000']);
  t.after(() => ctr.cleanup());
  ctr.writeSpec();
  assert.equal(ctr.create().status, 0);
  assert.equal(ctr.cli(['start', ctr.id]).status, 0);
  const processFile = path.join(ctr.dir, 'process.json');
  const write = (p: object) => fs.writeFileSync(processFile, JSON.stringify({ ...ctr.spec.process!, args: ['echo', 'ran'], ...p }));
  const failed = new RegExp(`apparmor: .*${NEVER_LOADED}`);

  write({});
  const plain = ctr.exec(processFile);
  assert.equal(plain.status, 0, plain.stderr);
  assert.equal(plain.stdout, 'ran\n');

  write({ apparmorProfile: NEVER_LOADED });
  assert.equal(writeExecPlan(ctr.root, ctr.id, processFile), true, 'a profile keeps the native exec');
  const planned = ctr.exec(processFile);
  assert.equal(planned.planned, true);
  assert.notEqual(planned.status, 0);
  assert.match(planned.stderr, failed);
  assert.equal(planned.stdout, '', 'the process never ran');

  ctr.launcher = 'node';
  const node = ctr.exec(processFile);
  assert.equal(node.planned, false);
  assert.notEqual(node.status, 0);
  assert.match(node.stderr, failed);
  assert.equal(node.stdout, '');

  // runc's exec CLI: --apparmor sets the profile of a process given on the command line.
  const cli = ctr.cli(['exec', '--apparmor', NEVER_LOADED, ctr.id, 'echo', 'ran']);
  assert.notEqual(cli.status, 0);
  assert.match(cli.stderr, failed);
  assert.equal(ctr.cli(['exec', ctr.id, 'echo', 'ran']).stdout, 'ran\n');
});

test('features: apparmor is enabled exactly when the host has it', { skip }, () => {
  const ctr = new TestContainer('cradle', 'aafeat', ['true']);
  try {
    const r = ctr.cli(['features']);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual((JSON.parse(r.stdout) as { linux: { apparmor: unknown } }).linux.apparmor, { enabled: appArmorEnabled() });
  } finally {
    ctr.cleanup();
  }
});
