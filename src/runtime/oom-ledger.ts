// OOM kills of containers under the systemd cgroup driver. conmon learns of a kill
// from memory.events in the container's scope, but systemd removes a scope, with
// that file, as soon as its last process is gone: when systemd is first, conmon
// reads nothing and the container would be reported "Error" (cri-o#7035,
// conmon#426). The pod's slice outlives its containers, and its memory.events
// counts the kills of everything below it (the counters are hierarchical): the
// slice's kills not counted by a scope still there, and not given to an earlier
// exit, happened in a scope that is gone. They go to the next container whose exit
// is recorded (exits are recorded one at a time, as conmon reports them).
import * as fs from 'node:fs';
import * as path from 'node:path';

/** oom_kill of a memory.events file; undefined when the cgroup is gone. */
export function oomKillsIn(cgroupDir: string): bigint | undefined {
  let text: string;
  try {
    text = fs.readFileSync(path.join(cgroupDir, 'memory.events'), 'utf8');
  } catch {
    return undefined;
  }
  const m = /^oom_kill (\d+)$/m.exec(text);
  return m ? BigInt(m[1]!) : 0n;
}

export class OomLedger {
  /** By pod: the kills given to recorded exits, and the scopes whose own count was given. */
  private readonly pods = new Map<string, { given: bigint; credited: Set<string> }>();

  /**
   * At the exit of the container whose cgroup is scopeDir (directly in its pod's
   * slice): were any of its processes OOM-killed? Its own memory.events answers
   * while the scope is there; else the kills of gone scopes not yet given out.
   * Only an exit by SIGKILL (the OOM killer's signal) takes unexplained kills.
   * Kept in memory only: after a restart of cradled, kills of scopes gone before it
   * can be given to the first such exit.
   */
  killedAtExit(podId: string, scopeDir: string, bySigkill: boolean): boolean {
    const podDir = path.dirname(scopeDir);
    let pod = this.pods.get(podId);
    if (!pod) this.pods.set(podId, pod = { given: 0n, credited: new Set() });
    const own = oomKillsIn(scopeDir);
    if (own !== undefined) {
      // When the scope goes, its kills join the slice's unexplained ones: not again.
      pod.given += own;
      pod.credited.add(path.basename(scopeDir));
      return own > 0n;
    }
    const total = bySigkill ? oomKillsIn(podDir) : undefined;
    if (total === undefined) return false;
    let live = 0n;
    for (const entry of fs.readdirSync(podDir, { withFileTypes: true })) {
      if (entry.isDirectory() && !pod.credited.has(entry.name)) live += oomKillsIn(path.join(podDir, entry.name)) ?? 0n;
    }
    const unclaimed = total - live - pod.given;
    if (unclaimed <= 0n) return false;
    pod.given += unclaimed;
    return true;
  }

  /** The pod is removed. */
  forget(podId: string): void {
    this.pods.delete(podId);
  }
}
