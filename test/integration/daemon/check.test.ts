// `cradled check`: node requirements, and orphaned state found and repaired.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { baseArgs, makeTempDirs, runCradled } from '../../helpers/daemon';

test('check reports what the node has and lacks, and repairs orphans', async (t) => {
  const dirs = makeTempDirs();
  t.after(() => fs.rmSync(dirs.dir, { recursive: true, force: true }));
  fs.writeFileSync(dirs.configFile, '');
  const clean = await runCradled(['check', ...baseArgs(dirs)]);
  assert.equal(clean.code, 0, clean.stdout + clean.stderr);
  assert.match(clean.stdout, /^OK   conmon: \/usr\/bin\/conmon$/m);
  assert.match(clean.stdout, /^OK   overlayfs: supported$/m);
  assert.match(clean.stdout, /^OK   records: 0 pod sandboxes, 0 containers, no orphans$/m);

  const orphanBundle = path.join(dirs.root, 'containers-data', 'deadbeef');
  const orphanPodDir = path.join(dirs.runRoot, 'pods', 'cafebabe');
  fs.mkdirSync(path.join(orphanBundle, 'upper'), { recursive: true });
  fs.mkdirSync(orphanPodDir, { recursive: true });
  const found = await runCradled(['check', ...baseArgs(dirs)]);
  assert.equal(found.code, 0);
  assert.match(found.stdout, /^WARN container directory without a record: .*deadbeef$/m);
  assert.match(found.stdout, /^WARN pod run directory without a record: .*cafebabe$/m);
  assert.ok(fs.existsSync(orphanBundle), 'report mode changes nothing');

  const repaired = await runCradled(['check', '--repair', ...baseArgs(dirs)]);
  assert.match(repaired.stdout, /deadbeef \(repaired\)$/m);
  assert.ok(!fs.existsSync(orphanBundle) && !fs.existsSync(orphanPodDir));

  const broken = await runCradled(['check', ...baseArgs(dirs), '--runtime-conmon', '/nonexistent/conmon']);
  assert.equal(broken.code, 1);
  assert.match(broken.stdout, /^FAIL conmon: \/nonexistent\/conmon$/m);
});
