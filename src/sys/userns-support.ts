// Whether this node runs pods with their own user namespace (KEP-127) the way cradle
// makes them: user namespaces enabled, a user namespace with maps, idmapped mounts
// (mount_setattr MOUNT_ATTR_IDMAP) on the filesystem of the image layers, and overlayfs
// on such layers attached in a private mount namespace (Linux 5.19 and later). Probed by
// doing it: the native launcher's `__userns-probe DIR` makes an overlay as a pod's, where
// the host's mount namespace never sees it.
import * as fs from 'node:fs';
import { spawnSync } from 'node:child_process';

export interface UsernsSupport {
  supported: boolean;
  /** Why not, when not. */
  reason?: string;
}

export function probeUsernsSupport(helper: string, dir: string, maxUserNamespacesFile = '/proc/sys/user/max_user_namespaces'): UsernsSupport {
  let max: number;
  try {
    max = Number(fs.readFileSync(maxUserNamespacesFile, 'utf8').trim());
  } catch {
    return { supported: false, reason: `${maxUserNamespacesFile} is missing (a kernel without user namespaces)` };
  }
  if (!(max > 0)) return { supported: false, reason: `${maxUserNamespacesFile} is ${max}` };
  const run = spawnSync(helper, ['__userns-probe', dir], { encoding: 'utf8', timeout: 10_000, env: {}, stdio: ['ignore', 'ignore', 'pipe'] });
  if (run.error) return { supported: false, reason: `running ${helper}: ${run.error.message}` };
  if (run.status !== 0) return { supported: false, reason: (run.stderr ?? '').trim() || `${helper} __userns-probe exited with ${String(run.status ?? run.signal)}` };
  return { supported: true };
}
