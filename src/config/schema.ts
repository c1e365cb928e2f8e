import { COLLECTORS, isCollectorName } from '../metrics/collectors';

// cradle's configuration model: one typed table per concern, each key described once
// (type, default, documentation). The loader validates against it, `cradled config`
// renders commented TOML from it, command-line flags are derived from it, and
// docs/config.md is checked against it by a test.

export type FieldType = 'string' | 'integer' | 'boolean' | 'string-list' | 'duration' | 'enum';

interface FieldBase<T> {
  doc: string;
  default: T;
  /** Returns a problem description, or undefined when the value is acceptable. */
  check?: (value: T) => string | undefined;
  /** Can SIGHUP change it without a restart? */
  reloadable?: boolean;
}
export interface StringField extends FieldBase<string> { type: 'string' }
export interface IntegerField extends FieldBase<number> { type: 'integer'; min?: number; max?: number }
export interface BooleanField extends FieldBase<boolean> { type: 'boolean' }
export interface StringListField extends FieldBase<string[]> { type: 'string-list' }
/** Durations are written as strings ("90s", "5m", "4h", "0") and held in milliseconds. */
export interface DurationField extends FieldBase<number> { type: 'duration' }
export interface EnumField<T extends string = string> extends FieldBase<T> { type: 'enum'; values: readonly T[] }

export type Field = StringField | IntegerField | BooleanField | StringListField | DurationField | EnumField;

// Wrapped in [] so unions (enum values) are not distributed over.
type FieldFor<T> = [T] extends [boolean]
  ? BooleanField
  : [T] extends [number]
    ? IntegerField | DurationField
    : [T] extends [string[]]
      ? StringListField
      : [T] extends [string]
        ? (string extends T ? StringField : EnumField<T>)
        : never;

export type TableSchema<T> = { [K in keyof T]: FieldFor<T[K]> };

// ---- tables ---------------------------------------------------------------------

export interface ApiConfig {
  listen: string;
  max_msg_size: number;
  socket_mode: string;
  inspect_socket: string;
}

export interface StateConfig {
  root: string;
  run_root: string;
}

export type LogLevelName = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal';
export interface LogConfig {
  level: LogLevelName;
  format: 'json' | 'text';
  filter: string;
}

export type CgroupManager = 'auto' | 'cgroupfs' | 'systemd';
export interface RuntimeConfig {
  default_runtime: string;
  cgroup_manager: CgroupManager;
  conmon: string;
  conmon_cgroup: string;
  default_ulimits: string[];
  log_size_max: number;
  seccomp_use_default_when_empty: boolean;
  seccomp_profile: string;
  apparmor_profile: string;
  cdi_spec_dirs: string[];
}

/** One `[runtime.runtimes.<name>]` table: an OCI runtime handler (RuntimeClass). */
export interface RuntimeHandlerConfig {
  runtime_path: string;
  runtime_root: string;
  runtime_type: 'oci';
  monitor_path: string;
}

export interface ImageConfig {
  pause_image: string;
  pause_command: string;
  registries_conf: string;
  registries_conf_dir: string;
  certs_dir: string;
  global_auth_file: string;
  max_concurrent_downloads: number;
  pull_progress_timeout: number;
  pinned_images: string[];
}

export interface NetworkConfig {
  cni_config_dir: string;
  cni_plugin_dirs: string[];
  cni_default_network: string;
  plugin_timeout: number;
  write_default_config: boolean;
  default_subnet: string;
}

export interface MetricsConfig {
  enable: boolean;
  host: string;
  port: number;
  socket: string;
  collectors: string[];
  tls_cert: string;
  tls_key: string;
}

export interface StreamingConfig {
  address: string;
  port: number;
  idle_timeout: number;
  tls_cert: string;
  tls_key: string;
  tls_ca: string;
}

export interface CradleConfig {
  api: ApiConfig;
  state: StateConfig;
  log: LogConfig;
  runtime: RuntimeConfig & { runtimes: Record<string, RuntimeHandlerConfig> };
  image: ImageConfig;
  network: NetworkConfig;
  metrics: MetricsConfig;
  streaming: StreamingConfig;
}

/** The tables whose keys are plain fields (everything but runtime.runtimes). */
export type SimpleTableName = Exclude<keyof CradleConfig, never>;

const absolutePath = (value: string): string | undefined =>
  value.startsWith('/') ? undefined : 'must be an absolute path';
const optionalAbsolutePath = (value: string): string | undefined =>
  value === '' || value.startsWith('/') ? undefined : 'must be an absolute path or empty';
const regularExpression = (value: string): string | undefined => {
  try {
    new RegExp(value);
    return undefined;
  } catch (err) {
    return `is not a regular expression: ${(err as Error).message}`;
  }
};
/** Does the key hold a file or directory path (for shell completion)? */
export function takesPath(field: Field): boolean {
  return field.check === absolutePath || field.check === optionalAbsolutePath;
}
const absolutePaths = (values: string[]): string | undefined =>
  values.every((v) => v.startsWith('/')) ? undefined : 'every entry must be an absolute path';

export const apiSchema: TableSchema<ApiConfig> = {
  listen: {
    type: 'string', default: 'unix:///run/cradle/cradle.sock',
    doc: 'Where the CRI gRPC server listens: unix:///path (the kubelet\'s --container-runtime-endpoint).',
    check: (v) => (v.startsWith('unix:///') ? undefined : 'must be a unix:///absolute/path URL'),
  },
  max_msg_size: {
    type: 'integer', default: 16 * 1024 * 1024, min: 16 * 1024 * 1024, max: 1024 * 1024 * 1024,
    doc: 'Largest gRPC message accepted or sent, in bytes (at least 16 MiB).',
  },
  socket_mode: {
    type: 'string', default: '0660',
    doc: 'File mode of the socket (octal). The socket is owned by root.',
    check: (v) => (/^0?[0-7]{3}$/.test(v) ? undefined : 'must be an octal mode such as "0660"'),
  },
  inspect_socket: {
    type: 'string', default: '',
    doc: 'Unix socket (mode 0600, root only) of the HTTP inspection API used by `cradled status`; empty means <run_root>/inspect.sock.',
    check: optionalAbsolutePath,
  },
};

export const stateSchema: TableSchema<StateConfig> = {
  root: { type: 'string', default: '/var/lib/cradle', doc: 'Persistent state: images, layers, pod and container records.', check: absolutePath },
  run_root: { type: 'string', default: '/run/cradle', doc: 'Volatile state, gone after a reboot: pinned namespaces, bundles, sockets.', check: absolutePath },
};

export const logSchema: TableSchema<LogConfig> = {
  level: {
    type: 'enum', values: ['trace', 'debug', 'info', 'warn', 'error', 'fatal'], default: 'info', reloadable: true,
    doc: 'Log level.',
  },
  format: { type: 'enum', values: ['json', 'text'], default: 'json', doc: 'json (one object per line, for journald) or text (for terminals).' },
  filter: {
    type: 'string', default: '', reloadable: true, check: regularExpression,
    doc: 'Regular expression (JavaScript syntax) a log message must match to be written, as cri-o\'s log_filter; empty writes every message of the level.',
  },
};

export const runtimeSchema: TableSchema<RuntimeConfig> = {
  default_runtime: { type: 'string', default: 'cradle', doc: 'Runtime handler used when a pod names none; must be a key of [runtime.runtimes].' },
  cgroup_manager: {
    type: 'enum', values: ['auto', 'cgroupfs', 'systemd'], default: 'auto',
    doc: 'Cgroup driver reported to the kubelet by RuntimeConfig and used for pod and container cgroups; must match the kubelet\'s --cgroup-driver. cgroupfs: directories under /sys/fs/cgroup. systemd: a transient scope cradle-<id>.scope per container in the pod\'s slice, created through systemd (cgroup v2 only). auto: systemd where systemd is PID 1 (/run/systemd/system exists) on cgroup v2, cgroupfs otherwise.',
  },
  conmon: { type: 'string', default: '/usr/bin/conmon', doc: 'Path of conmon, the per-container monitor.', check: absolutePath },
  conmon_cgroup: {
    type: 'string', default: 'system.slice',
    doc: 'Under the systemd cgroup driver: the slice in which each container\'s conmon runs in a scope of its own, cradle-conmon-<id>.scope (cri-o\'s conmon_cgroup), out of cradle.service and of the container\'s limits. Ignored under cgroupfs, where conmon stays in cradled\'s cgroup.',
    check: (v) => (/^[A-Za-z0-9:_.\\-]+\.slice$/.test(v) ? undefined : 'must be a systemd slice name such as system.slice'),
  },
  default_ulimits: { type: 'string-list', default: [], reloadable: true, doc: 'Default rlimits for containers, as "nofile=1024:2048".' },
  log_size_max: {
    type: 'integer', default: -1, min: -1, max: Number.MAX_SAFE_INTEGER,
    doc: 'Largest size of a container\'s CRI log file in bytes before conmon truncates it (cri-o\'s log_size_max); -1 means no limit, else at least 8192.',
    check: (v) => (v === -1 || v >= 8192 ? undefined : 'must be -1 (no limit) or at least 8192'),
  },
  seccomp_use_default_when_empty: {
    type: 'boolean', default: false, reloadable: true,
    doc: 'Give containers and pods that name no seccomp profile the runtime default profile (cri-o\'s option). Off: no profile means unconfined, as the CRI says and containerd does. The kubelet always names one (RuntimeDefault under its SeccompDefault setting), so this matters to other clients such as crictl.',
  },
  seccomp_profile: {
    type: 'string', default: '', reloadable: true, check: optionalAbsolutePath,
    doc: 'seccomp profile (JSON, the format of Localhost profiles) used for RuntimeDefault; empty means cradle\'s built-in profile (moby\'s default). A profile that cannot be read or is invalid stops cradled at start and is refused on reload.',
  },
  apparmor_profile: {
    type: 'string', default: 'cradle-default', reloadable: true,
    check: (v) => (/^[^\s\0]+$/.test(v) ? undefined : 'must be an AppArmor profile name (no spaces)'),
    doc: 'AppArmor profile that RuntimeDefault means (and a container or pod that names none gets), on nodes with AppArmor enabled; cri-o\'s apparmor_profile. cradle-default is cradle\'s own, loaded with apparmor_parser at start when the kernel lacks it; another name must already be loaded, else cradled does not start (a reload is refused); "unconfined" gives no profile. Privileged containers get a profile only when they name one. Ignored on nodes without AppArmor.',
  },
  cdi_spec_dirs: {
    type: 'string-list', default: ['/etc/cdi', '/var/run/cdi'], check: absolutePaths, reloadable: true,
    doc: 'Directories of CDI device specs (JSON or YAML), lowest precedence first; read at each CreateContainer that asks for a CDI device.',
  },
};

/** Defaults for a handler table; runtime_path "" means cradle's own runtime shipped with cradled. */
export const runtimeHandlerSchema: TableSchema<RuntimeHandlerConfig> = {
  runtime_path: { type: 'string', default: '', doc: 'OCI runtime binary; empty means cradle\'s own runtime (bin/cradle-runtime).', check: optionalAbsolutePath },
  runtime_root: { type: 'string', default: '', doc: 'The runtime\'s --root state directory; empty means <run_root>/runtimes/<handler name>.', check: optionalAbsolutePath },
  runtime_type: { type: 'enum', values: ['oci'], default: 'oci', doc: 'Only "oci" (a runc-compatible CLI driven through conmon).' },
  monitor_path: { type: 'string', default: '', doc: 'Monitor for this handler; empty means [runtime] conmon.', check: optionalAbsolutePath },
};

export const imageSchema: TableSchema<ImageConfig> = {
  pause_image: { type: 'string', default: 'registry.k8s.io/pause:3.10', reloadable: true, doc: 'Image whose process holds a pod\'s namespaces. Pulled on demand and pinned.' },
  pause_command: { type: 'string', default: '/pause', reloadable: true, doc: 'Command run in the pause image.' },
  registries_conf: { type: 'string', default: '/etc/containers/registries.conf', doc: 'containers-registries.conf(5) v2 file (mirrors, insecure, blocked, short names). Its content (and the drop-ins\') is re-read on SIGHUP; a new path needs a restart.', check: absolutePath },
  registries_conf_dir: { type: 'string', default: '/etc/containers/registries.conf.d', doc: 'Drop-in directory for registries.conf (*.conf, lexical order).', check: absolutePath },
  certs_dir: { type: 'string', default: '/etc/containers/certs.d', doc: 'Per-registry CA certificates: <certs_dir>/<host[:port]>/*.crt.', check: absolutePath },
  global_auth_file: { type: 'string', default: '', doc: 'Docker config.json-style file with registry credentials used when the kubelet sends none.', check: optionalAbsolutePath },
  max_concurrent_downloads: { type: 'integer', default: 3, min: 1, max: 64, doc: 'Layers downloaded in parallel per pull.' },
  pull_progress_timeout: { type: 'duration', default: 60_000, doc: 'Abort a pull after this long without a byte received; "0" disables.' },
  pinned_images: { type: 'string-list', default: [], reloadable: true, doc: 'Images reported as pinned (never garbage-collected by the kubelet). The pause image is always pinned.' },
};

export const networkSchema: TableSchema<NetworkConfig> = {
  cni_config_dir: { type: 'string', default: '/etc/cni/net.d', doc: 'CNI network configurations (.conf, .conflist, .json), first valid file in lexical order is the default.', check: absolutePath },
  cni_plugin_dirs: { type: 'string-list', default: ['/opt/cni/bin', '/usr/lib/cni'], doc: 'Directories searched for CNI plugin binaries.', check: absolutePaths },
  cni_default_network: { type: 'string', default: '', doc: 'Name of the CNI network to use; empty means the first valid configuration.' },
  plugin_timeout: { type: 'duration', default: 120_000, doc: 'Kill a CNI plugin (and its process group) that runs longer than this.' },
  write_default_config: { type: 'boolean', default: true, doc: 'When cni_config_dir holds no configuration, write cradle\'s bridge + host-local + portmap network there.' },
  default_subnet: {
    type: 'string', default: '10.85.0.0/16', doc: 'Subnet of the default bridge network written by write_default_config.',
    check: (v) => (/^\d{1,3}(\.\d{1,3}){3}\/\d{1,2}$/.test(v) ? undefined : 'must be an IPv4 CIDR such as "10.85.0.0/16"'),
  },
};

export const metricsSchema: TableSchema<MetricsConfig> = {
  enable: { type: 'boolean', default: false, doc: 'Serve Prometheus metrics (off by default, as in cri-o).' },
  host: { type: 'string', default: '127.0.0.1', doc: 'Address of the metrics HTTP server.' },
  port: { type: 'integer', default: 9090, min: 0, max: 65535, doc: 'Port of the metrics HTTP server.' },
  socket: { type: 'string', default: '', doc: 'Also serve metrics on this unix socket path when set.', check: optionalAbsolutePath },
  collectors: {
    type: 'string-list', default: [], doc: 'Metric collectors to enable (names in docs/metrics.md); empty means all.',
    check: (names) => {
      const unknown = names.filter((n) => !isCollectorName(n));
      return unknown.length ? `unknown collectors ${unknown.join(', ')}; known: ${COLLECTORS.join(', ')}` : undefined;
    },
  },
  tls_cert: { type: 'string', default: '', doc: 'TLS certificate for the metrics server; empty serves plain HTTP.', check: optionalAbsolutePath },
  tls_key: { type: 'string', default: '', doc: 'TLS key for the metrics server.', check: optionalAbsolutePath },
};

export const streamingSchema: TableSchema<StreamingConfig> = {
  address: { type: 'string', default: '127.0.0.1', doc: 'Address of the exec/attach/port-forward streaming server.' },
  port: { type: 'integer', default: 0, min: 0, max: 65535, doc: 'Port of the streaming server; 0 picks a free port.' },
  idle_timeout: { type: 'duration', default: 4 * 3600_000, doc: 'Close a stream idle for this long.' },
  tls_cert: { type: 'string', default: '', doc: 'TLS certificate for the streaming server; empty serves plain HTTP.', check: optionalAbsolutePath },
  tls_key: { type: 'string', default: '', doc: 'TLS key for the streaming server.', check: optionalAbsolutePath },
  tls_ca: { type: 'string', default: '', doc: 'CA for client certificates of the streaming server.', check: optionalAbsolutePath },
};

/** Every plain table in the order `cradled config` prints them. */
export const TABLES = {
  api: apiSchema,
  state: stateSchema,
  log: logSchema,
  runtime: runtimeSchema,
  image: imageSchema,
  network: networkSchema,
  metrics: metricsSchema,
  streaming: streamingSchema,
} as const satisfies { [K in keyof CradleConfig]: object };

export type TableName = keyof typeof TABLES;

export const TABLE_DOCS: Record<TableName, string> = {
  api: 'The CRI gRPC endpoint.',
  state: 'Where cradle keeps its state.',
  log: 'cradled\'s own log.',
  runtime: 'Container runtime: cgroup driver, conmon, runtime handlers ([runtime.runtimes.<name>]).',
  image: 'Image pulls and storage.',
  network: 'Pod networking through CNI.',
  metrics: 'Prometheus metrics endpoint.',
  streaming: 'Streaming server for exec, attach and port-forward.',
};

/** The handler every default config has: cradle's own OCI runtime. */
export const DEFAULT_RUNTIME_HANDLER = 'cradle';

function defaultsOf<T>(schema: TableSchema<T>): T {
  const out: Record<string, unknown> = {};
  for (const [key, field] of Object.entries(schema) as [string, Field][]) {
    out[key] = Array.isArray(field.default) ? [...field.default] : field.default;
  }
  return out as T;
}

export function defaultHandler(): RuntimeHandlerConfig {
  return defaultsOf(runtimeHandlerSchema);
}

export function defaultConfig(): CradleConfig {
  return {
    api: defaultsOf(apiSchema),
    state: defaultsOf(stateSchema),
    log: defaultsOf(logSchema),
    runtime: { ...defaultsOf(runtimeSchema), runtimes: { [DEFAULT_RUNTIME_HANDLER]: defaultHandler() } },
    image: defaultsOf(imageSchema),
    network: defaultsOf(networkSchema),
    metrics: defaultsOf(metricsSchema),
    streaming: defaultsOf(streamingSchema),
  };
}
