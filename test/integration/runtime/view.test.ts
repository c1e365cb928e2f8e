// What a process sees inside a container, checked from inside, and compared with
// runc on the same bundle (differential test).
import { test, before } from 'node:test';
import * as assert from 'node:assert/strict';
import { CGROUP_V2_ONLY, TestContainer, isRoot, sweepStale, type Runtime } from './harness';

const VIEW_SCRIPT = [
  'ls /proc/$$/fd > /tmp/fds',
  'grep -E "^(Cap|NoNewPrivs|Seccomp|SigIgn|SigBlk)" /proc/self/status',
  'echo "id: $(id)"',
  'echo "hostname: $(hostname)"',
  'echo "fds: $(tr "\\n" " " < /tmp/fds)"',
  'echo "cgroup-self: $(grep memory /proc/self/cgroup || grep "^0::" /proc/self/cgroup)"',
  // v2's files in the container's cgroup namespace, or v1's per-controller ones.
  'echo "mem-limit: $(cat /sys/fs/cgroup/memory.max 2>/dev/null || cat /sys/fs/cgroup/memory/memory.limit_in_bytes)"',
  'echo "pids-max: $(cat /sys/fs/cgroup/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids/pids.max)"',
  'echo "pid1: $(cat /proc/1/comm) $$"',
  'echo "root-ro: $(touch /x 2>/dev/null && echo writable || echo readonly)"',
  'echo "masked-keys: $(cat /proc/keys 2>&1 | wc -c)"',
  'echo "proc-sys: $( (echo 1 > /proc/sys/kernel/ns_last_pid) 2>/dev/null && echo writable || echo readonly)"',
  'echo "nofile: $(ulimit -n)"',
  'echo "umask: $(umask)"',
  'echo "dev: $(ls /dev | tr "\\n" " ")"',
  'echo "mounts:"; awk \'{ split($0, a, " - "); split(a[2], b, " "); print "  " $5, b[1], $6 }\' /proc/self/mountinfo | sort',
  'echo "sethostname: $(hostname evil 2>&1)"',
].join('; ');

async function view(runtime: Runtime): Promise<string> {
  const ctr = new TestContainer(runtime, 'view', ['sh', '-c', VIEW_SCRIPT]);
  try {
    const { stdout, stderr } = await ctr.run();
    assert.equal(stderr, '', `${runtime} stderr`);
    return stdout;
  } finally {
    ctr.cleanup();
  }
}

before(() => { if (isRoot()) sweepStale(); });

test('the container sees runc\'s view: caps, no_new_privs, seccomp, ids, hostname, fds, signals, cgroups, mounts', { skip: !isRoot() && 'needs root' }, async () => {
  const ours = await view('cradle');
  assert.match(ours, /^CapEff:\s+0000000020000420$/m);
  assert.match(ours, /^CapBnd:\s+0000000020000420$/m);
  assert.match(ours, /^NoNewPrivs:\s+1$/m);
  assert.match(ours, /^Seccomp:\s+2$/m);
  assert.match(ours, /^SigIgn:\s+0000000000000000$/m, 'trap 6: Node\'s ignored SIGPIPE/SIGXFSZ must not survive execve');
  assert.match(ours, /^SigBlk:\s+0000000000000000$/m);
  assert.match(ours, /^id: uid=0\(root\) gid=0\(root\)/m);
  assert.match(ours, /^hostname: cradle-ctr$/m);
  // fd 10 is busybox sh's saved stdout while it runs the redirected `ls` in-process;
  // fd 20 was inherited by the runtime from its caller and must not leak (trap 5).
  assert.match(ours, /^fds: 0 1 10 2 $/m, 'trap 5: only fds 0-2 (open), nothing inherited');
  assert.match(ours, CGROUP_V2_ONLY ? /^cgroup-self: 0::\/$/m : /^cgroup-self: \d+:memory:\/$/m, 'cgroup namespace rooted at the container cgroup');
  assert.match(ours, /^mem-limit: 67108864$/m);
  assert.match(ours, /^pids-max: 64$/m);
  assert.match(ours, /^pid1: sh 1$/m, 'the container process is PID 1');
  assert.match(ours, /^root-ro: readonly$/m);
  assert.match(ours, /^proc-sys: readonly$/m);
  assert.match(ours, /^masked-keys: 0$/m, 'masked /proc/keys reads as /dev/null');
  assert.match(ours, /^nofile: 1024$/m);
  assert.match(ours, /^sethostname: hostname: sethostname: Permission denied$/m, 'seccomp ERRNO(13) rule');
  const theirs = await view('runc');
  assert.equal(ours, theirs);
});
