// The host side of critest's mount propagation specs (container_linux.go,
// createHostPathForMountPropagation and createPropagationMountPoint): a temp dir
// whose `mnt` is bind-mounted onto itself, rprivate for PROPAGATION_PRIVATE and
// rshared otherwise, a flag file to mount inside it later, and the cleanup.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';

export type Propagation = 'PROPAGATION_PRIVATE' | 'PROPAGATION_HOST_TO_CONTAINER' | 'PROPAGATION_BIDIRECTIONAL';

export interface PropagationHostPath {
  /** The volume: the mount's host and container path. */
  mntSource: string;
  /** Inside mntSource: where the host mounts propagationSrcDir once the container runs. */
  propagationMntPoint: string;
  /** Holds flagFile. */
  propagationSrcDir: string;
  /** Mounts propagationSrcDir on propagationMntPoint (host to container). */
  mountOnHost(): void;
  /** Unmounts everything under the temp dir and removes it. */
  cleanup(): void;
}

function mount(...args: string[]): void {
  execFileSync('mount', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

export function propagationHostPath(propagation: Propagation): PropagationHostPath {
  const hostPath = fs.mkdtempSync(path.join(os.tmpdir(), 'cradle-critest-propagation-'));
  const mntSource = path.join(hostPath, 'mnt');
  const propagationMntPoint = path.join(mntSource, 'propagationMnt');
  const propagationSrcDir = path.join(hostPath, 'propagationSrcDir');
  fs.mkdirSync(propagationMntPoint, { recursive: true, mode: 0o700 });
  fs.mkdirSync(propagationSrcDir, { mode: 0o700 });
  fs.writeFileSync(path.join(propagationSrcDir, 'flagFile'), '');
  let mounted = false;
  const cleanup = (): void => {
    // Lazy: also detaches what was mounted inside (by the host, or propagated from the container).
    if (mounted) execFileSync('umount', ['--lazy', mntSource]);
    mounted = false;
    fs.rmSync(hostPath, { recursive: true, force: true });
  };
  try {
    mount('--rbind', mntSource, mntSource);
    mounted = true;
    mount(propagation === 'PROPAGATION_PRIVATE' ? '--make-rprivate' : '--make-rshared', mntSource);
  } catch (err) {
    cleanup();
    throw err;
  }
  return {
    mntSource, propagationMntPoint, propagationSrcDir, cleanup,
    mountOnHost: () => mount('--rbind', propagationSrcDir, propagationMntPoint),
  };
}
