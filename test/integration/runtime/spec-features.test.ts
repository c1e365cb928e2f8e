// Config features beyond the default bundle: hooks, sysctl, domainname, devices,
// bind options, --no-pivot, oomScoreAdj clamping, rlimit errors.
import { test, before } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { TestContainer, isRoot, sweepStale } from './harness';

const skip = !isRoot() && 'needs root';
before(() => { if (isRoot()) sweepStale(); });

test('hooks run in order with the state on stdin; a failing prestart hook fails create', { skip }, async (t) => {
  const ctr = new TestContainer('cradle', 'hooks', ['true']);
  t.after(() => ctr.cleanup());
  const record = path.join(ctr.dir, 'hooks.log');
  const hook = (name: string) => ({ path: '/bin/sh', args: ['sh', '-c', `read state; echo "${name} $(echo "$state" | grep -o '"status":"[a-z]*"')" >> ${record}`] });
  ctr.spec.hooks = {
    prestart: [hook('prestart')], createRuntime: [hook('createRuntime')], createContainer: [hook('createContainer')],
    poststart: [hook('poststart')], poststop: [hook('poststop')],
  };
  await ctr.run();
  assert.equal(ctr.cli(['delete', ctr.id]).status, 0);
  assert.equal(fs.readFileSync(record, 'utf8'),
    'prestart "status":"creating"\ncreateRuntime "status":"creating"\ncreateContainer "status":"creating"\npoststart "status":"running"\npoststop "status":"stopped"\n');

  const bad = new TestContainer('cradle', 'badhook', ['true']);
  t.after(() => bad.cleanup());
  bad.spec.hooks = { prestart: [{ path: '/bin/sh', args: ['sh', '-c', 'echo nope >&2; exit 3'] }] };
  bad.writeSpec();
  const r = bad.create();
  assert.equal(r.status, 1);
  assert.match(r.stderr, /hooks\.prestart\[0\] \/bin\/sh: exit status 3: nope/);
  assert.equal(bad.state(), undefined);
});

test('sysctl, domainname, extra devices, read-only binds', { skip }, async (t) => {
  const ctr = new TestContainer('cradle', 'feat', ['sh', '-c',
    'cat /proc/sys/net/ipv4/ip_forward; cat /proc/sys/kernel/domainname; stat -c "%F %t:%T %a" /dev/fuse; cat /data/f; (echo x > /data/g) 2>/dev/null && echo rw || echo ro']);
  t.after(() => ctr.cleanup());
  const src = path.join(ctr.dir, 'src');
  fs.mkdirSync(src);
  fs.writeFileSync(path.join(src, 'f'), 'from-host\n');
  ctr.spec.linux!.sysctl = { 'net.ipv4.ip_forward': '1' };
  ctr.spec.domainname = 'example.test';
  ctr.spec.linux!.devices = [{ type: 'c', path: '/dev/fuse', major: 10, minor: 229, fileMode: 0o640 }];
  ctr.spec.mounts!.push({ destination: '/data', type: 'bind', source: src, options: ['rbind', 'ro', 'nosuid'] });
  const { stdout, stderr } = await ctr.run();
  assert.equal(stderr, '');
  assert.equal(stdout, '1\nexample.test\ncharacter special file a:e5 640\nfrom-host\nro\n');
});

test('an rro bind is read-only down to its submounts; a plain ro bind only at the top', { skip }, async (t) => {
  const ctr = new TestContainer('cradle', 'rro', ['sh', '-c',
    'for f in /rro/sub/x /ro/sub/x /ro/y; do (echo x > $f) 2>/dev/null && echo rw || echo ro; done']);
  const sub = path.join(ctr.dir, 'vol', 'sub');
  t.after(() => {
    spawnSync('umount', ['-l', sub]);
    ctr.cleanup();
  });
  fs.mkdirSync(sub, { recursive: true });
  assert.equal(spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'cradle-rro-test', sub]).status, 0);
  ctr.spec.mounts!.push({ destination: '/rro', type: 'bind', source: path.dirname(sub), options: ['rbind', 'rprivate', 'ro', 'rro'] });
  ctr.spec.mounts!.push({ destination: '/ro', type: 'bind', source: path.dirname(sub), options: ['rbind', 'rprivate', 'ro'] });
  const { stdout, stderr } = await ctr.run();
  assert.equal(stderr, '');
  assert.equal(stdout, 'ro\nrw\nro\n');
});

test('--no-pivot runs the container with MS_MOVE + chroot', { skip }, async (t) => {
  const ctr = new TestContainer('cradle', 'nopivot', ['sh', '-c', 'cat /proc/1/cmdline | tr "\\0" " "; echo; ls /']);
  t.after(() => ctr.cleanup());
  ctr.writeSpec();
  assert.equal(ctr.create(['--no-pivot']).status, 0);
  assert.equal(ctr.cli(['start', ctr.id]).status, 0);
  await ctr.waitStopped();
  assert.match(fs.readFileSync(ctr.outFile, 'utf8'), /^sh -c .*\nbin\n/);
});

test('oomScoreAdj: raised as asked, lowering below ours is clamped (no CAP_SYS_RESOURCE here)', { skip }, async (t) => {
  const own = Number(fs.readFileSync('/proc/self/oom_score_adj', 'utf8'));
  const hasSysResource = (BigInt('0x' + /^CapEff:\s*(\w+)/m.exec(fs.readFileSync('/proc/self/status', 'utf8'))![1]) & (1n << 24n)) !== 0n;
  for (const [wanted, expected] of [[500, 500], [-500, hasSysResource ? -500 : own]] as const) {
    const ctr = new TestContainer('cradle', 'oomadj', ['cat', '/proc/self/oom_score_adj']);
    t.after(() => ctr.cleanup());
    ctr.spec.process!.oomScoreAdj = wanted;
    const { stdout } = await ctr.run();
    assert.equal(stdout.trim(), String(expected), `oomScoreAdj ${wanted}`);
  }
});

test('an rlimit above the hard limit we hold fails create with a clear error', { skip }, (t) => {
  const ctr = new TestContainer('cradle', 'rlimit', ['true']);
  t.after(() => ctr.cleanup());
  const hard = fs.readFileSync('/proc/self/limits', 'utf8').split('\n').find((l) => l.startsWith('Max open files'))!.trim().split(/\s+/)[4]!;
  const hasSysResource = (BigInt('0x' + /^CapEff:\s*(\w+)/m.exec(fs.readFileSync('/proc/self/status', 'utf8'))![1]) & (1n << 24n)) !== 0n;
  if (hasSysResource || hard === 'unlimited') {
    t.skip('this host grants CAP_SYS_RESOURCE or an unlimited nofile');
    return;
  }
  ctr.spec.process!.rlimits = [{ type: 'RLIMIT_NOFILE', soft: Number(hard) * 2, hard: Number(hard) * 2 }];
  ctr.writeSpec();
  const r = ctr.create();
  assert.equal(r.status, 1);
  assert.match(r.stderr, /process\.rlimits: RLIMIT_NOFILE .*CAP_SYS_RESOURCE/);
});
