import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { kernelAtLeast, usernsKernelSupport } from '../../../src/sys/userns-support';

test('kernel release comparison', () => {
  assert.equal(kernelAtLeast(6, 15, '6.18.44-fc-v1272'), true);
  assert.equal(kernelAtLeast(6, 15, '6.15.0'), true);
  assert.equal(kernelAtLeast(6, 15, '6.14.9'), false);
  assert.equal(kernelAtLeast(6, 15, '7.0.1'), true);
  assert.equal(kernelAtLeast(6, 15, '5.19.0'), false);
  assert.equal(kernelAtLeast(6, 15, 'weird'), false);
});

test('user namespace support: a new enough kernel with user namespaces enabled', (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cradle-unit-userns-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const max = path.join(dir, 'max_user_namespaces');
  fs.writeFileSync(max, '63000\n');
  assert.deepEqual(usernsKernelSupport('6.18.1', max), { supported: true });
  assert.match(usernsKernelSupport('6.8.0', max).reason!, /older than 6\.15/);
  fs.writeFileSync(max, '0\n');
  assert.match(usernsKernelSupport('6.18.1', max).reason!, /max_user_namespaces is 0/);
  assert.match(usernsKernelSupport('6.18.1', path.join(dir, 'missing')).reason!, /missing/);
});
