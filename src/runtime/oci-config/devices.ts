// Devices: CRI devices (host path → container path, permissions) and privileged mode
// (every host device, device cgroup open).
import * as path from 'node:path';
import { errors } from '../../common/errors';
import type { Device__Output } from '../../generated/runtime/v1/Device';
import type { HostDevice, HostProbe } from './host-probe';
import type { OciDevice, OciDeviceCgroup } from '../../common/oci-spec';

export interface DevicesResult {
  devices: OciDevice[];
  /** Device cgroup rules: deny all, then one allow per device (runc adds its defaults for /dev/null & co). */
  cgroup: OciDeviceCgroup[];
}

function ociDevice(dev: HostDevice, containerPath: string): OciDevice {
  return { type: dev.type, path: containerPath, major: dev.major, minor: dev.minor, fileMode: dev.fileMode, uid: dev.uid, gid: dev.gid };
}

export function buildDevices(devices: readonly Device__Output[], privileged: boolean, probe: HostProbe): DevicesResult {
  if (privileged) {
    const all = probe.devicesUnder('/dev').map((d) => ociDevice(d, d.path));
    return { devices: all, cgroup: [{ allow: true, access: 'rwm' }] };
  }
  const out: OciDevice[] = [];
  const cgroup: OciDeviceCgroup[] = [{ allow: false, access: 'rwm' }];
  devices.forEach((d, i) => {
    const f = `config.devices[${i}]`;
    const access = d.permissions === '' ? 'rwm' : d.permissions;
    if (!/^[rwm]{1,3}$/.test(access) || new Set(access).size !== access.length) {
      throw errors.invalidField(`${f}.permissions`, `${JSON.stringify(d.permissions)} is not a combination of r, w and m`);
    }
    if (!d.hostPath.startsWith('/')) throw errors.invalidField(`${f}.hostPath`, `${JSON.stringify(d.hostPath)} is not an absolute path`);
    const containerPath = d.containerPath === '' ? d.hostPath : d.containerPath;
    if (!containerPath.startsWith('/')) throw errors.invalidField(`${f}.containerPath`, `${JSON.stringify(d.containerPath)} is not an absolute path`);
    if (!path.posix.normalize(containerPath).startsWith('/dev/')) throw errors.invalidField(`${f}.containerPath`, `${JSON.stringify(d.containerPath)} is not under /dev`);
    let found: HostDevice | 'directory' | null;
    try {
      found = probe.device(d.hostPath);
    } catch (err) {
      throw errors.invalidField(`${f}.hostPath`, (err as Error).message);
    }
    if (found === null) throw errors.invalidField(`${f}.hostPath`, `device ${d.hostPath} does not exist`);
    // A directory stands for every device under it, at the same relative path (cri-o).
    const list = found === 'directory'
      ? probe.devicesUnder(d.hostPath).map((dev) => ({ dev, at: path.posix.join(containerPath, path.posix.relative(d.hostPath, dev.path)) }))
      : [{ dev: found, at: containerPath }];
    for (const { dev, at } of list) {
      out.push(ociDevice(dev, at));
      cgroup.push({ allow: true, type: dev.type, major: dev.major, minor: dev.minor, access });
    }
  });
  return { devices: out, cgroup };
}
