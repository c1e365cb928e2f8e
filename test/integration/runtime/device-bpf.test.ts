// The cgroup v2 device program, verified on this host's cgroup2 mount (the unified
// half of the hybrid layout: BPF device programs need no controller).
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { deviceFilterProgram } from '../../../src/oci-runtime/cgroups/device-filter';
import { attachDeviceProgram, loadDeviceProgram } from '../../../src/sys/bpf';
import { isRoot } from './harness';
import { CgroupV2 } from '../../../src/oci-runtime/cgroups';

const UNIFIED = fs.existsSync('/sys/fs/cgroup/unified/cgroup.procs') ? '/sys/fs/cgroup/unified'
  : fs.existsSync('/sys/fs/cgroup/cgroup.controllers') ? '/sys/fs/cgroup' : undefined;

test('v2 device program: only the allowed devices and accesses open', { skip: (!isRoot() || !UNIFIED) && 'needs root and a cgroup2 mount' }, (t) => {
  const dir = path.join(UNIFIED!, `cradle-test-rt-bpf-${process.pid}`);
  fs.mkdirSync(dir);
  t.after(() => { for (let i = 0; i < 50; i++) { try { fs.rmdirSync(dir); return; } catch { spawnSync('sleep', ['0.02']); } } });
  const prog = loadDeviceProgram(deviceFilterProgram([
    { allow: false, access: 'rwm' },
    { allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' },
    { allow: true, type: 'c', major: 1, minor: 5, access: 'r' },
  ]));
  try {
    attachDeviceProgram(dir, prog);
  } finally {
    fs.closeSync(prog);
  }
  const script = [
    `echo $$ > ${dir}/cgroup.procs`,
    'head -c1 /dev/zero | wc -c',
    '(echo x > /dev/zero) 2>/dev/null && echo zero-writable || echo zero-write-denied',
    '(head -c1 /dev/urandom > /dev/null) 2>/dev/null && echo urandom-ok || echo urandom-denied',
    'echo y > /dev/null && echo null-ok',
  ].join('; ');
  const r = spawnSync('/bin/busybox', ['sh', '-c', script], { encoding: 'utf8' });
  assert.equal(r.stdout, '1\nzero-write-denied\nurandom-denied\nnull-ok\n', r.stderr);
});

test('the kernel verifier accepts the program CgroupV2 builds (config rules + runc\'s default list)', { skip: !isRoot() && 'needs root' }, () => {
  const fd = loadDeviceProgram(CgroupV2.deviceProgram([
    { allow: false, access: 'rwm' }, { allow: true, type: 'c', major: 10, minor: 229, access: 'rw' }, { allow: false, type: 'b', access: 'w' },
  ]));
  assert.ok(fd > 2);
  fs.closeSync(fd);
});
