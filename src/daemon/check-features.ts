// The feature half of `cradled check`: what the node gives the optional CRI features
// (the cgroup driver and whether creates under systemd run natively, AppArmor, pods
// with their own user namespace, CRIU for checkpoints), each said with what a
// missing piece means for workloads. The host is probed once; the findings are a
// pure function of it, so tests give a made-up host.
import * as fs from 'node:fs';
import type { CradleConfig } from '../config/schema';
import { StateLayout } from '../common/state-layout';
import { shippedBinary } from '../common/package-info';
import { cgroupDriverFor, probeCgroupHost, type CgroupHost } from '../runtime/cgroup-driver';
import { DEFAULT_APPARMOR_PROFILE } from '../runtime/apparmor-default';
import { UNCONFINED as APPARMOR_UNCONFINED } from '../runtime/oci-config/apparmor';
import { findCriu } from '../containers/criu-binary';
import { appArmorEnabled, appArmorParserPath, loadedAppArmorProfiles } from '../sys/apparmor';
import { SYSTEMD_PRIVATE_SOCKET } from '../sys/systemd-manager';
import { probeUsernsSupport, type UsernsSupport } from '../sys/userns-support';
import type { CheckFinding, CheckLevel } from './check';

export interface FeatureHost {
  cgroups: CgroupHost;
  /** systemd's private socket exists: the launcher's way to systemd. */
  systemdPrivateSocket: boolean;
  apparmor: { enabled: boolean; loaded: Set<string>; parser: string | undefined };
  /** Not probed: no line. */
  userns: UsernsSupport | undefined;
  criu: string | undefined;
}

export function probeFeatureHost(config: CradleConfig, probeUserns = true): FeatureHost {
  const enabled = appArmorEnabled();
  const parser = appArmorParserPath();
  const layout = StateLayout.of(config);
  const usernsDir = fs.existsSync(layout.imageRoot) ? layout.imageRoot : fs.existsSync(layout.root) ? layout.root : '/var/tmp';
  return {
    cgroups: probeCgroupHost(),
    systemdPrivateSocket: fs.existsSync(SYSTEMD_PRIVATE_SOCKET),
    apparmor: { enabled, loaded: enabled ? loadedAppArmorProfiles() : new Set(), parser: parser.startsWith('/') ? parser : undefined },
    userns: probeUserns ? probeUsernsSupport(shippedBinary('cradle-runtime'), usernsDir) : undefined,
    criu: findCriu(),
  };
}

export function checkFeatures(config: CradleConfig, host: FeatureHost): CheckFinding[] {
  const findings: CheckFinding[] = [];
  const add = (level: CheckLevel, what: string, detail: string) => findings.push({ level, what, detail });

  const setting = config.runtime.cgroup_manager;
  const driver = cgroupDriverFor(setting, host.cgroups);
  if (driver === 'systemd') {
    if (!host.cgroups.unified) add('fail', 'cgroup driver', 'systemd: cradle\'s systemd driver needs cgroup v2 (set runtime.cgroup_manager = "cgroupfs", or boot with systemd.unified_cgroup_hierarchy=1)');
    else if (host.systemdPrivateSocket) add('ok', 'cgroup driver', `systemd${setting === 'auto' ? ' (auto)' : ''}: a transient scope per container, made by the native launcher through ${SYSTEMD_PRIVATE_SOCKET}; the kubelet needs --cgroup-driver=systemd`);
    else add('warn', 'cgroup driver', `systemd, but ${SYSTEMD_PRIVATE_SOCKET} is missing: creates take the Node init (a 16 MiB memory floor, no user namespaces) and reach systemd through the system bus`);
  } else if (host.cgroups.systemdBooted) {
    add('warn', 'cgroup driver', 'cgroupfs on a node whose cgroup tree systemd manages: both write it (runtime.cgroup_manager = "auto" picks systemd); the kubelet needs --cgroup-driver=cgroupfs');
  } else {
    add('ok', 'cgroup driver', `cgroupfs${setting === 'auto' ? ' (auto: systemd is not PID 1 or cgroup v2 is not mounted)' : ''}; the kubelet needs --cgroup-driver=cgroupfs`);
  }

  const profile = config.runtime.apparmor_profile;
  const aa = host.apparmor;
  if (!aa.enabled) {
    add('ok', 'AppArmor', 'not enabled on this kernel: RuntimeDefault runs without a profile, Localhost profiles are refused');
  } else if (profile === APPARMOR_UNCONFINED) {
    add('warn', 'AppArmor', 'enabled, but runtime.apparmor_profile is "unconfined": RuntimeDefault runs without a profile');
  } else if (aa.loaded.has(profile)) {
    add('ok', 'AppArmor', `enabled; the default profile ${profile} is loaded`);
  } else if (profile !== DEFAULT_APPARMOR_PROFILE) {
    add('fail', 'AppArmor', `enabled; runtime.apparmor_profile ${JSON.stringify(profile)} is not loaded, so cradled will not start (load it with apparmor_parser)`);
  } else if (aa.parser) {
    add('ok', 'AppArmor', `enabled; cradled loads ${profile} at start with ${aa.parser}`);
  } else {
    add('fail', 'AppArmor', `enabled, and apparmor_parser is missing: cradled cannot load ${profile} and will not start (apt-get install apparmor, or runtime.apparmor_profile = "unconfined")`);
  }

  if (host.userns) {
    add(host.userns.supported ? 'ok' : 'warn', 'user namespaces', host.userns.supported
      ? 'pods with hostUsers: false run in their own user namespace (idmapped layers and volumes)'
      : `not available, pods with hostUsers: false are refused: ${host.userns.reason ?? 'unknown reason'}`);
  }

  add(host.criu ? 'ok' : 'warn', 'CRIU', host.criu
    ? `${host.criu}: CheckpointContainer and restores from checkpoint archives`
    : 'criu not found: CheckpointContainer and restores from checkpoint archives are refused (apt-get install criu)');
  return findings;
}
