// Linux capabilities for a container: cradle's default set, CRI add/drop (incl. "ALL"),
// ambient capabilities and privileged mode.
import { errors } from '../../common/errors';
import type { Capability__Output } from '../../generated/runtime/v1/Capability';
import type { OciCapabilities } from '../../common/oci-spec';

/** Every capability of Linux 5.9+ (cap_last_cap 40), in number order. */
export const ALL_CAPABILITIES: readonly string[] = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_DAC_READ_SEARCH', 'CAP_FOWNER', 'CAP_FSETID', 'CAP_KILL',
  'CAP_SETGID', 'CAP_SETUID', 'CAP_SETPCAP', 'CAP_LINUX_IMMUTABLE', 'CAP_NET_BIND_SERVICE',
  'CAP_NET_BROADCAST', 'CAP_NET_ADMIN', 'CAP_NET_RAW', 'CAP_IPC_LOCK', 'CAP_IPC_OWNER',
  'CAP_SYS_MODULE', 'CAP_SYS_RAWIO', 'CAP_SYS_CHROOT', 'CAP_SYS_PTRACE', 'CAP_SYS_PACCT',
  'CAP_SYS_ADMIN', 'CAP_SYS_BOOT', 'CAP_SYS_NICE', 'CAP_SYS_RESOURCE', 'CAP_SYS_TIME',
  'CAP_SYS_TTY_CONFIG', 'CAP_MKNOD', 'CAP_LEASE', 'CAP_AUDIT_WRITE', 'CAP_AUDIT_CONTROL',
  'CAP_SETFCAP', 'CAP_MAC_OVERRIDE', 'CAP_MAC_ADMIN', 'CAP_SYSLOG', 'CAP_WAKE_ALARM',
  'CAP_BLOCK_SUSPEND', 'CAP_AUDIT_READ', 'CAP_PERFMON', 'CAP_BPF', 'CAP_CHECKPOINT_RESTORE',
];

/**
 * cradle's default: cri-o's 9 capabilities (cri-o pkg/config DefaultCapabilities).
 * containerd and Docker add AUDIT_WRITE, MKNOD, NET_RAW, SYS_CHROOT and SETFCAP; cradle
 * leaves them out: NET_RAW allows packet spoofing on the pod network and has carried
 * kernel CVEs (CVE-2020-14386), MKNOD is useless under the device cgroup, and pods that
 * need any of them can add them in their securityContext.
 */
export const CRIO_DEFAULT_CAPABILITIES: readonly string[] = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FSETID', 'CAP_FOWNER', 'CAP_SETGID', 'CAP_SETUID',
  'CAP_SETPCAP', 'CAP_NET_BIND_SERVICE', 'CAP_KILL',
];

/** containerd's (and Docker's) 14 defaults, for operators who want them. */
export const CONTAINERD_DEFAULT_CAPABILITIES: readonly string[] = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FSETID', 'CAP_FOWNER', 'CAP_MKNOD', 'CAP_NET_RAW',
  'CAP_SETGID', 'CAP_SETUID', 'CAP_SETFCAP', 'CAP_SETPCAP', 'CAP_NET_BIND_SERVICE',
  'CAP_SYS_CHROOT', 'CAP_KILL', 'CAP_AUDIT_WRITE',
];

/** Normalises "net_admin" / "CAP_NET_ADMIN" to "CAP_NET_ADMIN"; null if unknown. */
export function normalizeCapability(name: string, known: readonly string[] = ALL_CAPABILITIES): string | null {
  const upper = name.trim().toUpperCase();
  const full = upper.startsWith('CAP_') ? upper : `CAP_${upper}`;
  return known.includes(full) ? full : null;
}

const FIELD = 'config.linux.securityContext.capabilities';

function isAll(name: string): boolean {
  return name.trim().toUpperCase() === 'ALL' || name.trim().toUpperCase() === 'CAP_ALL';
}

/**
 * The capability set, as cri-o computes it (SpecSetupCapabilities):
 * 1. start from the defaults; "ALL" in add makes it every capability; "ALL" in drop then
 *    empties it (drop ALL wins over add ALL);
 * 2. named adds are added, then named drops removed (a capability both added and dropped is dropped).
 * Ambient capabilities are also put into every other set (the kernel requires them in
 * permitted and inheritable). Inheritable is otherwise empty (CVE-2022-27652).
 */
export function buildCapabilities(
  caps: Capability__Output | null,
  privileged: boolean,
  defaults: readonly string[],
  all: readonly string[] = ALL_CAPABILITIES,
): Required<OciCapabilities> {
  if (privileged) {
    return { bounding: [...all], effective: [...all], permitted: [...all], inheritable: [], ambient: [] };
  }
  const add = caps?.addCapabilities ?? [];
  const drop = caps?.dropCapabilities ?? [];
  const ambientNames = caps?.addAmbientCapabilities ?? [];
  const check = (list: readonly string[], which: string, allowAll: boolean): string[] =>
    list.flatMap((name, i) => {
      if (isAll(name)) {
        if (allowAll) return [];
        throw errors.invalidField(`${FIELD}.${which}[${i}]`, '"ALL" is not allowed here');
      }
      const cap = normalizeCapability(name, [...ALL_CAPABILITIES, ...all]);
      if (!cap) throw errors.invalidField(`${FIELD}.${which}[${i}]`, `unknown capability ${JSON.stringify(name)}`);
      // Dropping what the host cannot grant is a no-op; adding it cannot work.
      if (!all.includes(cap) && which !== 'dropCapabilities') {
        throw errors.invalidField(`${FIELD}.${which}[${i}]`, `capability ${cap} is not available to cradle on this host`);
      }
      return [cap];
    });
  const added = check(add, 'addCapabilities', true);
  const dropped = check(drop, 'dropCapabilities', true);
  const ambient = check(ambientNames, 'addAmbientCapabilities', false);

  let set: string[];
  if (drop.some(isAll)) set = [];
  else if (add.some(isAll)) set = [...all];
  // Configured defaults the host cannot grant are left out rather than failing every container.
  else set = defaults.flatMap((d) => normalizeCapability(d, all) ?? []);
  for (const c of added) if (!set.includes(c)) set.push(c);
  set = set.filter((c) => !dropped.includes(c));
  for (const c of ambient) if (!set.includes(c)) set.push(c);
  const ordered = all.filter((c) => set.includes(c));
  const ambientOrdered = all.filter((c) => ambient.includes(c));
  return {
    bounding: ordered,
    effective: [...ordered],
    permitted: [...ordered],
    inheritable: ambientOrdered,
    ambient: [...ambientOrdered],
  };
}
