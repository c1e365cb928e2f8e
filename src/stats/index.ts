// Container and pod sandbox statistics: pure readers over cgroupfs, the writable layer
// and the pod's network namespace, plus converters to CRI stats and cAdvisor-style metrics.
export * from './types';
export { containerCgroupPath, expandSlice, isUnifiedRoot, podCgroupPath, v1ControllerRoot } from './cgroup-path';
export { nowNs, parseKeyValues, parsePsi, readCgroup } from './cgroup-reader';
export { CpuRateTracker } from './cpu-rate';
export { measureDirectory, readFilesystemUsage } from './disk-usage';
export { defaultInterfaceName, parseProcNetDev, readNetworkStats } from './network';
export { aggregateSamples, readContainerStats, readPodSandboxStats, type ContainerStatsInput, type PodSandboxStatsInput } from './readers';
export * from './cri';
export * from './metrics';
