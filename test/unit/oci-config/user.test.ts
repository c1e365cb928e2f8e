import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { errors } from '../../../src/common/errors';
import { checkRunAsGroupHasUser, parseGroup, parsePasswd, readAccountDb, resolveUser } from '../../../src/runtime/oci-config/user';
import { readRootfsFile, resolveInRoot } from '../../../src/runtime/oci-config/rootfs-file';
import { buildContainerSpec } from '../../../src/runtime/oci-config/build';
import { GROUP, PASSWD, containerInput, makeRootfs } from './fixtures';

const cleanup: string[] = [];
after(() => { for (const d of cleanup) fs.rmSync(d, { recursive: true, force: true }); });
const rootfs = (files: Parameters<typeof makeRootfs>[0]) => { const r = makeRootfs(files); cleanup.push(r); return r; };

test('parsePasswd skips comments and malformed lines', () => {
  const entries = parsePasswd('# comment\nroot:x:0:0:root:/root:/bin/sh\nbroken:x:abc:0::/:/bin/sh\nshort:x:1\n\n  u:x:5:6:g:/h:/s  \n:x:7:7::/:/bin/sh\n');
  assert.deepEqual(entries, [
    { name: 'root', uid: 0, gid: 0, home: '/root', shell: '/bin/sh' },
    { name: 'u', uid: 5, gid: 6, home: '/h', shell: '/s' },
  ]);
});

test('parseGroup reads members', () => {
  assert.deepEqual(parseGroup('audio:x:29:alice, bob\nempty:x:5:\nbad:x:zz:a\n'), [
    { name: 'audio', gid: 29, members: ['alice', 'bob'] },
    { name: 'empty', gid: 5, members: [] },
  ]);
});

const db = { passwd: parsePasswd(PASSWD), group: parseGroup(GROUP) };
const i64 = (v: number) => ({ value: String(v) });
type Sc = Parameters<typeof resolveUser>[0];
const sc = (o: Partial<NonNullable<Sc>>): Sc => ({
  runAsUser: null, runAsUsername: '', runAsGroup: null, supplementalGroups: [], supplementalGroupsPolicy: 'Merge', ...o,
});

const USER_CASES: { name: string; sc: Sc; image?: string; want: { uid: number; gid: number; groups: number[]; home: string; username?: string } }[] = [
  { name: 'nothing set: root', sc: null, want: { uid: 0, gid: 0, groups: [0], home: '/root', username: 'root' } },
  { name: 'image uid known', sc: null, image: '1000', want: { uid: 1000, gid: 1000, groups: [1000, 100, 29], home: '/home/alice', username: 'alice' } },
  { name: 'image uid unknown', sc: null, image: '4242', want: { uid: 4242, gid: 0, groups: [0], home: '/' } },
  { name: 'image name', sc: null, image: 'bob', want: { uid: 1001, gid: 100, groups: [100, 29, 44], home: '/home/bob', username: 'bob' } },
  { name: 'image uid:gid', sc: null, image: '1000:44', want: { uid: 1000, gid: 44, groups: [44, 100, 29], home: '/home/alice', username: 'alice' } },
  { name: 'image name:group', sc: null, image: 'alice:video', want: { uid: 1000, gid: 44, groups: [44, 100, 29], home: '/home/alice', username: 'alice' } },
  { name: 'image unknown uid:gid', sc: null, image: '5000:5000', want: { uid: 5000, gid: 5000, groups: [5000], home: '/' } },
  { name: 'image user with empty group', sc: null, image: 'www:', want: { uid: 33, gid: 33, groups: [33], home: '/var/www', username: 'www' } },
  { name: 'RunAsUser beats image user', sc: sc({ runAsUser: i64(33) }), image: 'alice', want: { uid: 33, gid: 33, groups: [33], home: '/var/www', username: 'www' } },
  { name: 'RunAsUser 0 is honoured', sc: sc({ runAsUser: i64(0) }), image: 'alice', want: { uid: 0, gid: 0, groups: [0], home: '/root', username: 'root' } },
  { name: 'RunAsUser beats image uid:gid group too', sc: sc({ runAsUser: i64(1001) }), image: '1000:44', want: { uid: 1001, gid: 100, groups: [100, 29, 44], home: '/home/bob', username: 'bob' } },
  { name: 'RunAsUsername', sc: sc({ runAsUsername: 'alice' }), image: 'bob', want: { uid: 1000, gid: 1000, groups: [1000, 100, 29], home: '/home/alice', username: 'alice' } },
  { name: 'RunAsGroup overrides', sc: sc({ runAsUser: i64(1000), runAsGroup: i64(3000) }), want: { uid: 1000, gid: 3000, groups: [3000, 100, 29], home: '/home/alice', username: 'alice' } },
  { name: 'RunAsGroup with RunAsUsername, over the image\'s group', sc: sc({ runAsUsername: 'alice', runAsGroup: i64(7) }), image: 'alice:video', want: { uid: 1000, gid: 7, groups: [7, 100, 29], home: '/home/alice', username: 'alice' } },
  { name: 'supplemental groups merged', sc: sc({ runAsUser: i64(1000), supplementalGroups: ['2000', '29'] }), want: { uid: 1000, gid: 1000, groups: [1000, 100, 29, 2000], home: '/home/alice', username: 'alice' } },
  { name: 'Strict ignores /etc/group', sc: sc({ runAsUser: i64(1000), supplementalGroups: ['2000'], supplementalGroupsPolicy: 'Strict' }), want: { uid: 1000, gid: 1000, groups: [1000, 2000], home: '/home/alice', username: 'alice' } },
  { name: 'unknown uid with supplemental', sc: sc({ runAsUser: i64(9999), runAsGroup: i64(9999), supplementalGroups: ['1'] }), want: { uid: 9999, gid: 9999, groups: [9999, 1], home: '/' } },
];

for (const c of USER_CASES) {
  test(`user: ${c.name}`, () => {
    const u = resolveUser(c.sc, c.image, db);
    assert.deepEqual({ uid: u.uid, gid: u.gid, groups: u.additionalGids, home: u.home, username: u.username },
      { username: undefined, ...c.want });
  });
}

test('user: unknown names are INVALID_ARGUMENT naming the field', () => {
  const check = (fn: () => unknown, field: RegExp) => assert.throws(fn, (err: unknown) => {
    assert.ok(errors.invalidField.is(err));
    assert.match(err.message, field);
    return true;
  });
  check(() => resolveUser(sc({ runAsUsername: 'mallory' }), undefined, db), /^config\.linux\.securityContext\.runAsUsername: user "mallory" not found/);
  check(() => resolveUser(null, 'mallory', db), /^image\.config\.User: user "mallory"/);
  check(() => resolveUser(null, 'alice:nogroupnamed', db), /^image\.config\.User: group "nogroupnamed"/);
  check(() => resolveUser(sc({ runAsUser: i64(-1) }), undefined, db), /runAsUser/);
  check(() => resolveUser(sc({ runAsUser: { value: '4294967295' } }), undefined, db), /runAsUser/);
  check(() => resolveUser(sc({ supplementalGroups: ['x'] }), undefined, db), /supplementalGroups\[0\]/);
});

test('user: RunAsGroup without RunAsUser or RunAsUsername is INVALID_ARGUMENT, even when the image names a user', () => {
  for (const image of [undefined, 'alice', '1000:44']) {
    assert.throws(() => resolveUser(sc({ runAsGroup: i64(1002) }), image, db), (err: unknown) => {
      assert.ok(errors.invalidField.is(err), String(err));
      assert.equal(err.kind, 'invalid-argument');
      assert.match(err.message, /^config\.linux\.securityContext\.runAsGroup: set without runAsUser or runAsUsername/);
      return true;
    });
  }
  // The pod's own context (no username field) is refused the same way, under its own path.
  assert.throws(() => checkRunAsGroupHasUser({ runAsUser: null, runAsGroup: i64(5) }, 'config.linux.securityContext'), /^CradleError: config\.linux\.securityContext\.runAsGroup: /);
  assert.doesNotThrow(() => checkRunAsGroupHasUser({ runAsUser: i64(0), runAsGroup: i64(5) }), 'RunAsUser 0 is a user');
  assert.doesNotThrow(() => checkRunAsGroupHasUser(null));
});

test('user: image without /etc/passwd works for numeric users only', () => {
  const empty = { passwd: [], group: [] };
  assert.deepEqual(resolveUser(null, '65535:65535', empty), { uid: 65535, gid: 65535, additionalGids: [65535], home: '/' });
  assert.throws(() => resolveUser(null, 'nobody', empty), /not found/);
});

test('rootfs reading: symlinked /etc/passwd pointing outside the rootfs is resolved inside it', () => {
  // A host file the image must never see.
  const outside = fs.mkdtempSync(path.join(os.tmpdir(), 'cradle-test-spec-outside-'));
  cleanup.push(outside);
  fs.writeFileSync(path.join(outside, 'passwd'), 'evil:x:0:0::/evil:/bin/sh\n');
  const relUp = '../'.repeat(30) + outside.slice(1) + '/passwd';
  const r1 = rootfs({ 'etc/passwd': { symlink: path.join(outside, 'passwd') }, 'etc/group': GROUP });
  const r2 = rootfs({ 'etc/passwd': { symlink: relUp } });
  const r3 = rootfs({ etc: { symlink: outside } });
  for (const r of [r1, r2, r3]) {
    assert.equal(readRootfsFile(r, '/etc/passwd'), null, `read outside via ${r}`);
    assert.deepEqual(readAccountDb(r).passwd, []);
    assert.ok(resolveInRoot(r, '/etc/passwd').startsWith(r + '/'));
  }
  // The same absolute target, re-rooted, exists inside the rootfs: that copy is read.
  const r4 = rootfs({ 'etc/passwd': { symlink: '/data/passwd' }, 'data/passwd': 'inner:x:7:7::/in:/bin/sh\n' });
  assert.equal(readAccountDb(r4).passwd[0]!.name, 'inner');
  const r5 = rootfs({ 'etc/passwd': { symlink: '../../../../data/passwd' }, 'data/passwd': 'inner2:x:8:8::/:/bin/sh\n' });
  assert.equal(readAccountDb(r5).passwd[0]!.name, 'inner2');
});

test('rootfs reading: symlink loops, directories and fifos are not read', () => {
  const r = rootfs({ 'etc/passwd': { symlink: '/etc/passwd2' }, 'etc/passwd2': { symlink: '/etc/passwd' }, 'etc/group/x': 'dir' });
  assert.equal(readRootfsFile(r, '/etc/passwd'), null);
  assert.equal(readRootfsFile(r, '/etc/group'), null);
  const fifo = rootfs({});
  fs.mkdirSync(path.join(fifo, 'etc'));
  try {
    require('node:child_process').execFileSync('mkfifo', [path.join(fifo, 'etc', 'passwd')]);
    assert.equal(readRootfsFile(fifo, '/etc/passwd'), null);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err; // no mkfifo binary: skip that part
  }
});

test('full spec: user and groups from the rootfs land in process.user', () => {
  const r = rootfs({ 'etc/passwd': PASSWD, 'etc/group': GROUP });
  const { spec, user } = buildContainerSpec(containerInput({
    rootfs: r,
    image: { User: 'alice', Cmd: ['/bin/id'] },
    config: { linux: { securityContext: { supplementalGroups: ['5000'] } } },
  }));
  assert.deepEqual(spec.process.user, { uid: 1000, gid: 1000, additionalGids: [1000, 100, 29, 5000] });
  assert.equal(user.username, 'alice');
  assert.ok(spec.process.env.includes('HOME=/home/alice'));
});
