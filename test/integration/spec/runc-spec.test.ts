// Proves the built specs are valid OCI that a real runtime runs as intended: a pause
// process and containers joining its namespaces run under Debian's runc on a
// busybox-static rootfs, and report from inside who they are.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { cleanChildEnv } from '../../../src/common/child-env';
import { buildContainerSpec, buildPauseSpec } from '../../../src/runtime/oci-config/build';
import type { OciSpec } from '../../../src/common/oci-spec';
import { detectCgroupFeatures, hostCapabilities, hostMinOomScoreAdj, realHostProbe } from '../../../src/runtime/oci-config/host-probe';
import { ALL_CAPABILITIES } from '../../../src/runtime/oci-config/capabilities';
import { containerInput, pauseInput, runtimeOptions, PASSWD, GROUP } from '../../unit/oci-config/fixtures';

const RUNC = '/usr/sbin/runc';
const BUSYBOX = '/bin/busybox';
const PREFIX = 'cradle-test-spec-int-';
// Per run (pid-suffixed) so a concurrent run elsewhere on this shared machine is left alone.
const RUN = `${PREFIX}${process.pid}-`;
const CGROUP_PARENT = `/${RUN}cg`;
const skip = process.getuid?.() !== 0 ? 'needs root' : !fs.existsSync(RUNC) ? 'runc not installed' : !fs.existsSync(BUSYBOX) ? 'busybox-static not installed' : false;

function runc(root: string, args: string[], timeout = 30_000) {
  return spawnSync(RUNC, ['--root', root, ...args], { env: cleanChildEnv(), encoding: 'utf8', timeout, stdio: ['ignore', 'pipe', 'pipe'] });
}

/** A detached container keeps its stdio: give it /dev/null, or we would wait for its pipes to close. */
function runcDetached(root: string, args: string[]) {
  const errFile = path.join(work, `runc-${Date.now()}.err`);
  const errFd = fs.openSync(errFile, 'w');
  try {
    const r = spawnSync(RUNC, ['--root', root, ...args], { env: cleanChildEnv(), timeout: 30_000, stdio: ['ignore', 'ignore', errFd] });
    return { status: r.status, stderr: fs.readFileSync(errFile, 'utf8') };
  } finally {
    fs.closeSync(errFd);
  }
}

/** The run a leftover belongs to is over: this one, or a dead process. */
function ownerGone(name: string): boolean {
  const pid = Number(/^cradle-test-spec-int-(\d+)-/.exec(name)?.[1]);
  if (!pid) return true;
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return false;
  } catch {
    return true;
  }
}

/** Deletes containers, state and cgroups left by this run or by killed earlier runs. */
function sweep(): void {
  for (const name of fs.readdirSync(os.tmpdir())) {
    if (!name.startsWith(PREFIX) || !ownerGone(name)) continue;
    const dir = path.join(os.tmpdir(), name);
    const root = path.join(dir, 'runc');
    if (fs.existsSync(root)) {
      const list = runc(root, ['list', '-q']);
      for (const id of list.stdout.split('\n').filter(Boolean)) runc(root, ['delete', '-f', id]);
    }
    fs.rmSync(dir, { recursive: true, force: true });
  }
  for (const controller of fs.readdirSync('/sys/fs/cgroup')) {
    const base = path.join('/sys/fs/cgroup', controller);
    let names: string[];
    try { names = fs.readdirSync(base); } catch { continue; }
    for (const name of names) {
      if (!name.startsWith(PREFIX) || !ownerGone(name)) continue;
      const parent = path.join(base, name);
      for (const child of fs.readdirSync(parent, { withFileTypes: true })) {
        if (child.isDirectory()) try { fs.rmdirSync(path.join(parent, child.name)); } catch { /* busy */ }
      }
      try { fs.rmdirSync(parent); } catch { /* not empty */ }
    }
  }
}

let work = '';
let rootfs = '';
let runcRoot = '';
let pausePid = 0;

/** What cradled would configure on this host: its own oom_score_adj floor and capability set. */
const cgroups = detectCgroupFeatures();
const hostRuntime = (over: Parameters<typeof runtimeOptions>[0] = {}) => runtimeOptions({
  cgroupVersion: cgroups.version,
  hugetlb: cgroups.hugetlb,
  swapAccounting: cgroups.swapAccounting,
  minOomScoreAdj: hostMinOomScoreAdj(),
  allCapabilities: hostCapabilities(ALL_CAPABILITIES),
  defaultUlimits: [{ type: 'RLIMIT_NOFILE', soft: 1024, hard: 4096 }],
  ...over,
});

function makeBusyboxRootfs(dir: string): void {
  for (const d of ['bin', 'etc', 'tmp', 'proc', 'sys', 'dev', 'root', 'home/alice']) fs.mkdirSync(path.join(dir, d), { recursive: true });
  fs.chmodSync(path.join(dir, 'tmp'), 0o1777);
  fs.copyFileSync(BUSYBOX, path.join(dir, 'bin', 'busybox'));
  fs.chmodSync(path.join(dir, 'bin', 'busybox'), 0o755);
  for (const applet of ['sh', 'id', 'cat', 'grep', 'hostname', 'sleep', 'mkdir', 'echo', 'ls']) {
    fs.linkSync(path.join(dir, 'bin', 'busybox'), path.join(dir, 'bin', applet));
  }
  fs.writeFileSync(path.join(dir, 'etc', 'passwd'), PASSWD);
  fs.writeFileSync(path.join(dir, 'etc', 'group'), GROUP);
}

function writeBundle(name: string, spec: OciSpec): string {
  const bundle = path.join(work, 'bundles', name);
  fs.mkdirSync(bundle, { recursive: true });
  fs.writeFileSync(path.join(bundle, 'config.json'), JSON.stringify(spec, null, 2));
  return bundle;
}

/** Runs a container in the foreground and returns its output. */
function runToCompletion(name: string, spec: OciSpec): { status: number | null; stdout: string; stderr: string } {
  const bundle = writeBundle(name, spec);
  try {
    const r = runc(runcRoot, ['run', '--bundle', bundle, name]);
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
  } finally {
    runc(runcRoot, ['delete', '-f', name]);
  }
}

before(() => {
  if (skip) return;
  sweep();
  work = fs.mkdtempSync(path.join(os.tmpdir(), RUN));
  rootfs = path.join(work, 'rootfs');
  runcRoot = path.join(work, 'runc');
  makeBusyboxRootfs(rootfs);
  fs.mkdirSync(path.join(work, 'shm'));
  fs.writeFileSync(path.join(work, 'hosts'), '127.0.0.1 localhost\n');
  fs.writeFileSync(path.join(work, 'resolv.conf'), 'nameserver 127.0.0.1\n');
  fs.writeFileSync(path.join(work, 'hostname'), 'cradle-test-pod\n');
  fs.mkdirSync(path.join(work, 'seccomp'));
  fs.writeFileSync(path.join(work, 'seccomp', 'no-mkdir.json'), JSON.stringify({
    defaultAction: 'SCMP_ACT_ALLOW',
    syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet: 13 }],
  }));

  // The pause process: new network, IPC and UTS namespaces, busybox sleep standing in for /pause.
  const pause = buildPauseSpec(pauseInput({
    rootfs,
    args: ['/bin/sleep', '3600'],
    namespaces: { network: 'new', ipc: 'new', uts: 'new', pid: 'new' },
    hostname: 'cradle-test-pod',
    shmPath: path.join(work, 'shm'),
    cgroupParent: CGROUP_PARENT,
    sysctls: { 'net.ipv4.ip_unprivileged_port_start': '80' },
    sandboxId: 'pause',
    runtime: hostRuntime(),
  }, { linux: { securityContext: { seccomp: { profileType: 'RuntimeDefault' } } } }));
  const bundle = writeBundle('pause', pause);
  const r = runcDetached(runcRoot, ['run', '--detach', '--bundle', bundle, 'pause']);
  assert.equal(r.status, 0, `runc run pause: ${r.stderr}`);
  const state = JSON.parse(runc(runcRoot, ['state', 'pause']).stdout) as { pid: number; status: string };
  assert.equal(state.status, 'running');
  pausePid = state.pid;
});

after(() => {
  if (skip) return;
  if (runcRoot) runc(runcRoot, ['delete', '-f', 'pause']);
  sweep();
});

function podContainer(name: string, config: Parameters<typeof containerInput>[0] = {}) {
  return buildContainerSpec({
    ...containerInput({
      rootfs,
      probe: realHostProbe,
      runtime: hostRuntime({ seccompProfileRoot: path.join(work, 'seccomp'), ...config.runtime }),
      sandbox: {
        id: 'pause',
        namespaces: {
          network: { path: `/proc/${pausePid}/ns/net` },
          ipc: { path: `/proc/${pausePid}/ns/ipc` },
          uts: { path: `/proc/${pausePid}/ns/uts` },
          pid: { path: `/proc/${pausePid}/ns/pid` },
        },
        hostname: 'cradle-test-pod',
        hostsPath: path.join(work, 'hosts'),
        resolvConfPath: path.join(work, 'resolv.conf'),
        hostnamePath: path.join(work, 'hostname'),
        shmPath: path.join(work, 'shm'),
        cgroupParent: CGROUP_PARENT,
        ...config.sandbox,
      },
      ...(config.sandboxConfig ? { sandboxConfig: config.sandboxConfig } : {}),
      ...(config.config ? { config: config.config } : {}),
      ...(config.image ? { image: config.image } : {}),
    }),
    container: { id: name, logPath: '', imageRef: 'sha256:test', imageVolumeRoot: path.join(work, 'volumes', name) },
  }).spec;
}

test('pause process holds the pod namespaces with its spec applied', { skip }, () => {
  const status = fs.readFileSync(`/proc/${pausePid}/status`, 'utf8');
  assert.match(status, /^Uid:\s+65535\s+65535\s+65535\s+65535$/m);
  assert.match(status, /^CapBnd:\s+0000000000000000$/m);
  assert.match(status, /^NoNewPrivs:\s+1$/m);
  assert.match(status, /^Seccomp:\s+2$/m);
  assert.equal(fs.readFileSync(`/proc/${pausePid}/oom_score_adj`, 'utf8').trim(), String(Math.max(-998, hostMinOomScoreAdj())));
  assert.notEqual(fs.readlinkSync(`/proc/${pausePid}/ns/net`), fs.readlinkSync('/proc/self/ns/net'));
  const shares = fs.readFileSync(`/sys/fs/cgroup/cpu${CGROUP_PARENT}/cradle-pause/cpu.shares`, 'utf8').trim();
  assert.equal(shares, '2');
});

test('container as a non-root image user: ids, caps, seccomp, hostname, limits, sysctl from inside', { skip }, () => {
  const spec = podContainer('user', {
    image: { User: 'alice', Entrypoint: ['/bin/sh', '-c'], Cmd: [
      'id; grep -E "^(Cap(Bnd|Eff)|NoNewPrivs|Seccomp):" /proc/self/status; hostname; cat /sys/fs/cgroup/memory/memory.limit_in_bytes; ' +
      'cat /proc/sys/net/ipv4/ip_unprivileged_port_start; cat /proc/self/oom_score_adj; echo cwd=$(pwd) home=$HOME; cat /etc/resolv.conf',
    ], WorkingDir: '/tmp', Env: ['PATH=/bin'] },
    config: {
      metadata: { name: 'user', attempt: 0 },
      linux: {
        // kubelet-style zero hugepage limits: must not break hosts without the hugetlb controller.
        resources: { memoryLimitInBytes: String(64 * 1024 * 1024), oomScoreAdj: '300', hugepageLimits: [{ pageSize: '2MB', limit: '0' }, { pageSize: '1GB', limit: '0' }] },
        securityContext: {
          supplementalGroups: ['5000'], noNewPrivs: true, namespaceOptions: { network: 'POD', ipc: 'POD', pid: 'CONTAINER' },
          seccomp: { profileType: 'RuntimeDefault' },
        },
      },
    },
  });
  const r = runToCompletion('user', spec);
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  assert.equal(lines[0], 'uid=1000(alice) gid=1000(alice) groups=29(audio),100(users),1000(alice),5000' /* kernel-sorted */);
  // cri-o's 9 default capabilities = 0x5fb in the bounding set; a non-root exec keeps none effective.
  assert.deepEqual(lines.slice(1, 5), ['CapEff:\t0000000000000000', 'CapBnd:\t00000000000005fb', 'NoNewPrivs:\t1', 'Seccomp:\t2']);
  assert.equal(lines[5], 'cradle-test-pod');
  assert.equal(lines[6], String(64 * 1024 * 1024));
  assert.equal(lines[7], '80', 'pod sysctl set by the pause spec is visible in the shared network namespace');
  assert.equal(lines[8], '300');
  assert.equal(lines[9], 'cwd=/tmp home=/home/alice');
  assert.equal(lines[10], 'nameserver 127.0.0.1');
});

test('root container: no profile named runs unconfined, RuntimeDefault blocks privileged syscalls, Localhost profile blocks mkdir', { skip }, () => {
  const unnamed = runToCompletion('rootunnamed', podContainer('rootunnamed', {
    config: { metadata: { name: 'u' }, command: ['/bin/sh', '-c', 'grep -E "^Seccomp:" /proc/self/status'] },
  }));
  assert.equal(unnamed.status, 0, unnamed.stderr);
  assert.match(unnamed.stdout, /^Seccomp:\t0$/m, 'the CRI\'s meaning of no profile: unconfined');
  const def = runToCompletion('rootdefault', podContainer('rootdefault', {
    config: {
      metadata: { name: 'r' },
      command: ['/bin/sh', '-c', 'grep -E "^(CapEff|Seccomp):" /proc/self/status; mkdir /tmp/ok && echo mkdir-ok; hostname evil; echo rc=$?'],
      linux: { securityContext: { seccomp: { profileType: 'RuntimeDefault' } } },
    },
  }));
  assert.equal(def.status, 0, def.stderr);
  assert.match(def.stdout, /^CapEff:\t00000000000005fb$/m);
  assert.match(def.stdout, /^Seccomp:\t2$/m);
  assert.match(def.stdout, /mkdir-ok/);
  assert.match(def.stdout, /rc=1/);
  const local = runToCompletion('rootlocal', podContainer('rootlocal', {
    config: {
      metadata: { name: 'l' },
      command: ['/bin/sh', '-c', 'mkdir /tmp/blocked; echo rc=$?'],
      linux: { securityContext: { seccomp: { profileType: 'Localhost', localhostRef: 'no-mkdir.json' } } },
    },
  }));
  assert.equal(local.status, 0, local.stderr);
  assert.match(local.stdout + local.stderr, /Permission denied/);
  assert.match(local.stdout, /rc=1/);
});

test('privileged container: all capabilities, no seccomp filter', { skip }, () => {
  const r = runToCompletion('priv', podContainer('priv', {
    sandboxConfig: { linux: { securityContext: { privileged: true } } },
    config: { metadata: { name: 'p' }, command: ['/bin/sh', '-c', 'grep -E "^(CapBnd|Seccomp):" /proc/self/status; ls /dev | grep -c . '], linux: { securityContext: { privileged: true } } },
  }));
  assert.equal(r.status, 0, r.stderr);
  const all = /^CapBnd:\s*([0-9a-f]+)$/m.exec(fs.readFileSync('/proc/self/status', 'utf8'))![1]!;
  assert.match(r.stdout, new RegExp(`^CapBnd:\\t${all}$`, 'm'));
  assert.match(r.stdout, /^Seccomp:\t0$/m);
});

test('read-only rootfs, CRI bind mounts, image volume and a device, as runc applies them', { skip }, () => {
  const data = path.join(work, 'data');
  fs.mkdirSync(data, { recursive: true });
  fs.writeFileSync(path.join(data, 'f'), 'from-host\n');
  const rw = path.join(work, 'rwdata');
  fs.mkdirSync(rw, { recursive: true });
  const result = buildContainerSpec({
    ...containerInput({
      rootfs,
      probe: realHostProbe,
      runtime: hostRuntime(),
      sandbox: {
        id: 'pause',
        namespaces: {
          network: { path: `/proc/${pausePid}/ns/net` },
          ipc: { path: `/proc/${pausePid}/ns/ipc` },
          uts: { path: `/proc/${pausePid}/ns/uts` },
        },
        hostname: 'cradle-test-pod',
        hostsPath: path.join(work, 'hosts'),
        resolvConfPath: path.join(work, 'resolv.conf'),
        hostnamePath: path.join(work, 'hostname'),
        shmPath: path.join(work, 'shm'),
        cgroupParent: CGROUP_PARENT,
      },
      image: { Cmd: ['/bin/sh'], Volumes: { '/vol': {} }, Env: ['PATH=/bin'] },
      config: {
        metadata: { name: 'mounts' },
        command: ['/bin/sh', '-c', [
          'echo x > /rootfs-write 2>/dev/null && echo rootfs-writable || echo rootfs-readonly',
          'cat /data/f',
          'echo x > /data/g 2>/dev/null && echo data-writable || echo data-readonly',
          'echo x > /rw/g && cat /rw/g',
          'echo x > /vol/v && echo vol-writable',
          'echo x > /dev/xnull && echo device-ok',
          'echo x > /etc/hosts 2>/dev/null && echo hosts-writable || echo hosts-readonly',
          'echo shm > /dev/shm/s && echo shm-ok',
        ].join('; ')],
        mounts: [
          { containerPath: '/data', hostPath: data, readonly: true },
          { containerPath: '/rw', hostPath: rw },
        ],
        devices: [{ hostPath: '/dev/null', containerPath: '/dev/xnull', permissions: 'rw' }],
        linux: { securityContext: { readonlyRootfs: true, namespaceOptions: { network: 'POD', ipc: 'POD', pid: 'CONTAINER' } } },
      },
    }),
    container: { id: 'mounts', logPath: '', imageRef: 'sha256:test', imageVolumeRoot: path.join(work, 'volumes', 'mounts') },
  });
  for (const v of result.imageVolumes) fs.mkdirSync(v.hostPath, { recursive: true });
  const r = runToCompletion('mounts', result.spec);
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(r.stdout.trim().split('\n'), [
    'rootfs-readonly', 'from-host', 'data-readonly', 'x', 'vol-writable', 'device-ok', 'hosts-readonly', 'shm-ok',
  ]);
  assert.equal(fs.readFileSync(path.join(rw, 'g'), 'utf8'), 'x\n', 'write reached the host directory');
  assert.equal(fs.readFileSync(path.join(result.imageVolumes[0]!.hostPath, 'v'), 'utf8'), 'x\n');
  assert.equal(fs.readFileSync(path.join(work, 'shm', 's'), 'utf8'), 'shm\n', '/dev/shm is the pod shm directory');
});

test('host-to-container propagation: a host mount made after start shows up inside; private sources are refused', { skip }, async (t) => {
  const shared = path.join(work, 'prop');
  fs.mkdirSync(shared, { recursive: true });
  const sh = (cmd: string, args: string[]) => {
    const r = spawnSync(cmd, args, { env: cleanChildEnv(), encoding: 'utf8' });
    assert.equal(r.status, 0, `${cmd} ${args.join(' ')}: ${r.stderr}`);
  };
  sh('mount', ['--bind', shared, shared]);
  t.after(() => { spawnSync('umount', ['-R', '-l', shared]); });
  sh('mount', ['--make-shared', shared]);

  const base = {
    rootfs,
    probe: realHostProbe,
    runtime: hostRuntime(),
    sandbox: {
      id: 'pause',
      namespaces: { network: { path: `/proc/${pausePid}/ns/net` }, ipc: { path: `/proc/${pausePid}/ns/ipc` }, uts: { path: `/proc/${pausePid}/ns/uts` } },
      hostname: 'cradle-test-pod', hostsPath: path.join(work, 'hosts'), resolvConfPath: path.join(work, 'resolv.conf'),
      hostnamePath: path.join(work, 'hostname'), shmPath: path.join(work, 'shm'), cgroupParent: CGROUP_PARENT,
    },
  };
  // The work dir itself sits on the host's private root mount: refused before runc is involved.
  const privateDir = path.join(work, 'private-src');
  fs.mkdirSync(privateDir);
  assert.throws(() => buildContainerSpec(containerInput({
    ...base,
    config: { metadata: { name: 'p' }, mounts: [{ containerPath: '/p', hostPath: privateDir, propagation: 'PROPAGATION_HOST_TO_CONTAINER' }] },
  })), /config\.mounts\[0\]\.propagation: host-to-container propagation needs .* \(it is private\)/);

  const { spec } = buildContainerSpec({
    ...containerInput({
      ...base,
      config: {
        metadata: { name: 'prop' },
        command: ['/bin/sh', '-c', 'i=0; while [ ! -e /prop/sub/marker ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done; cat /prop/sub/marker'],
        mounts: [{ containerPath: '/prop', hostPath: shared, propagation: 'PROPAGATION_HOST_TO_CONTAINER' }],
        linux: { securityContext: { namespaceOptions: { network: 'POD', ipc: 'POD', pid: 'CONTAINER' } } },
      },
    }),
    container: { id: 'prop', logPath: '', imageRef: 'sha256:test', imageVolumeRoot: path.join(work, 'volumes', 'prop') },
  });
  assert.equal(spec.linux.rootfsPropagation, 'rslave');
  const bundle = writeBundle('prop', spec);
  t.after(() => { runc(runcRoot, ['delete', '-f', 'prop']); });
  const { spawn } = await import('node:child_process');
  const child = spawn(RUNC, ['--root', runcRoot, 'run', '--bundle', bundle, 'prop'], { env: cleanChildEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
  child.stderr.on('data', (d: Buffer) => { err += d.toString(); });
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  // Wait until the container runs, so the mount below can only reach it by propagation.
  for (let i = 0; i < 100; i++) {
    const state = runc(runcRoot, ['state', 'prop']);
    if (state.status === 0 && (JSON.parse(state.stdout) as { status: string }).status === 'running') break;
    await new Promise((r) => setTimeout(r, 50));
  }
  const sub = path.join(shared, 'sub');
  fs.mkdirSync(sub);
  sh('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', sub]);
  fs.writeFileSync(path.join(sub, 'marker'), 'propagated\n');
  const code = await exited;
  assert.equal(code, 0, err);
  assert.equal(out.trim(), 'propagated');
});
