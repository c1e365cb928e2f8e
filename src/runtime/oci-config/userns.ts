// A pod's user namespace (KEP-127, hostUsers: false): the kubelet's uid/gid mappings,
// checked before anything is created, and their OCI and kernel forms.
import { errors } from '../../common/errors';
import type { UserNamespace__Output } from '../../generated/runtime/v1/UserNamespace';
import type { IDMapping__Output } from '../../generated/runtime/v1/IDMapping';
import type { OciIdMapping } from '../../common/oci-spec';

export interface IdMapping {
  containerId: number;
  hostId: number;
  length: number;
}

/** The mappings of a pod's user namespace (mode POD). */
export interface PodUserns {
  uids: IdMapping[];
  gids: IdMapping[];
}

/** Lines a uid_map/gid_map accepts (the kernel's limit since Linux 4.15). */
export const MAX_ID_MAP_LINES = 340;
/** IDs are 32-bit and (uid_t)-1 is never a valid one, so a range ends at 2^32 - 1. */
const ID_LIMIT = 2 ** 32 - 1;

function checkRanges(maps: readonly IdMapping[], key: 'containerId' | 'hostId', field: string, kind: string): void {
  const sorted = [...maps].sort((a, b) => a[key] - b[key]);
  for (let i = 1; i < sorted.length; i++) {
    const prev = sorted[i - 1]!;
    if (sorted[i]![key] < prev[key] + prev.length) {
      throw errors.invalidField(field, `${kind} ranges overlap: ${prev[key]}+${prev.length} and ${sorted[i]![key]}+${sorted[i]!.length}`);
    }
  }
}

/** One list of mappings (uids or gids), as the kernel would accept it for a pod that is not the host's root. */
export function validateIdMappings(maps: readonly IDMapping__Output[], field: string, what: 'uid' | 'gid'): IdMapping[] {
  const out = checkIdMappings(maps, field, what);
  // The point of hostUsers: false: no id of the pod is the host's root.
  out.forEach((m, i) => {
    if (m.hostId === 0) throw errors.invalidField(`${field}[${i}].hostId`, `maps the host's root ${what} 0 into the pod`);
  });
  if (!out.some((m) => m.containerId === 0)) throw errors.invalidField(field, `container ${what} 0 is not mapped`);
  return out;
}

/** Mount.uid_mappings/gid_mappings of an idmapped volume: well-formed ranges the kernel accepts. */
export function validateMountMappings(maps: readonly IDMapping__Output[], field: string): IdMapping[] {
  return checkIdMappings(maps, field, field.endsWith('gidMappings') ? 'gid' : 'uid');
}

function checkIdMappings(maps: readonly IDMapping__Output[], field: string, what: 'uid' | 'gid'): IdMapping[] {
  if (maps.length === 0) throw errors.invalidField(field, `at least one ${what} mapping is required`);
  if (maps.length > MAX_ID_MAP_LINES) throw errors.invalidField(field, `${maps.length} ${what} mappings: the kernel accepts at most ${MAX_ID_MAP_LINES}`);
  const out: IdMapping[] = [];
  maps.forEach((m, i) => {
    const f = `${field}[${i}]`;
    for (const key of ['containerId', 'hostId', 'length'] as const) {
      if (!Number.isInteger(m[key]) || m[key] < 0 || m[key] > ID_LIMIT) throw errors.invalidField(`${f}.${key}`, `${String(m[key])} is not a 32-bit id`);
    }
    if (m.length === 0) throw errors.invalidField(`${f}.length`, 'must be at least 1');
    if (m.containerId + m.length > ID_LIMIT) throw errors.invalidField(f, `container ${what}s ${m.containerId}+${m.length} run past ${ID_LIMIT - 1}`);
    if (m.hostId + m.length > ID_LIMIT) throw errors.invalidField(f, `host ${what}s ${m.hostId}+${m.length} run past ${ID_LIMIT - 1}`);
    out.push({ containerId: m.containerId, hostId: m.hostId, length: m.length });
  });
  checkRanges(out, 'containerId', field, `container ${what}`);
  checkRanges(out, 'hostId', field, `host ${what}`);
  return out;
}

/**
 * NamespaceOption.userns_options of a pod: undefined for the host's user namespace
 * (NODE or unset), the checked mappings for POD. CONTAINER and TARGET are refused:
 * the kubelet only asks for a user namespace shared by the pod.
 */
export function validatePodUserns(opts: UserNamespace__Output | null | undefined, field: string): PodUserns | undefined {
  if (!opts) return undefined;
  if (opts.mode === 'NODE') {
    if (opts.uids.length > 0 || opts.gids.length > 0) throw errors.invalidField(`${field}.mode`, 'uid/gid mappings are only valid with mode POD');
    return undefined;
  }
  if (opts.mode !== 'POD') throw errors.invalidField(`${field}.mode`, `user namespace mode ${String(opts.mode)} is not supported (POD or NODE)`);
  return { uids: validateIdMappings(opts.uids, `${field}.uids`, 'uid'), gids: validateIdMappings(opts.gids, `${field}.gids`, 'gid') };
}

/** The host id of container id `id`, or undefined when it is not mapped. */
export function hostIdOf(maps: readonly IdMapping[], id: number): number | undefined {
  const m = maps.find((r) => id >= r.containerId && id < r.containerId + r.length);
  return m ? m.hostId + (id - m.containerId) : undefined;
}

/** OCI LinuxIDMapping form (linux.uidMappings, mounts[].uidMappings). */
export function ociIdMappings(maps: readonly IdMapping[]): OciIdMapping[] {
  return maps.map((m) => ({ containerID: m.containerId, hostID: m.hostId, size: m.length }));
}

/**
 * The process's ids must be ids of the pod's user namespace: the kernel refuses to
 * switch to an unmapped one (EINVAL at the container's start otherwise).
 */
export function checkIdsMapped(userns: PodUserns, user: { uid: number; gid: number; additionalGids: readonly number[] }, field: string): void {
  const range = (maps: readonly IdMapping[]) => maps.map((m) => `${m.containerId}-${m.containerId + m.length - 1}`).join(', ');
  if (hostIdOf(userns.uids, user.uid) === undefined) throw errors.invalidField(field, `uid ${user.uid} is not mapped in the pod's user namespace (uids ${range(userns.uids)})`);
  for (const gid of [user.gid, ...user.additionalGids]) {
    if (hostIdOf(userns.gids, gid) === undefined) throw errors.invalidField(field, `gid ${gid} is not mapped in the pod's user namespace (gids ${range(userns.gids)})`);
  }
}
