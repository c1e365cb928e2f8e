// Regressions from runc's security history, checked on the real kernel.
import { test, before } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { REPO, TestContainer, isRoot, leftoverCgroups, sweepStale } from './harness';

const skip = !isRoot() && 'needs root';
before(() => { if (isRoot()) sweepStale(); });

test('a symlinked mount destination is resolved inside the rootfs, never on the host', { skip }, async (t) => {
  const ctr = new TestContainer('cradle', 'symlink', ['true']);
  t.after(() => ctr.cleanup());
  const source = path.join(ctr.dir, 'source');
  fs.mkdirSync(source);
  fs.writeFileSync(path.join(source, 'marker'), 'inside-the-container\n');
  const hostTarget = path.join(ctr.dir, 'host-target');
  fs.mkdirSync(hostTarget);
  ctr.spec.process!.args = ['sh', '-c', `cat /data/marker; grep -c " /escape-target " /proc/self/mountinfo; grep -c " ${hostTarget} " /proc/self/mountinfo`];
  // An image whose /data points at an absolute path: followed on the host, the bind
  // would land on hostTarget; resolved in the rootfs, on rootfs/<hostTarget>.
  fs.symlinkSync(hostTarget, path.join(ctr.bundle, 'rootfs', 'data'));
  ctr.spec.mounts!.push({ destination: '/data', type: 'bind', source, options: ['rbind', 'ro'] });
  // And a ../-escape: clamped at the root, becomes /escape-target.
  fs.symlinkSync('../../../../../../../../escape-target', path.join(ctr.bundle, 'rootfs', 'esc'));
  ctr.spec.mounts!.push({ destination: '/esc', type: 'tmpfs', source: 'tmpfs', options: ['size=1m'] });
  const { stdout, stderr } = await ctr.run();
  assert.equal(stderr, '');
  // The bind is visible at the clamped path inside the container, so it is in the rootfs.
  assert.equal(stdout, 'inside-the-container\n1\n1\n');
  assert.deepEqual(fs.readdirSync(hostTarget), [], 'the host directory was not touched');
});

test('procfs on a symlinked /proc is refused (masked paths would miss it)', { skip }, (t) => {
  const ctr = new TestContainer('cradle', 'procsym', ['true']);
  t.after(() => ctr.cleanup());
  fs.rmdirSync(path.join(ctr.bundle, 'rootfs', 'proc'));
  fs.symlinkSync('tmp', path.join(ctr.bundle, 'rootfs', 'proc'));
  ctr.writeSpec();
  const r = ctr.create();
  assert.equal(r.status, 1);
  assert.match(r.stderr, /\/proc: proc destination must not be a symlink/);
  assert.deepEqual(leftoverCgroups(ctr.cgroupsPath), []);
});

test('mounts over /proc files are refused (except the lxcfs set)', { skip }, (t) => {
  const ctr = new TestContainer('cradle', 'procmnt', ['true']);
  t.after(() => ctr.cleanup());
  ctr.spec.mounts!.push({ destination: '/proc/sysrq-trigger', type: 'bind', source: '/dev/null', options: ['bind'] });
  ctr.writeSpec();
  const r = ctr.create();
  assert.equal(r.status, 1);
  assert.match(r.stderr, /mounting over \/proc is not allowed/);
});

test('CVE-2019-5736: the init\'s binary (the host node) cannot be opened for writing', { skip }, (t) => {
  const ctr = new TestContainer('cradle', 'exe', ['true']);
  t.after(() => ctr.cleanup());
  ctr.launcher = 'node'; // the Node init; the native one is checked below
  ctr.writeSpec();
  assert.equal(ctr.create().status, 0);
  const pid = ctr.state()!.pid;
  assert.match(fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8'), /node\0.*\0__init\0$/, 'the created container\'s PID 1 is the Node init');
  const fd = fs.openSync(`/proc/${pid}/exe`, 'r');
  const magic = Buffer.alloc(4);
  fs.readSync(fd, magic, 0, 4, 0);
  fs.closeSync(fd);
  assert.equal(magic.toString('latin1'), '\x7fELF');
  // The exploit keeps an O_PATH handle on /proc/<pid>/exe and reopens it for writing
  // once the process is gone. Through the read-only bind the init runs from, the
  // reopen fails with EROFS. O_TRUNC makes the kernel check the mount before the
  // busy-text check (ETXTBSY: this test runner runs the same node binary), so the
  // assertion tells the two apart without ever truncating anything.
  const handle = fs.openSync(`/proc/${pid}/exe`, 0o10000000 /* O_PATH */);
  try {
    assert.equal(ctr.cli(['delete', '--force', ctr.id]).status, 0);
    assert.throws(() => fs.openSync(`/proc/self/fd/${handle}`, fs.constants.O_WRONLY | fs.constants.O_TRUNC),
      (err: NodeJS.ErrnoException) => err.code === 'EROFS');
  } finally {
    fs.closeSync(handle);
  }
});

test('CVE-2019-5736: the native init\'s binary (the launcher) cannot be opened for writing', { skip }, (t) => {
  const ctr = new TestContainer('cradle', 'nexe', ['true']);
  t.after(() => ctr.cleanup());
  ctr.launcher = 'native';
  ctr.writeSpec();
  assert.equal(ctr.planned, true);
  assert.equal(ctr.create().status, 0);
  const pid = ctr.state()!.pid;
  const exe = fs.statSync(`/proc/${pid}/exe`);
  const launcher = fs.statSync(path.join(REPO, 'dist/bin/cradle-runtime'));
  assert.deepEqual([exe.dev, exe.ino], [launcher.dev, launcher.ino], 'PID 1 runs the launcher binary');
  assert.match(fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8'), /^cradle-runtime\0__native-init\0/);
  // As above: the O_PATH handle reopened for writing after the init is gone hits the read-only bind.
  const handle = fs.openSync(`/proc/${pid}/exe`, 0o10000000 /* O_PATH */);
  try {
    assert.equal(ctr.cli(['delete', '--force', ctr.id]).status, 0);
    assert.throws(() => fs.openSync(`/proc/self/fd/${handle}`, fs.constants.O_WRONLY | fs.constants.O_TRUNC),
      (err: NodeJS.ErrnoException) => err.code === 'EROFS');
  } finally {
    fs.closeSync(handle);
  }
});

test('CVE-2024-21626: a cwd through a leaked host fd is refused', { skip }, (t) => {
  const ctr = new TestContainer('cradle', 'cwdleak', ['pwd']);
  t.after(() => ctr.cleanup());
  ctr.spec.process!.cwd = '/proc/self/fd/20';
  ctr.writeSpec();
  const r = ctr.create();
  assert.equal(r.status, 1);
  assert.match(r.stderr, /(outside the container's root|process\.cwd)/);
  assert.deepEqual(leftoverCgroups(ctr.cgroupsPath), []);
});
