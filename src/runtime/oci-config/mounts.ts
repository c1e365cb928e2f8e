// Mounts of a container: the standard Linux filesystems, the files the sandbox provides
// (/etc/hosts, /etc/resolv.conf, /etc/hostname, /dev/shm), CRI mounts with propagation,
// and anonymous volumes for the image's VOLUMEs. Masked and read-only paths.
import { createHash } from 'node:crypto';
import * as path from 'node:path';
import { errors } from '../../common/errors';
import type { Mount__Output } from '../../generated/runtime/v1/Mount';
import type { HostProbe } from './host-probe';
import type { OciMount } from '../../common/oci-spec';
import { ociIdMappings, validateMountMappings, type PodUserns } from './userns';

/** containerd's default masked paths (also cri-o's). */
export const DEFAULT_MASKED_PATHS: readonly string[] = [
  '/proc/acpi', '/proc/asound', '/proc/kcore', '/proc/keys', '/proc/latency_stats', '/proc/timer_list',
  '/proc/timer_stats', '/proc/sched_debug', '/proc/scsi', '/sys/firmware', '/sys/devices/virtual/powercap',
];

export const DEFAULT_READONLY_PATHS: readonly string[] = [
  '/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger',
];

/** The standard filesystems (containerd's default spec). Privileged: sysfs and cgroupfs read-write. */
export function standardMounts(privileged: boolean): OciMount[] {
  const ro = privileged ? 'rw' : 'ro';
  return [
    { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
    { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'] },
    { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', ro] },
    { destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['nosuid', 'noexec', 'nodev', 'relatime', ro] },
  ];
}

/** /dev/shm: the pod's shm directory bind-mounted, or a private tmpfs when there is none. */
export function shmMount(shmPath: string | undefined): OciMount {
  if (shmPath) return { destination: '/dev/shm', type: 'bind', source: shmPath, options: ['rbind', 'nosuid', 'noexec', 'nodev', 'rw'] };
  return { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'] };
}

/** The sandbox's /etc files; read-only when the container's rootfs is (containerd). */
export function sandboxFileMounts(
  files: { hostsPath?: string | undefined; resolvConfPath?: string | undefined; hostnamePath?: string | undefined },
  readonlyRootfs: boolean,
): OciMount[] {
  const mode = readonlyRootfs ? 'ro' : 'rw';
  const out: OciMount[] = [];
  if (files.hostnamePath) out.push({ destination: '/etc/hostname', type: 'bind', source: files.hostnamePath, options: ['rbind', 'rprivate', mode] });
  if (files.hostsPath) out.push({ destination: '/etc/hosts', type: 'bind', source: files.hostsPath, options: ['rbind', 'rprivate', mode] });
  if (files.resolvConfPath) {
    out.push({ destination: '/etc/resolv.conf', type: 'bind', source: files.resolvConfPath, options: ['rbind', 'rprivate', 'nosuid', 'nodev', 'noexec', mode] });
  }
  return out;
}

export interface CriMountsResult {
  mounts: OciMount[];
  /** Destinations of image mounts: their overlays are made on idmapped layers already, never idmapped again. */
  imageDestinations: Set<string>;
  /** 'rshared' if a mount is bidirectional, 'rslave' if one is host-to-container, else undefined. */
  rootfsPropagation?: 'rshared' | 'rslave';
}

const PROPAGATION = {
  PROPAGATION_PRIVATE: 'rprivate',
  PROPAGATION_HOST_TO_CONTAINER: 'rslave',
  PROPAGATION_BIDIRECTIONAL: 'rshared',
} as const;

/** Options of an image mount (KEP-4639): read-only, and nothing in it runs or opens devices, as cri-o. */
const IMAGE_MOUNT_OPTIONS = ['rbind', 'rprivate', 'ro', 'nosuid', 'nodev', 'noexec'];

/**
 * Turns CRI mounts into OCI bind mounts, checking sources and propagation on the host.
 * Image mounts (`image` set) bind what the caller mounted for them: `imageSources` maps
 * the mount's index to that host path (its `image_sub_path` already applied).
 */
export function buildCriMounts(
  mounts: readonly Mount__Output[], probe: HostProbe, supportsRecursiveReadOnly: boolean, imageSources: ReadonlyMap<number, string> = new Map(),
  userns?: PodUserns,
): CriMountsResult {
  const out: OciMount[] = [];
  const imageDestinations = new Set<string>();
  let rootfsPropagation: CriMountsResult['rootfsPropagation'];
  const seen = new Set<string>();
  mounts.forEach((m, i) => {
    const f = `config.mounts[${i}]`;
    const idmapped = m.uidMappings.length > 0 || m.gidMappings.length > 0;
    if (idmapped && !userns) throw errors.invalidField(`${f}.uidMappings`, 'idmapped mounts are only supported in a pod with its own user namespace');
    const mappings = idmapped ? {
      uidMappings: ociIdMappings(validateMountMappings(m.uidMappings, `${f}.uidMappings`)),
      gidMappings: ociIdMappings(validateMountMappings(m.gidMappings, `${f}.gidMappings`)),
    } : {};
    if (!m.containerPath.startsWith('/')) throw errors.invalidField(`${f}.containerPath`, `${JSON.stringify(m.containerPath)} is not an absolute path`);
    const destination = path.posix.normalize(m.containerPath).replace(/(.)\/$/, '$1');
    if (destination === '/') throw errors.invalidField(`${f}.containerPath`, 'cannot mount over the container root');
    if (seen.has(destination)) throw errors.invalidField(`${f}.containerPath`, `${destination} is mounted twice`);
    seen.add(destination);
    if (m.image && m.image.image !== '') {
      const source = imageSources.get(i);
      if (source === undefined) throw errors.internal(`${f}.image: the image ${m.image.image} was not mounted for this container`);
      out.push({ destination, type: 'bind', source, options: [...IMAGE_MOUNT_OPTIONS] });
      imageDestinations.add(destination);
      return;
    }
    if (!m.hostPath.startsWith('/')) throw errors.invalidField(`${f}.hostPath`, `${JSON.stringify(m.hostPath)} is not an absolute path`);
    const source = probe.realPath(m.hostPath);
    if (source === null) throw errors.invalidField(`${f}.hostPath`, `mount source ${m.hostPath} does not exist`);
    const propagation = PROPAGATION[m.propagation];
    if (!propagation) throw errors.invalidField(`${f}.propagation`, `unknown propagation ${String(m.propagation)}`);
    if (m.propagation !== 'PROPAGATION_PRIVATE') {
      const hostMode = probe.mountPropagation(source);
      if (m.propagation === 'PROPAGATION_BIDIRECTIONAL' && hostMode !== 'shared') {
        throw errors.invalidField(`${f}.propagation`, `bidirectional propagation needs ${source} on a shared host mount (it is ${hostMode})`);
      }
      if (m.propagation === 'PROPAGATION_HOST_TO_CONTAINER' && hostMode === 'private') {
        throw errors.invalidField(`${f}.propagation`, `host-to-container propagation needs ${source} on a shared or slave host mount (it is private)`);
      }
      if (m.propagation === 'PROPAGATION_BIDIRECTIONAL') rootfsPropagation = 'rshared';
      else if (rootfsPropagation !== 'rshared') rootfsPropagation = 'rslave';
    }
    const options = ['rbind', propagation, m.readonly ? 'ro' : 'rw'];
    if (m.recursiveReadOnly) {
      if (!m.readonly) throw errors.invalidField(`${f}.recursiveReadOnly`, 'requires readonly');
      if (m.propagation !== 'PROPAGATION_PRIVATE') throw errors.invalidField(`${f}.recursiveReadOnly`, 'requires PROPAGATION_PRIVATE');
      if (!supportsRecursiveReadOnly) throw errors.invalidField(`${f}.recursiveReadOnly`, 'recursive read-only mounts are not supported by the OCI runtime');
      options.push('rro');
    }
    // selinux_relabel is ignored: cradle does not run with SELinux.
    out.push({ destination, type: 'bind', source, options, ...mappings });
  });
  const result: CriMountsResult = { mounts: out, imageDestinations };
  if (rootfsPropagation) result.rootfsPropagation = rootfsPropagation;
  return result;
}

export interface ImageVolume {
  containerPath: string;
  /** Host directory the caller must create (and may seed from the image) before creating the container. */
  hostPath: string;
}

/** Anonymous volumes for the image's VOLUMEs not already covered by a CRI mount. */
export function imageVolumes(volumes: Record<string, unknown> | null | undefined, root: string, taken: ReadonlySet<string>): ImageVolume[] {
  const out: ImageVolume[] = [];
  // Sorted by container path so a parent volume is mounted before one nested in it.
  const paths = Object.keys(volumes ?? {}).map((raw) => path.posix.normalize('/' + raw).replace(/(.)\/$/, '$1')).sort();
  for (const containerPath of paths) {
    if (containerPath === '/' || taken.has(containerPath) || out.some((v) => v.containerPath === containerPath)) continue;
    const name = createHash('sha256').update(containerPath).digest('hex').slice(0, 16);
    out.push({ containerPath, hostPath: path.join(root, name) });
  }
  return out;
}

export function imageVolumeMounts(volumes: readonly ImageVolume[]): OciMount[] {
  return volumes.map((v) => ({ destination: v.containerPath, type: 'bind', source: v.hostPath, options: ['rbind', 'rprivate', 'rw'] }));
}

/**
 * Final mount list: standard and sandbox mounts first, then image volumes and CRI mounts.
 * A CRI mount replaces any other mount with the same destination (kubelet's own
 * /etc/hosts, for example); mounts under a replaced /dev or /sys stay.
 */
export function mergeMounts(base: readonly OciMount[], volumes: readonly OciMount[], cri: readonly OciMount[]): OciMount[] {
  const criDest = new Set(cri.map((m) => m.destination));
  // runc mounts in order: a parent must come before what is mounted inside it, so volumes
  // and CRI mounts are stably ordered by depth (containerd's orderedMounts).
  const depth = (m: OciMount) => m.destination.split('/').filter(Boolean).length;
  const user = [...volumes.filter((m) => !criDest.has(m.destination)), ...cri].sort((a, b) => depth(a) - depth(b));
  return [...base.filter((m) => !criDest.has(m.destination)), ...user];
}
