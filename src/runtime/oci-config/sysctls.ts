// Sysctl validation: only namespaced sysctls, and only for namespaces the pod owns
// (runc's and kubelet's rules).
import { errors } from '../../common/errors';

const IPC_SYSCTLS = new Set([
  'kernel.msgmax', 'kernel.msgmnb', 'kernel.msgmni', 'kernel.sem', 'kernel.shmall', 'kernel.shmmax',
  'kernel.shmmni', 'kernel.shm_rmid_forced',
]);

export type SysctlNamespace = 'ipc' | 'net' | 'uts';

/** "net/ipv4/conf/eth0.100/forwarding" → "net.ipv4.conf.eth0/100.forwarding" (kubelet's slash form). */
export function normalizeSysctlKey(key: string): string {
  if (!key.includes('/')) return key;
  return key.replace(/[./]/g, (c) => (c === '/' ? '.' : '/'));
}

/** Which namespace a sysctl belongs to, or null when it is not namespaced. */
export function sysctlNamespace(key: string): SysctlNamespace | null {
  return namespaceOfDotted(normalizeSysctlKey(key));
}

function namespaceOfDotted(k: string): SysctlNamespace | null {
  if (IPC_SYSCTLS.has(k) || k.startsWith('fs.mqueue.')) return 'ipc';
  if (k.startsWith('net.')) return 'net';
  if (k === 'kernel.domainname') return 'uts';
  return null;
}

/**
 * Validates sysctls for a pod with the given host namespaces and returns them with keys
 * in dotted form. `field` names the CRI map (e.g. config.linux.sysctls).
 */
export function validateSysctls(
  sysctls: Record<string, string> | undefined,
  host: { network: boolean; ipc: boolean; uts: boolean },
  field: string,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [rawKey, value] of Object.entries(sysctls ?? {})) {
    const f = `${field}[${JSON.stringify(rawKey)}]`;
    // A key names a file under /proc/sys: no empty or ".." components.
    if (!/^[A-Za-z0-9_*-]+([./][A-Za-z0-9_*-]+)*$/.test(rawKey) || rawKey.split(/[./]/).some((c) => c === '..' || c === '')) {
      throw errors.invalidField(f, 'not a sysctl name');
    }
    const key = normalizeSysctlKey(rawKey);
    if (key === 'kernel.hostname') throw errors.invalidField(f, 'set the hostname through the pod hostname, not a sysctl');
    const ns = namespaceOfDotted(key);
    if (!ns) throw errors.invalidField(f, `sysctl ${key} is not namespaced and cannot be set for a pod`);
    if (ns === 'net' && host.network) throw errors.invalidField(f, `sysctl ${key} is not allowed with the host network namespace`);
    if (ns === 'ipc' && host.ipc) throw errors.invalidField(f, `sysctl ${key} is not allowed with the host IPC namespace`);
    if (ns === 'uts' && host.uts) throw errors.invalidField(f, `sysctl ${key} is not allowed with the host UTS namespace`);
    if (/[\n\0]/.test(value)) throw errors.invalidField(f, 'value contains a newline or NUL');
    out[key] = value;
  }
  return out;
}
