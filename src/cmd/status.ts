// `cradled status`: the running daemon's view, for humans (or --json).
import { inspectGet } from '../daemon/inspect';
import { messageOf } from '../common/errors';

interface Condition { ready: boolean; reason: string; message: string }
interface Info {
  version: string; node: string; pid: number; startedAt: string; socket: string; cgroupDriver: string;
  defaultRuntime: string; runtimeHandlers: string[]; stateRoot: string; runRoot: string; podCidr: string;
  conditions: Record<string, Condition>;
  pendingCleanups?: { kind: string; id: string; what?: string; attempts: number; lastError: string; nextAttemptAt: number }[];
}

export async function printStatus(socketPath: string, json: boolean): Promise<number> {
  let info: Info;
  const collections: Record<string, unknown[]> = {};
  try {
    const res = await inspectGet(socketPath, '/info');
    if (res.status !== 200) throw new Error(`HTTP ${res.status}: ${res.body}`);
    info = JSON.parse(res.body) as Info;
    for (const name of ['pods', 'containers', 'images', 'conmon']) {
      const c = await inspectGet(socketPath, `/${name}`);
      if (c.status === 200) collections[name] = JSON.parse(c.body) as unknown[];
    }
  } catch (err) {
    process.stderr.write(`cradled status: cannot reach cradled at ${socketPath}: ${messageOf(err)}\n`);
    return 1;
  }
  if (json) {
    process.stdout.write(JSON.stringify({ info, ...collections }, null, 2) + '\n');
    return 0;
  }
  const lines = [
    `cradled ${info.version} (node ${info.node}), pid ${info.pid}, up since ${info.startedAt}`,
    `socket       ${info.socket}`,
    `state        ${info.stateRoot} (persistent), ${info.runRoot} (volatile)`,
    `cgroups      ${info.cgroupDriver}; runtime handlers ${info.runtimeHandlers.join(', ')} (default ${info.defaultRuntime})`,
    `pod CIDR     ${info.podCidr || '(not set by the kubelet)'}`,
  ];
  for (const [type, c] of Object.entries(info.conditions)) {
    lines.push(`${type.padEnd(12)} ${c.ready ? 'true' : `false (${c.reason}: ${c.message})`}`);
  }
  for (const [name, items] of Object.entries(collections)) lines.push(`${name.padEnd(12)} ${items.length}`);
  const pending = info.pendingCleanups ?? [];
  lines.push(`cleanups     ${pending.length === 0 ? 'none pending' : `${pending.length} retried in the background`}`);
  for (const p of pending) {
    lines.push(`  ${p.kind}${p.what === undefined ? '' : ` (${p.what})`} of ${p.id}: ${p.attempts} failed tries, next at ${new Date(p.nextAttemptAt).toISOString()}: ${p.lastError}`);
  }
  process.stdout.write(lines.join('\n') + '\n');
  return 0;
}
