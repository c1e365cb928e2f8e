// Network counters of a pod, read from /proc/net/dev inside its pinned network namespace.
//
// How: the main thread setns()es into the namespace, reads /proc/thread-self/net/dev
// synchronously and setns()es back (withinNamespace from src/pod-sandbox/namespaces.ts).
// That is a few syscalls, against a helper process (`nsenter --net=… cat /proc/net/dev`)
// that costs a fork+exec per pod per kubelet poll. It is safe because namespaces are
// per thread (runtime-notes Q1): nothing asynchronous runs while the thread is inside,
// and /proc/thread-self (not /proc/self, which follows the thread-group leader) names
// the calling thread's view. /sys/class/net would show the namespace of whoever mounted
// sysfs, not the pod's.
import * as fs from 'node:fs';
import { withinNamespace } from '../pod-sandbox/namespaces';
import { nowNs } from './cgroup-reader';
import type { NetworkInterfaceStats, NetworkSample } from './types';

/**
 * Parses /proc/net/dev: two header lines, then
 * "  eth0: rxBytes rxPackets rxErrs rxDrop fifo frame compressed multicast txBytes txPackets txErrs txDrop …".
 */
export function parseProcNetDev(text: string): NetworkInterfaceStats[] {
  const out: NetworkInterfaceStats[] = [];
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    const name = line.slice(0, colon).trim();
    const fields = line.slice(colon + 1).trim().split(/\s+/);
    if (name === '' || fields.length < 16 || !fields.every((f) => /^\d+$/.test(f))) continue;
    const n = fields.map((f) => BigInt(f));
    out.push({
      name,
      rxBytes: n[0]!, rxPackets: n[1]!, rxErrors: n[2]!, rxDropped: n[3]!,
      txBytes: n[8]!, txPackets: n[9]!, txErrors: n[10]!, txDropped: n[11]!,
    });
  }
  return out;
}

/** Counters of every interface in the network namespace pinned at netnsPath (needs CAP_SYS_ADMIN). */
export function readNetworkStats(netnsPath: string): NetworkSample {
  const text = withinNamespace(netnsPath, 'net', () => fs.readFileSync('/proc/thread-self/net/dev', 'utf8'));
  return { timestampNs: nowNs(), interfaces: parseProcNetDev(text) };
}

/** The interface the kubelet reports as the pod's: eth0 when present, else the first one that is not loopback. */
export function defaultInterfaceName(interfaces: readonly NetworkInterfaceStats[]): string | undefined {
  return interfaces.find((i) => i.name === 'eth0')?.name ?? interfaces.find((i) => i.name !== 'lo')?.name;
}
