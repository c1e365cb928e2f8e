// cradle's default AppArmor profile (what RuntimeDefault means), in the shape of
// cri-o's crio-default and containerd's cri-containerd.apparmor.d: everything
// allowed except mount, writes to the kernel's knobs in /proc and /sys, and the
// kernel's memory; signals and ptrace only among the profile's own processes (and
// signals from the unconfined host tools: runtime, conmon, kubelet).
import * as fs from 'node:fs';
import { appArmorEnabled, loadAppArmorProfile, loadedAppArmorProfiles } from '../sys/apparmor';
import { UNCONFINED as APPARMOR_UNCONFINED, type AppArmorHost } from './oci-config/apparmor';

export const DEFAULT_APPARMOR_PROFILE = 'cradle-default';

/** The profile's policy text; `apparmorDir` is where the distribution's abstractions live. */
export function defaultAppArmorPolicy(name: string, apparmorDir = '/etc/apparmor.d'): string {
  // Includes only where the apparmor package installed them; @{PROC} is then defined here.
  const tunables = fs.existsSync(`${apparmorDir}/tunables/global`);
  const base = fs.existsSync(`${apparmorDir}/abstractions/base`);
  return [
    tunables ? '#include <tunables/global>' : '@{PROC}=/proc/',
    '',
    `profile ${name} flags=(attach_disconnected,mediate_deleted) {`,
    ...(base ? ['  #include <abstractions/base>', ''] : []),
    '  network,',
    '  capability,',
    '  file,',
    '  umount,',
    '  signal (receive) peer=unconfined,',
    `  signal (send,receive) peer=${name},`,
    `  ptrace (trace,read,tracedby,readby) peer=${name},`,
    '',
    '  deny mount,',
    '  # Writes to /proc itself and to what is not a process directory or /proc/sys/kernel/shm*.',
    '  deny @{PROC}/* w,',
    '  deny @{PROC}/{[^1-9],[^1-9][^0-9],[^1-9s][^0-9y][^0-9s],[^1-9][^0-9][^0-9][^0-9]*}/** w,',
    '  deny @{PROC}/sys/[^k]** w,',
    '  deny @{PROC}/sys/kernel/{?,??,[^s][^h][^m]**} w,',
    '  deny @{PROC}/sysrq-trigger rwklx,',
    '  deny @{PROC}/kcore rwklx,',
    '  deny @{PROC}/mem rwklx,',
    '  deny @{PROC}/kmem rwklx,',
    '  # /sys is read-only except the cgroup tree; EFI variables and securityfs unreadable.',
    '  deny /sys/[^f]*/** wklx,',
    '  deny /sys/f[^s]*/** wklx,',
    '  deny /sys/fs/[^c]*/** wklx,',
    '  deny /sys/fs/c[^g]*/** wklx,',
    '  deny /sys/fs/cg[^r]*/** wklx,',
    '  deny /sys/firmware/** rwklx,',
    '  deny /sys/devices/virtual/powercap/** rwklx,',
    '  deny /sys/kernel/security/** rwklx,',
    '}',
    '',
  ].join('\n');
}

/** The kernel's current view, read again at each question (profiles come and go). */
function kernelView(defaultProfile: string): AppArmorHost {
  return { enabled: true, defaultProfile, isLoaded: (name) => loadedAppArmorProfiles().has(name) };
}

const DISABLED: AppArmorHost = { enabled: false, defaultProfile: APPARMOR_UNCONFINED, isLoaded: () => false };

/**
 * The host's AppArmor for the spec builder, with the default profile ready: cradle's
 * own is loaded when the kernel does not have it yet (as cri-o installs crio-default);
 * another configured name must be loaded already. Throws when neither holds: cradled
 * then refuses to start (or the reload), rather than run containers unconfined.
 */
export function prepareAppArmor(profile: string, enabled = appArmorEnabled()): AppArmorHost {
  if (!enabled) return DISABLED;
  if (profile === APPARMOR_UNCONFINED) return kernelView(profile);
  if (!loadedAppArmorProfiles().has(profile)) {
    if (profile !== DEFAULT_APPARMOR_PROFILE) {
      throw new Error(`runtime.apparmor_profile: AppArmor profile ${JSON.stringify(profile)} is not loaded (load it with apparmor_parser, or use ${DEFAULT_APPARMOR_PROFILE})`);
    }
    try {
      loadAppArmorProfile(defaultAppArmorPolicy(profile));
    } catch (err) {
      throw new Error(`runtime.apparmor_profile: loading ${profile}: ${(err as Error).message} (apparmor_parser comes with the apparmor package; "unconfined" runs containers without a default profile)`);
    }
  }
  return kernelView(profile);
}
