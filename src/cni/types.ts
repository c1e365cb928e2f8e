// Types shared by the CNI modules: network configuration lists as libcni sees them,
// the runtime-side arguments of one plugin invocation, and normalised results.

/** A JSON object as read from a config file or a plugin's output. */
export type JsonObject = { [key: string]: unknown };

/** One plugin entry of a network configuration list (`plugins[i]`). */
export interface PluginConfig {
  /** Binary name looked up in the plugin dirs. */
  readonly type: string;
  /** Capabilities the plugin declares (`"capabilities": {"portMappings": true}`). */
  readonly capabilities: ReadonlySet<string>;
  /** The plugin's JSON as written in the file (name/cniVersion are injected at exec time). */
  readonly raw: JsonObject;
}

/** A validated network configuration list (a `.conflist`, or a `.conf` wrapped as one). */
export interface NetworkConfigList {
  readonly name: string;
  readonly cniVersion: string;
  readonly disableCheck: boolean;
  readonly disableGC: boolean;
  readonly plugins: readonly PluginConfig[];
  /** File it came from ('' for in-memory lists such as the loopback one). */
  readonly source: string;
  /** The list as JSON (a `.conf` is converted to the list form); stored in the result cache. */
  readonly raw: JsonObject;
}

export interface PortMapping {
  hostPort: number;
  containerPort: number;
  /** 'tcp' | 'udp' | 'sctp' (lower case, as the portmap plugin expects). */
  protocol: string;
  hostIP?: string;
}

export interface BandwidthLimits {
  /** bits per second */
  ingressRate?: number;
  /** bits */
  ingressBurst?: number;
  egressRate?: number;
  egressBurst?: number;
}

export interface DnsSettings {
  servers?: string[];
  searches?: string[];
  options?: string[];
}

export interface IpRange {
  subnet: string;
  rangeStart?: string;
  rangeEnd?: string;
  gateway?: string;
}

/**
 * The runtimeConfig values a runtime may pass; each key is a CNI capability and is
 * given only to plugins that declare it (CONVENTIONS.md of the CNI spec).
 */
export interface CapabilityArgs {
  portMappings?: PortMapping[];
  bandwidth?: BandwidthLimits;
  ipRanges?: IpRange[][];
  dns?: DnsSettings;
  /** network name → aliases */
  aliases?: Record<string, string[]>;
  cgroupPath?: string;
}

/** The per-attachment arguments of a plugin invocation (libcni's RuntimeConf). */
export interface RuntimeConf {
  containerId: string;
  /** Path of the network namespace; '' for DEL when the namespace is gone. */
  netns: string;
  ifName: string;
  /** CNI_ARGS as ordered key/value pairs. */
  args: Array<[string, string]>;
  capabilityArgs: CapabilityArgs;
}

export type IpFamily = 'ipv4' | 'ipv6';

/** A result normalised to the 1.x shape (the lingua franca inside cradle). */
export interface CniResult {
  /** The version the plugin answered in. */
  cniVersion: string;
  interfaces: Array<{ name: string; mac?: string; sandbox?: string; mtu?: number }>;
  ips: Array<{ address: string; gateway?: string; interface?: number }>;
  routes: Array<{ dst: string; gw?: string } & JsonObject>;
  dns: DnsSettings & { domain?: string };
}

/** One pod IP as the sandbox layer needs it. */
export interface PodIp {
  /** Address without prefix length, e.g. "10.85.0.4". */
  ip: string;
  /** CIDR form, e.g. "10.85.0.4/16". */
  cidr: string;
  family: IpFamily;
  gateway?: string;
  /** Name of the interface inside the pod, when the result says. */
  interface?: string;
}

/** STATUS/GC attachment identity (spec 1.1 `cni.dev/valid-attachments`). */
export interface Attachment {
  containerID: string;
  ifname: string;
}
