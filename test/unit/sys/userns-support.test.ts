import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { probeUsernsSupport } from '../../../src/sys/userns-support';

test('user namespace support: disabled or missing user namespaces, or a helper that cannot run, say why', (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cradle-unit-userns-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const max = path.join(dir, 'max_user_namespaces');
  fs.writeFileSync(max, '0\n');
  assert.deepEqual(probeUsernsSupport('/nonexistent/helper', dir, max), { supported: false, reason: `${max} is 0` });
  assert.match(probeUsernsSupport('/nonexistent/helper', dir, path.join(dir, 'missing')).reason!, /missing \(a kernel without user namespaces\)/);
  fs.writeFileSync(max, '63000\n');
  assert.match(probeUsernsSupport('/nonexistent/helper', dir, max).reason!, /running \/nonexistent\/helper: .*ENOENT/);
});
