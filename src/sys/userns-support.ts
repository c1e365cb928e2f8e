// Whether this kernel runs pods with their own user namespace (KEP-127) the way cradle
// makes them: user namespaces enabled, idmapped mounts (mount_setattr MOUNT_ATTR_IDMAP,
// 5.12), overlayfs's lowerdir+ (6.8) taking idmapped layers that are detached mounts
// (open_tree clones, no mount point of their own: Linux 6.15).
import * as fs from 'node:fs';
import * as os from 'node:os';

export interface UsernsKernelSupport {
  supported: boolean;
  /** Why not, when not. */
  reason?: string;
}

export function kernelAtLeast(major: number, minor: number, release = os.release()): boolean {
  const m = /^(\d+)\.(\d+)/.exec(release);
  if (!m) return false;
  return Number(m[1]) > major || (Number(m[1]) === major && Number(m[2]) >= minor);
}

export function usernsKernelSupport(release = os.release(), maxUserNamespacesFile = '/proc/sys/user/max_user_namespaces'): UsernsKernelSupport {
  if (!kernelAtLeast(6, 15, release)) return { supported: false, reason: `kernel ${release} is older than 6.15 (overlayfs on detached idmapped layers)` };
  let max = 0;
  try {
    max = Number(fs.readFileSync(maxUserNamespacesFile, 'utf8').trim());
  } catch {
    return { supported: false, reason: `${maxUserNamespacesFile} is missing (no user namespaces in this kernel)` };
  }
  if (!(max > 0)) return { supported: false, reason: `${maxUserNamespacesFile} is 0` };
  return { supported: true };
}
