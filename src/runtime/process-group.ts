// Ending what an exec started. An exec'd process leads its own process group (the
// runtime's exec calls setsid, as runc's does; its host pid is the group id), so one
// SIGKILL to the group reaches it and what it started, unless those left the group.

/** A group an exec can lead: kill(-0) and kill(-1) would reach the daemon's own group or every process. */
function isExecGroup(pgid: number): boolean {
  return Number.isInteger(pgid) && pgid > 1;
}

/** SIGKILL to every process in the group; nothing when it is already gone. */
export function killProcessGroup(pgid: number): void {
  if (!isExecGroup(pgid)) return;
  try {
    process.kill(-pgid, 'SIGKILL');
  } catch {
    // ESRCH: the group is empty
  }
}

/**
 * Waits until no process is left in the group, zombies included: the ones killed are
 * then reaped by their parent (the exec's runtime process, or the container's init
 * for what the exec'd process started). False when some are still there after timeoutMs.
 */
export async function waitProcessGroupGone(pgid: number, timeoutMs: number): Promise<boolean> {
  if (!isExecGroup(pgid)) return true;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      process.kill(-pgid, 0);
    } catch {
      return true;
    }
    if (Date.now() >= deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
