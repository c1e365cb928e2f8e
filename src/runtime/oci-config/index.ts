// OCI runtime spec from CRI: the public surface of src/runtime/oci-config.
export { buildContainerSpec, buildPauseSpec, buildExecProcess, normalizeSignal, PAUSE_CPU_SHARES, PAUSE_OOM_SCORE_ADJ, type ContainerSpecResult } from './build';
export type {
  ContainerSpecInput, PauseSpecInput, ImageConfig, SandboxFacts, SpecRuntimeOptions, ContainerHostInfo,
  NamespaceRef, PauseNamespace, CgroupDriver, SandboxUserns,
} from './inputs';
export type { BuiltSpec, BuiltProcess, BuiltLinux } from './built-spec';
export { realHostProbe, hostCapabilities, hostMinOomScoreAdj, detectCgroupFeatures, type CgroupFeatures, type HostProbe, type HostDevice } from './host-probe';
export { ALL_CAPABILITIES, CRIO_DEFAULT_CAPABILITIES, CONTAINERD_DEFAULT_CAPABILITIES } from './capabilities';
export { DEFAULT_MASKED_PATHS, DEFAULT_READONLY_PATHS, type ImageVolume } from './mounts';
export { buildResources, oomScoreAdj, parseUlimit, cgroupsPath } from './resources';
export { validateSysctls } from './sysctls';
export { validatePodUserns, hostIdOf, type PodUserns, type IdMapping } from './userns';
export { ANNOTATIONS, readRecoveryAnnotations, type RecoveryInfo } from './annotations';
export { checkRunAsGroupHasUser, type ResolvedUser } from './user';
export { DEFAULT_SECCOMP_PROFILE } from './seccomp-default';
export { loadLocalhostProfile } from './seccomp';
export { UNCONFINED as APPARMOR_UNCONFINED, type AppArmorHost } from './apparmor';
