// Pure pieces of the OCI runtime: config validation, mount options, in-root path
// resolution, seccomp translation, CLI value parsing, and the koffi bindings.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { validateSpec } from '../../../src/oci-runtime/spec';
import type { OciSeccompOperator } from '../../../src/common/oci-spec';
import { parseMountOptions, rootfsPropagationFlag } from '../../../src/oci-runtime/mount-options';
import { secureJoin, isWithin } from '../../../src/common/secure-join';
import { actionValue, buildSeccomp } from '../../../src/oci-runtime/seccomp-filter';
import { parseSignal } from '../../../src/oci-runtime/commands';
import { parseSize, resourcesFromFlags } from '../../../src/oci-runtime/update-flags';
import { deriveStatus, ociState, validateId, type SavedState } from '../../../src/oci-runtime/state';
import { capabilityMask } from '../../../src/sys/capabilities';
import { mountContaining, propagationOf } from '../../../src/sys/mountinfo';
import * as c from '../../../src/sys/constants';
import * as sys from '../../../src/sys/libc';
import { SyscallError } from '../../../src/sys/errno';
import { defaultSpec } from '../../helpers/rootfs';

test('config validation names the offending key', () => {
  const good = defaultSpec(['sh'], '/x');
  assert.doesNotThrow(() => validateSpec(JSON.parse(JSON.stringify(good))));
  const bad = (mutate: (s: Record<string, any>) => void): unknown => { // eslint-disable-line @typescript-eslint/no-explicit-any
    const s = JSON.parse(JSON.stringify(good)) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
    mutate(s);
    return s;
  };
  assert.throws(() => validateSpec([]), /\(root\): must be a JSON object/);
  assert.throws(() => validateSpec(bad((s) => { s.ociVersion = '2.0.0'; })), /ociVersion: unsupported version/);
  assert.throws(() => validateSpec(bad((s) => { delete s.root; })), /root\.path: is required/);
  assert.throws(() => validateSpec(bad((s) => { s.process.cwd = 'rel'; })), /process\.cwd: must be an absolute path/);
  assert.throws(() => validateSpec(bad((s) => { s.process.user = { uid: 'x' }; })), /process\.user/);
  assert.throws(() => validateSpec(bad((s) => { s.process.capabilities.effective = ['CAP_NOPE']; })), /process\.capabilities\.effective: unknown capability "CAP_NOPE"/);
  assert.throws(() => validateSpec(bad((s) => { s.mounts[0].destination = 'proc'; })), /mounts\[0\]\.destination: must be absolute/);
  assert.throws(() => validateSpec(bad((s) => { s.linux.namespaces.push({ type: 'pid' }); })), /listed twice/);
  assert.throws(() => validateSpec(bad((s) => { s.linux.namespaces.push({ type: 'bogus' }); })), /unknown namespace type "bogus"/);
  assert.throws(() => validateSpec(bad((s) => { s.linux.namespaces.push({ type: 'user' }); })), /joins a user namespace by path only/);
  assert.throws(() => validateSpec(bad((s) => { s.linux.uidMappings = [{ containerID: 0, hostID: 1000, size: 1 }]; })), /linux\.uidMappings: mappings need a user namespace/);
  assert.throws(() => validateSpec(bad((s) => { s.linux.namespaces.push({ type: 'user', path: '/run/ns/user/x' }); s.linux.uidMappings = [{ containerID: 0, hostID: -1, size: 1 }]; })),
    /linux\.uidMappings\[0\]: needs containerID, hostID and size/);
  assert.throws(() => validateSpec(bad((s) => { s.mounts[0].uidMappings = [{ containerID: 0, hostID: 1, size: 1 }]; })), /mounts\[0\]\.uidMappings: uidMappings and gidMappings go together/);
  assert.doesNotThrow(() => validateSpec(bad((s) => {
    s.linux.namespaces.push({ type: 'user', path: '/run/ns/user/x' });
    s.linux.uidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
    s.linux.gidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
    s.mounts[0].uidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
    s.mounts[0].gidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
  })), 'a joined user namespace with its maps, and an idmapped mount');
  assert.throws(() => validateSpec(bad((s) => { s.linux.seccomp.listenerPath = '/x'; })), /SCMP_ACT_NOTIFY/);
});

test('mount options: flags, cleared flags, propagation, data, bind', () => {
  const o = parseMountOptions(['rbind', 'ro', 'nosuid', 'rslave', 'mode=755', 'size=1m', 'tmpcopyup']);
  assert.equal(o.bind, true);
  assert.equal(o.recursive, true);
  assert.equal(o.flags, c.MS_BIND | c.MS_REC | c.MS_RDONLY | c.MS_NOSUID);
  assert.deepEqual(o.propagation, [c.MS_SLAVE | c.MS_REC]);
  assert.deepEqual(o.data, ['mode=755', 'size=1m']);
  const rw = parseMountOptions(['ro', 'rw', 'exec']);
  assert.equal(rw.flags & c.MS_RDONLY, 0);
  assert.equal(rw.clear, c.MS_RDONLY | c.MS_NOEXEC);
  assert.throws(() => parseMountOptions(['idmap']), /user namespaces/);
  assert.equal(rootfsPropagationFlag(undefined), c.MS_SLAVE | c.MS_REC);
  assert.equal(rootfsPropagationFlag('rprivate'), c.MS_PRIVATE | c.MS_REC);
  assert.throws(() => rootfsPropagationFlag('sideways'), /unknown value/);
});

test('mountinfo: the mount holding a path is the top one of the longest mount point', () => {
  const info = [
    '22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw',
    '40 22 0:40 / /var/lib/c/rootfs rw shared:9 - overlay overlay rw',
    '41 40 8:1 /var/lib/c/rootfs /var/lib/c/rootfs rw - ext4 /dev/sda1 rw',
  ].join('\n');
  const holder = (p: string) => { const e = mountContaining(info, p); return e && `${e.mountPoint} ${propagationOf(e)}`; };
  assert.equal(holder('/var/lib/c/rootfs'), '/var/lib/c/rootfs private', 'a bind stacked on the overlay hides it');
  assert.equal(holder('/var/lib/c/rootfs/etc'), '/var/lib/c/rootfs private');
  assert.equal(holder('/var/lib/c/rootfs2'), '/ shared', 'a mount point is a whole path component');
  assert.equal(mountContaining('', '/x'), null);
});

test('secureJoin resolves symlinks as if the rootfs were /', (t) => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'cradle-unit-sj-'));
  t.after(() => fs.rmSync(root, { recursive: true, force: true }));
  fs.mkdirSync(path.join(root, 'etc'));
  fs.symlinkSync('/etc', path.join(root, 'abs'));
  fs.symlinkSync('../../../../etc/passwd', path.join(root, 'up'));
  fs.symlinkSync('loop2', path.join(root, 'loop1'));
  fs.symlinkSync('loop1', path.join(root, 'loop2'));
  fs.symlinkSync('etc/sub', path.join(root, 'rel'));
  assert.equal(secureJoin(root, '/abs/x'), path.join(root, 'etc/x'));
  assert.equal(secureJoin(root, '/up'), path.join(root, 'etc/passwd'));
  assert.equal(secureJoin(root, '/../../x/./y/..'), path.join(root, 'x'));
  assert.equal(secureJoin(root, '/rel/z'), path.join(root, 'etc/sub/z'));
  assert.throws(() => secureJoin(root, '/loop1'), /too many levels/);
  assert.equal(isWithin(root, path.join(root, 'a')), true);
  assert.equal(isWithin(root, root), true);
  assert.equal(isWithin(root, path.dirname(root)), false);
  assert.equal(isWithin('/a/b', '/a/bc'), false);
});

test('seccomp: action values, and a filter with arches and argument rules builds', () => {
  assert.equal(actionValue('SCMP_ACT_ERRNO', 13, 'x'), 0x0005000d);
  assert.equal(actionValue('SCMP_ACT_ERRNO', undefined, 'x'), 0x00050001, 'EPERM by default');
  assert.equal(actionValue('SCMP_ACT_KILL_PROCESS', undefined, 'x'), 0x80000000);
  assert.throws(() => actionValue('SCMP_ACT_NOTIFY', undefined, 'where'), /where: SCMP_ACT_NOTIFY is not supported/);
  assert.throws(() => actionValue('SCMP_ACT_DANCE', undefined, 'where'), /unknown seccomp action/);
  const filter = buildSeccomp({
    defaultAction: 'SCMP_ACT_ERRNO', defaultErrnoRet: 38, architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86'],
    syscalls: [
      { names: ['read', 'write', 'no_such_syscall_xyz'], action: 'SCMP_ACT_ALLOW' },
      { names: ['personality'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 0, op: 'SCMP_CMP_EQ' }, { index: 0, value: 8, op: 'SCMP_CMP_EQ' }] },
      { names: ['clone'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 0x7e020000, valueTwo: 0, op: 'SCMP_CMP_MASKED_EQ' }] },
      { names: ['getpid'], action: 'SCMP_ACT_ERRNO', errnoRet: 38 },
    ],
  });
  assert.ok(filter);
  assert.throws(() => buildSeccomp({ defaultAction: 'SCMP_ACT_ALLOW', architectures: ['SCMP_ARCH_VAX'] }), /unknown seccomp architecture/);
  // validateSpec leaves operators to buildSeccomp: a config may hold any string there.
  assert.throws(() => buildSeccomp({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['read'], action: 'SCMP_ACT_ERRNO', args: [{ index: 0, value: 1, op: 'SCMP_CMP_ABOUT' as string as OciSeccompOperator }] }] }), /unknown operator/);
});

test('CLI values: signals, sizes, update flags, ids', () => {
  assert.equal(parseSignal(undefined), 15);
  assert.equal(parseSignal('KILL'), 9);
  assert.equal(parseSignal('SIGUSR1'), 10);
  assert.equal(parseSignal('9'), 9);
  assert.throws(() => parseSignal('SIGNOPE'), /unknown signal/);
  assert.equal(parseSize('512m'), 512 * 1024 * 1024);
  assert.equal(parseSize('-1'), -1);
  assert.equal(parseSize('lots'), undefined);
  const r = resourcesFromFlags(new Map<string, string | true>([['memory', '64m'], ['pids-limit', '10'], ['cpu-quota', '20000'], ['cpuset-cpus', '0']]));
  assert.deepEqual(r, { memory: { limit: 64 << 20 }, cpu: { quota: 20000, cpus: '0' }, pids: { limit: 10 } });
  assert.throws(() => validateId('../x'), /invalid container id/);
  assert.doesNotThrow(() => validateId('k8s_pod-1.abc+x'));
});

test('status derivation follows runc: a dead or reused pid is stopped', () => {
  const saved: SavedState = {
    id: 'x', pid: process.pid, startTime: 'wrong', bundle: '/b', rootfs: '/b/rootfs', created: 'now', annotations: { a: 'b' },
    cgroupVersion: 1, cgroupsPath: '', cgroupPaths: {}, namespacePaths: {},
  };
  assert.equal(deriveStatus('/nonexistent', saved, () => false), 'stopped', 'same pid, other start time');
  assert.deepEqual(ociState(saved, 'stopped').pid, 0);
  assert.deepEqual(ociState(saved, 'running').annotations, { a: 'b' });
});

test('trap 14: koffi loads; libc calls report the syscall name and errno', () => {
  assert.throws(() => sys.umount2('/nonexistent-cradle-path', 0), (err: unknown) =>
    err instanceof SyscallError && err.syscall === 'umount2' && (err.code === 'ENOENT' || err.code === 'EPERM') && /umount2\(\/nonexistent-cradle-path\)/.test(err.message));
  assert.throws(() => sys.setns(-1, 0), (err: unknown) => err instanceof SyscallError && err.code === 'EBADF');
  assert.equal(typeof sys.gettid(), 'number');
  assert.equal(capabilityMask(['CAP_KILL', 'CAP_NET_BIND_SERVICE', 'CAP_AUDIT_WRITE']), 0x20000420n);
  assert.equal(c.makedev(1, 3), 0x103n);
  assert.equal(c.makedev(136, 300), 0x10882cn, 'glibc layout for minors above 255');
});
