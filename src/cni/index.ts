// Public surface of cradle's CNI library (a libcni/ocicni equivalent).
export { CniManager, NETWORK_NOT_READY_REASON, isNetnsPath, normalizePortMapping } from './manager';
export type {
  CniManagerOptions, NetworkStatus, PodNetworkRequest, PodTeardownRequest, PodNetworkResult, GcReport,
} from './manager';
export {
  ensureDefaultConfig, defaultNetworkConfig, DEFAULT_NETWORK_NAME, DEFAULT_CONFIG_FILE, DEFAULT_BRIDGE, DEFAULT_SUBNET,
} from './default-config';
export type { DefaultConfigOptions } from './default-config';
export { DEFAULT_CONF_DIR, DEFAULT_PLUGIN_DIRS, loadNetworkConfigs, parseNetworkConfig } from './config';
export type { LoadedConfigs, InvalidConfigFile } from './config';
export { CniPluginError } from './exec';
export { SUPPORTED_CNI_VERSIONS } from './version';
export type {
  PortMapping, BandwidthLimits, DnsSettings, IpRange, CapabilityArgs, PodIp, IpFamily, CniResult, NetworkConfigList,
} from './types';
