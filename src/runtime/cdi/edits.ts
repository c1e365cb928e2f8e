// CDI container edits applied to a container's OCI spec, with the reference library's
// semantics (pkg/cdi/container-edits.go): env entries replace the same variable;
// device nodes get what the spec leaves out from the host node, replace a device at
// the same path and are allowed in the device cgroup; mounts replace a mount at the
// same destination and the list is ordered by depth; hooks are appended; additional
// GIDs other than 0 are added.
import * as fs from 'node:fs';
import { deviceNumbers } from '../oci-config/host-probe';
import type { OciDevice, OciMount } from '../../common/oci-spec';
import type { BuiltSpec } from '../oci-config/built-spec';
import type { CdiContainerEdits, CdiDeviceNode } from './spec-file';

export class CdiEditError extends Error {}

interface HostNode {
  type: 'b' | 'c' | 'p';
  major: number;
  minor: number;
  fileMode: number;
}

function hostNode(p: string): HostNode {
  const st = fs.lstatSync(p, { bigint: true });
  const type = st.isBlockDevice() ? 'b' : st.isCharacterDevice() ? 'c' : st.isFIFO() ? 'p' : null;
  if (!type) throw new Error('not a device node');
  return { type, ...deviceNumbers(st.rdev), fileMode: Number(st.mode & 0o7777n) };
}

/** The OCI device for a CDI node, the host's node filling what the spec leaves out. */
function ociDevice(node: CdiDeviceNode, user: { uid: number; gid: number }): OciDevice {
  const hostPath = node.hostPath ?? node.path;
  // A type and a major (or a fifo) are enough: the host node need not exist then.
  const minimal = node.type !== undefined && ((node.major ?? 0) !== 0 || node.type === 'p');
  let host: HostNode | undefined;
  try {
    host = hostNode(hostPath);
  } catch (err) {
    if (!minimal) throw new CdiEditError(`CDI device node ${node.path}: host device ${hostPath}: ${(err as Error).message}`);
  }
  let { type, major = 0, minor = 0 } = node;
  if (!minimal && host) {
    type ??= host.type;
    if (type !== host.type && !(type === 'u' && host.type === 'c')) {
      throw new CdiEditError(`CDI device node ${node.path}: type ${type} but host device ${hostPath} is ${host.type}`);
    }
    if (major === 0) ({ major, minor } = host);
  }
  const dev: OciDevice = { type: type!, path: node.path, major, minor };
  const fileMode = node.fileMode ?? host?.fileMode;
  if (fileMode !== undefined) dev.fileMode = fileMode;
  // Owned by the container's user unless the spec says otherwise (the reference does the same).
  const uid = node.uid ?? (user.uid > 0 ? user.uid : undefined);
  const gid = node.gid ?? (user.gid > 0 ? user.gid : undefined);
  if (uid !== undefined) dev.uid = uid;
  if (gid !== undefined) dev.gid = gid;
  return dev;
}

const depth = (m: OciMount): number => m.destination.split('/').filter(Boolean).length;

function applyOne(spec: BuiltSpec, e: CdiContainerEdits): void {
  if (e.intelRdt) throw new CdiEditError('intelRdt edits are not applied by cradle');
  if (e.netDevices?.length) throw new CdiEditError('netDevices edits are not applied by cradle');
  const env = spec.process.env;
  for (const entry of e.env ?? []) {
    const key = entry.slice(0, entry.indexOf('='));
    const at = env.findIndex((v) => v.slice(0, v.indexOf('=')) === key);
    if (at >= 0) env[at] = entry;
    else env.push(entry);
  }
  for (const node of e.deviceNodes ?? []) {
    const dev = ociDevice(node, spec.process.user);
    spec.linux.devices = [...(spec.linux.devices ?? []).filter((d) => d.path !== dev.path), dev];
    if (dev.type === 'b' || dev.type === 'c') {
      const access = node.permissions === 'none' ? '' : (node.permissions || 'rwm');
      const resources = spec.linux.resources ??= {};
      (resources.devices ??= []).push({ allow: true, type: dev.type, major: dev.major, minor: dev.minor, access });
    }
  }
  if (e.mounts?.length) {
    for (const m of e.mounts) {
      const options = m.options ?? [];
      const type = m.type ?? (options.includes('bind') || options.includes('rbind') ? 'bind' : undefined);
      const mount: OciMount = { destination: m.containerPath, source: m.hostPath, options: [...options] };
      if (type) mount.type = type;
      spec.mounts = [...spec.mounts.filter((x) => x.destination !== m.containerPath), mount];
    }
    // Parents before children; Array.prototype.sort is stable, so the rest keeps its order.
    spec.mounts.sort((a, b) => depth(a) - depth(b));
  }
  for (const h of e.hooks ?? []) {
    const hook = { path: h.path, ...(h.args ? { args: [...h.args] } : {}), ...(h.env ? { env: [...h.env] } : {}), ...(h.timeout ? { timeout: h.timeout } : {}) };
    const hooks = spec.hooks ??= {};
    (hooks[h.hookName as keyof typeof hooks] ??= []).push(hook);
  }
  for (const gid of e.additionalGids ?? []) {
    if (gid === 0) continue;
    const gids = spec.process.user.additionalGids ??= [];
    if (!gids.includes(gid)) gids.push(gid);
  }
}

/** Applies every edit in order; on an error the spec may be half edited (the caller drops it). */
export function applyCdiEdits(spec: BuiltSpec, edits: readonly CdiContainerEdits[]): void {
  for (const e of edits) applyOne(spec, e);
}
