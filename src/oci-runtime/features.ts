// `features`: what this runtime supports, in the OCI features document shape runc prints.
import { CAPABILITIES } from '../sys/capabilities';
import { seccompArches } from '../sys/seccomp';
import { appArmorEnabled } from '../sys/apparmor';

export function features(): Record<string, unknown> {
  return {
    ociVersionMin: '1.0.0',
    ociVersionMax: '1.0.2',
    hooks: ['prestart', 'createRuntime', 'createContainer', 'startContainer', 'poststart', 'poststop'],
    mountOptions: [
      'async', 'atime', 'bind', 'defaults', 'dev', 'diratime', 'dirsync', 'exec', 'lazytime', 'mand', 'noatime', 'nodev',
      'nodiratime', 'noexec', 'nolazytime', 'nomand', 'norelatime', 'nostrictatime', 'nosuid', 'nosymfollow', 'private',
      'rbind', 'relatime', 'remount', 'ro', 'rprivate', 'rro', 'rshared', 'rslave', 'runbindable', 'rw', 'shared', 'slave',
      'strictatime', 'suid', 'symfollow', 'sync', 'tmpcopyup', 'unbindable',
    ],
    linux: {
      // user: joined by path only, by the native launcher (docs/launch-plan.md).
      namespaces: ['cgroup', 'ipc', 'mount', 'network', 'pid', 'user', 'uts'],
      capabilities: [...CAPABILITIES],
      cgroup: { v1: true, v2: true, systemd: false, systemdUser: false },
      seccomp: {
        enabled: true,
        actions: ['SCMP_ACT_ALLOW', 'SCMP_ACT_ERRNO', 'SCMP_ACT_KILL', 'SCMP_ACT_KILL_PROCESS', 'SCMP_ACT_KILL_THREAD', 'SCMP_ACT_LOG', 'SCMP_ACT_TRACE', 'SCMP_ACT_TRAP'],
        operators: ['SCMP_CMP_EQ', 'SCMP_CMP_GE', 'SCMP_CMP_GT', 'SCMP_CMP_LE', 'SCMP_CMP_LT', 'SCMP_CMP_MASKED_EQ', 'SCMP_CMP_NE'],
        archs: [...seccompArches()],
      },
      // process.apparmorProfile is applied where the host has AppArmor (runc reports the same).
      apparmor: { enabled: appArmorEnabled() },
      // Bind mounts with uidMappings/gidMappings (open_tree + mount_setattr MOUNT_ATTR_IDMAP).
      mountExtensions: { idmap: { enabled: true } },
      selinux: { enabled: false },
    },
    annotations: { 'org.opencontainers.runtime-spec.features.v1': 'cradle-runtime', 'io.github.cradle.runtime.userns': 'joined by path, native launcher only' },
  };
}
