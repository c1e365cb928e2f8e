// What the suite needs to look inside a pod without containers: the pause
// process and the pod's network namespace and files. The CRI gives no portable
// way; both runtimes put them in PodSandboxStatus(verbose).info["info"]:
//   cradle:     pause.pid, pinnedNamespaces.net, files.{resolvConf,hostname,hosts}
//   containerd: pid, runtimeSpec.linux.namespaces[network].path, and the pod
//               files next to the /etc/resolv.conf bind-mount source of runtimeSpec.
// The pod area uses it to check the pod itself (pause, namespaces, files) from
// the host; the container areas check the same things from inside a container.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { CriTarget } from './target';

export interface PodInside {
  /** pid of the pod's pause (infra) process on the host. */
  pid: number;
  /** A path naming the pod's network namespace (pinned file or /proc/<pid>/ns/net). */
  netns: string;
  /** The pod's resolv.conf / hostname / hosts files on the host, where the runtime says. */
  files: { resolvConf?: string; hostname?: string; hosts?: string };
}

interface CradleInfo {
  pause?: { pid: number };
  pinnedNamespaces?: { net?: string };
  files?: { resolvConf: string; hostname: string; hosts: string };
}

interface ContainerdInfo {
  pid?: number;
  runtimeSpec?: {
    mounts?: { destination: string; source: string }[];
    linux?: { namespaces?: { type: string; path?: string }[] };
  };
}

export async function podInside(target: CriTarget, podSandboxId: string): Promise<PodInside> {
  const res = await target.cri.runtime.PodSandboxStatus({ podSandboxId, verbose: true });
  const raw = res.info.info;
  if (!raw) throw new Error(`PodSandboxStatus(verbose) of ${podSandboxId} has no info["info"]: keys ${Object.keys(res.info).join(',')}`);
  const info = JSON.parse(raw) as CradleInfo & ContainerdInfo;
  if (info.pause?.pid) {
    const pid = info.pause.pid;
    return { pid, netns: info.pinnedNamespaces?.net ?? `/proc/${pid}/ns/net`, files: info.files ?? {} };
  }
  if (info.pid) {
    const pid = info.pid;
    const netPath = info.runtimeSpec?.linux?.namespaces?.find((n) => n.type === 'network')?.path;
    const resolv = info.runtimeSpec?.mounts?.find((m) => m.destination === '/etc/resolv.conf')?.source;
    const dir = resolv ? path.dirname(resolv) : undefined;
    return {
      pid, netns: netPath || `/proc/${pid}/ns/net`,
      files: dir ? { resolvConf: resolv, hostname: path.join(dir, 'hostname'), hosts: path.join(dir, 'hosts') } : {},
    };
  }
  throw new Error(`cannot find the pause pid in PodSandboxStatus(verbose) info of ${podSandboxId}: ${raw.slice(0, 300)}`);
}

/** Runs a command in some of the pause process's namespaces (nsenter --target). */
export function inPod(pid: number, kinds: ('net' | 'uts' | 'ipc' | 'pid')[], cmd: string[]): string {
  const flags = kinds.map((k) => `--${k}`);
  return execFileSync('nsenter', ['--target', String(pid), ...flags, '--', ...cmd], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 15_000 });
}

/** Runs a command in a network namespace named by a path. */
export function inNetns(netns: string, cmd: string[]): string {
  return execFileSync('nsenter', [`--net=${netns}`, '--', ...cmd], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 15_000 });
}

/**
 * GET url from inside a network namespace; resolves to the body. Runs this very
 * Node binary under nsenter (busybox-static's wget crashes in this setup).
 */
export function httpGetInNetns(netns: string, url: string): string {
  const script = `require('http').get(${JSON.stringify(url)}, { timeout: 3000 }, (r) => { r.pipe(process.stdout); })
    .on('timeout', function () { this.destroy(new Error('timeout')); }).on('error', (e) => { console.error(e.message); process.exit(1); });`;
  return execFileSync('nsenter', [`--net=${netns}`, '--', process.execPath, '-e', script], {
    encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 15_000, env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
  });
}

/** Inode identity of a namespace file (to compare namespaces). */
export function nsIdentity(nsPath: string): string {
  const st = fs.statSync(nsPath);
  return `${st.dev}:${st.ino}`;
}
