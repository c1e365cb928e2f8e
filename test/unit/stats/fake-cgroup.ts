// Fake cgroup trees under a temp dir, laid out as the kernel does (v1 per-controller
// directories with a combined cpu,cpuacct mount; v2 one unified directory).
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export function tempRoot(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `cradle-unit-stats-${prefix}-`));
}

export function writeFiles(dir: string, files: Record<string, string>): void {
  fs.mkdirSync(dir, { recursive: true });
  for (const [name, content] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), content);
}

export const V1_UNLIMITED = '9223372036854771712\n';

/** A v1 tree: memory, cpu,cpuacct (+ cpu and cpuacct symlinks), pids. */
export function fakeV1(root: string, rel: string, opts: { memLimit?: string; memswLimit?: string; usage?: string; memsw?: string; cpuUsage?: string } = {}): void {
  fs.mkdirSync(path.join(root, 'cpu,cpuacct'), { recursive: true });
  fs.symlinkSync('cpu,cpuacct', path.join(root, 'cpu'));
  fs.symlinkSync('cpu,cpuacct', path.join(root, 'cpuacct'));
  writeFiles(path.join(root, 'memory', rel), {
    'memory.usage_in_bytes': opts.usage ?? '104857600\n',
    'memory.max_usage_in_bytes': '209715200\n',
    'memory.limit_in_bytes': opts.memLimit ?? '268435456\n',
    'memory.memsw.usage_in_bytes': opts.memsw ?? '110100480\n',
    'memory.memsw.limit_in_bytes': opts.memswLimit ?? '536870912\n',
    'memory.soft_limit_in_bytes': V1_UNLIMITED,
    'memory.failcnt': '3\n',
    'memory.kmem.usage_in_bytes': '4096\n',
    'memory.oom_control': 'oom_kill_disable 0\nunder_oom 0\noom_kill 2\n',
    'memory.stat': [
      'cache 1', 'rss 2', 'pgfault 5', // per-cgroup values: the total_ ones must be used
      'total_cache 41943040', 'total_rss 52428800', 'total_mapped_file 1048576', 'total_pgfault 1000', 'total_pgmajfault 7',
      'total_inactive_file 31457280', 'total_active_file 10485760', '',
    ].join('\n'),
  });
  writeFiles(path.join(root, 'cpu,cpuacct', rel), {
    'cpuacct.usage': opts.cpuUsage ?? '5000000000\n',
    'cpuacct.usage_user': '3000000000\n',
    'cpuacct.usage_sys': '2000000000\n',
    'cpuacct.stat': 'user 300\nsystem 200\n',
    'cpu.stat': 'nr_periods 40\nnr_throttled 4\nthrottled_time 1500000000\n',
    'cpu.shares': '512\n',
    'cpu.cfs_quota_us': '50000\n',
    'cpu.cfs_period_us': '100000\n',
  });
  writeFiles(path.join(root, 'pids', rel), { 'pids.current': '6\n', 'pids.max': 'max\n' });
}

export function fakeV2(root: string, rel: string, opts: { memMax?: string; swapMax?: string } = {}): void {
  writeFiles(root, { 'cgroup.controllers': 'cpu memory pids io\n' });
  writeFiles(path.join(root, rel), {
    'cpu.stat': 'usage_usec 7000000\nuser_usec 4000000\nsystem_usec 3000000\nnr_periods 10\nnr_throttled 1\nthrottled_usec 250000\n',
    'cpu.weight': '20\n',
    'cpu.max': '25000 100000\n',
    'cpu.pressure': 'some avg10=1.50 avg60=0.75 avg300=0.10 total=3000000\nfull avg10=0.50 avg60=0.25 avg300=0.05 total=1000000\n',
    'memory.current': '83886080\n',
    'memory.peak': '100663296\n',
    'memory.max': opts.memMax ?? '134217728\n',
    'memory.low': '0\n',
    'memory.swap.current': '1048576\n',
    'memory.swap.max': opts.swapMax ?? 'max\n',
    'memory.events': 'low 0\nhigh 0\nmax 9\noom 1\noom_kill 1\n',
    'memory.stat': 'anon 41943040\nfile 33554432\nkernel 2097152\nfile_mapped 524288\nactive_file 8388608\ninactive_file 25165824\npgfault 2000\npgmajfault 11\n',
    'memory.pressure': 'some avg10=0.00 avg60=0.00 avg300=0.00 total=500\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=200\n',
    'io.pressure': 'some avg10=0.00 avg60=0.00 avg300=0.00 total=0\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n',
    'pids.current': '3\n',
    'pids.max': '100\n',
  });
}
