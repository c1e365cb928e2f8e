// The cgroup driver cradle uses, from the runtime.cgroup_manager setting. "auto"
// (the default) follows the host as the kubelet's own default advice does: where
// systemd is PID 1 it owns the cgroup tree, and a second manager writing beside it
// fights it, so the systemd driver; cgroupfs elsewhere (no systemd, or cgroup v1,
// where cradle's systemd driver does not run).
import * as fs from 'node:fs';
import type { CgroupManager } from '../config/schema';
import type * as Cgroups from '../oci-runtime/cgroups';
import type { CgroupDriver } from './oci-config/inputs';

export interface CgroupHost {
  /** systemd is PID 1: /run/systemd/system exists (the test of sd_booted(3)). */
  systemdBooted: boolean;
  /** The unified hierarchy is mounted at /sys/fs/cgroup. */
  unified: boolean;
}

export function probeCgroupHost(): CgroupHost {
  return { systemdBooted: fs.existsSync('/run/systemd/system'), unified: fs.existsSync('/sys/fs/cgroup/cgroup.controllers') };
}

let probed: CgroupHost | undefined;

/** The driver for a setting; the host is probed once per process (it does not change under a running daemon). */
export function cgroupDriverFor(setting: CgroupManager, host: CgroupHost = (probed ??= probeCgroupHost())): CgroupDriver {
  if (setting !== 'auto') return setting;
  return host.systemdBooted && host.unified ? 'systemd' : 'cgroupfs';
}

/** Cgroup limits as the runtime program's cgroup managers take them. */
export type PodCgroupLimits = Parameters<Cgroups.CgroupManager['set']>[0];

/**
 * Writes a pod's cgroup limits (UpdatePodSandboxResources): a slice's properties and
 * files under systemd, the parent's files under cgroupfs. The runtime program's cgroup
 * code loads at the first call.
 */
export function setPodCgroupLimits(cgroupParent: string, driver: CgroupDriver, limits: PodCgroupLimits): void {
  (require('../oci-runtime/cgroups') as typeof Cgroups).podCgroupManager(cgroupParent, driver === 'systemd').set(limits);
}
