// `cradled check`: node requirements, and orphaned state found and repaired.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { baseArgs, makeTempDirs, runCradled, startCradled } from '../../helpers/daemon';
import { defaultSpec, makeBusyboxRootfs, writeSpec } from '../../helpers/rootfs';
import { CRADLE_RUNTIME_BIN } from '../../../src/runtime/cradle-runtime';
import { cleanChildEnv } from '../../../src/common/child-env';
import { isProcessAlive } from '../../../src/runtime/conmon/proc';

test('check reports what the node has and lacks, and repairs orphans', async (t) => {
  const dirs = makeTempDirs();
  t.after(() => fs.rmSync(dirs.dir, { recursive: true, force: true }));
  fs.writeFileSync(dirs.configFile, '');
  const clean = await runCradled(['check', ...baseArgs(dirs)]);
  assert.equal(clean.code, 0, clean.stdout + clean.stderr);
  assert.match(clean.stdout, /^OK   conmon: \/usr\/bin\/conmon$/m);
  assert.match(clean.stdout, /^OK   overlayfs: supported$/m);
  assert.match(clean.stdout, /^OK   records: 0 pod sandboxes, 0 containers, no orphans$/m);
  // The features: each line says what the node gives and, where it lacks a piece, what that means.
  // The test daemon's configuration names cgroupfs: beside a systemd that manages the tree, a warning.
  assert.match(clean.stdout, fs.existsSync('/run/systemd/system') ? /^WARN cgroup driver: cgroupfs on a node whose cgroup tree systemd manages/m : /^OK   cgroup driver: cgroupfs; the kubelet needs --cgroup-driver=cgroupfs$/m);
  for (const what of ['AppArmor', 'user namespaces', 'CRIU']) assert.match(clean.stdout, new RegExp(`^(OK  |WARN) ${what}: `, 'm'));

  const orphanBundle = dirs.layout.containerDataDir('deadbeef');
  const orphanPodDir = dirs.layout.podRunDir('cafebabe');
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

test('cradled reclaims orphans when it starts; check --repair refuses while it runs', async (t) => {
  const dirs = makeTempDirs();
  t.after(() => fs.rmSync(dirs.dir, { recursive: true, force: true }));
  const orphanPodDir = dirs.layout.podRunDir('cafebabe');
  fs.mkdirSync(orphanPodDir, { recursive: true });
  // A container a create was making when cradled died: running, in the default
  // handler's runtime root, with no record.
  const runtimeRoot = dirs.layout.runtimeRoot('cradle');
  const bundle = path.join(dirs.dir, 'orphan-bundle');
  fs.mkdirSync(bundle);
  makeBusyboxRootfs(bundle);
  const cgroupsPath = `/cradle-test-orphan-${process.pid}`;
  writeSpec(bundle, defaultSpec(['sleep', '1000'], cgroupsPath));
  const created = spawnSync(CRADLE_RUNTIME_BIN, ['--root', runtimeRoot, 'create', '--bundle', bundle, 'feedface'], { env: cleanChildEnv(), stdio: 'ignore' });
  assert.equal(created.status, 0);
  const state = JSON.parse(fs.readFileSync(path.join(runtimeRoot, 'feedface', 'state.json'), 'utf8')) as { pid: number };
  t.after(() => { try { process.kill(state.pid, 'SIGKILL'); } catch { /* gone */ } });
  assert.ok(isProcessAlive(state.pid));
  const daemon = await startCradled({}, dirs);
  t.after(() => daemon.stop({ keepDirs: true }));
  assert.ok(!fs.existsSync(orphanPodDir), 'the interrupted creation\'s run dir is gone');
  assert.ok(!isProcessAlive(state.pid), 'the unrecorded container was killed');
  assert.ok(!fs.existsSync(path.join(runtimeRoot, 'feedface')), 'and deleted from the runtime');
  assert.ok(!fs.existsSync(path.join('/sys/fs/cgroup/memory', cgroupsPath)), 'with its cgroups');
  assert.ok(daemon.logRecords().some((r) => r.msg === 'reclaimed what an interrupted operation left' && String(r.detail).endsWith('cafebabe')));
  const refused = await runCradled(['check', '--repair', ...baseArgs(dirs)]);
  assert.equal(refused.code, 2);
  assert.match(refused.stderr, /cradled is running on .*; stop it first/);
});
