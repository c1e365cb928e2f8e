// CradleRuntime.prepareBundle: a bundle the native launcher runs takes any memory
// limit; one that takes the Node init (here: hooks) is refused below the floor that
// init needs, as INVALID_ARGUMENT naming the field, before conmon is started.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CradleRuntime, CRADLE_RUNTIME_BIN } from '../../../src/runtime/cradle-runtime';
import { PLAN_FILE } from '../../../src/oci-runtime/launch-plan';
import { errors } from '../../../src/common/errors';
import { defaultSpec, makeBusyboxRootfs, writeSpec } from '../../helpers/rootfs';

const hasV1 = fs.existsSync('/sys/fs/cgroup/memory') && !fs.existsSync('/sys/fs/cgroup/cgroup.controllers');

test('a 4 MiB limit: planned, accepted; on the Node path, refused with the reason', { skip: !hasV1 && 'the planned case needs a cgroup v1 host' }, (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cradle-unit-floor-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  makeBusyboxRootfs(dir);
  const spec = defaultSpec(['sh'], '/cradle-unit-floor');
  spec.linux!.resources!.memory = { limit: 4 * 1024 * 1024 };
  writeSpec(dir, spec);
  const runtime = new CradleRuntime({ binary: CRADLE_RUNTIME_BIN });
  runtime.prepareBundle('ctr', dir);
  assert.ok(fs.existsSync(path.join(dir, PLAN_FILE)), 'the launcher runs it: no floor');

  spec.hooks = { prestart: [{ path: '/bin/true' }] };
  writeSpec(dir, spec);
  assert.throws(() => runtime.prepareBundle('ctr', dir), (err: unknown) => {
    assert.ok(errors.invalidField.is(err));
    assert.match(err.message, /^config\.linux\.resources\.memoryLimitInBytes: 4194304 bytes is below the 16 MiB that cradle-runtime's Node init needs/);
    return true;
  });
  assert.equal(fs.existsSync(path.join(dir, PLAN_FILE)), false);
  spec.linux!.resources!.memory = { limit: 16 * 1024 * 1024 };
  writeSpec(dir, spec);
  assert.doesNotThrow(() => runtime.prepareBundle('ctr', dir), 'exactly the floor');
});
