// The OCI runtime-spec 1.x `config.json` (Linux), as far as cradle writes it (the
// daemon's spec builder) or reads it (cradle-runtime). One set of types for both, so
// they cannot drift. Field names, optionality and value sets follow runtime-spec
// config.md / config-linux.md (specs-go/config.go): a field the spec marks OPTIONAL is
// optional here even where cradle's builder always writes it, because the runtime
// reads configs other tools wrote. Fields neither side uses are left out; JSON
// readers ignore them.

export interface OciSpec {
  ociVersion: string;
  /** OPTIONAL in the spec until `start`; cradle-runtime's validation requires it at create. */
  process?: OciProcess;
  /** REQUIRED on Linux. */
  root: OciRoot;
  hostname?: string;
  domainname?: string;
  mounts?: OciMount[];
  hooks?: OciHooks;
  annotations?: Record<string, string>;
  linux?: OciLinux;
}

export interface OciRoot {
  /** Absolute, or relative to the bundle. */
  path: string;
  readonly?: boolean;
}

export interface OciProcess {
  terminal?: boolean;
  consoleSize?: { height: number; width: number };
  user: OciUser;
  /** OPTIONAL only on Windows: on Linux at least one entry is REQUIRED. */
  args: string[];
  env?: string[];
  cwd: string;
  capabilities?: OciCapabilities;
  rlimits?: OciRlimit[];
  noNewPrivileges?: boolean;
  apparmorProfile?: string;
  oomScoreAdj?: number;
  selinuxLabel?: string;
}

export interface OciUser {
  uid: number;
  gid: number;
  umask?: number;
  additionalGids?: number[];
  /** Windows only. */
  username?: string;
}

export interface OciCapabilities {
  bounding?: string[];
  effective?: string[];
  inheritable?: string[];
  permitted?: string[];
  ambient?: string[];
}

export interface OciRlimit {
  /** RLIMIT_* name. */
  type: string;
  hard: number;
  soft: number;
}

/** OCI LinuxIDMapping. */
export interface OciIdMapping {
  containerID: number;
  hostID: number;
  size: number;
}

export interface OciMount {
  destination: string;
  type?: string;
  source?: string;
  options?: string[];
  /** OCI 1.1 idmapped mount: container ids as the mount shows them, host ids as the filesystem stores them. */
  uidMappings?: OciIdMapping[];
  gidMappings?: OciIdMapping[];
}

export interface OciHook {
  path: string;
  args?: string[];
  env?: string[];
  /** Seconds. */
  timeout?: number;
}

export type OciHookName = 'prestart' | 'createRuntime' | 'createContainer' | 'startContainer' | 'poststart' | 'poststop';

export type OciHooks = Partial<Record<OciHookName, OciHook[]>>;

export interface OciLinux {
  namespaces?: OciNamespace[];
  uidMappings?: OciIdMapping[];
  gidMappings?: OciIdMapping[];
  devices?: OciDevice[];
  cgroupsPath?: string;
  resources?: OciResources;
  rootfsPropagation?: string;
  seccomp?: OciSeccomp;
  sysctl?: Record<string, string>;
  maskedPaths?: string[];
  readonlyPaths?: string[];
  mountLabel?: string;
}

export const OCI_NAMESPACE_TYPES = ['pid', 'network', 'mount', 'ipc', 'uts', 'user', 'cgroup', 'time'] as const;

export type OciNamespaceType = (typeof OCI_NAMESPACE_TYPES)[number];

export interface OciNamespace {
  type: OciNamespaceType;
  /** Join this namespace instead of creating one. */
  path?: string;
}

/** A device node to create in the container: major and minor are REQUIRED unless it is a FIFO. */
export type OciDevice = OciDeviceNode | OciFifoDevice;

interface OciDeviceCommon {
  path: string;
  fileMode?: number;
  uid?: number;
  gid?: number;
}

export interface OciDeviceNode extends OciDeviceCommon {
  /** Character (`u`: unbuffered character) or block device. */
  type: 'c' | 'b' | 'u';
  major: number;
  minor: number;
}

export interface OciFifoDevice extends OciDeviceCommon {
  type: 'p';
  major?: number;
  minor?: number;
}

/** A device cgroup allow/deny rule; an unset type, major or minor means "all". */
export interface OciDeviceCgroup {
  allow: boolean;
  type?: 'a' | 'c' | 'b';
  major?: number;
  minor?: number;
  /** Some of `r`, `w`, `m`. */
  access?: string;
}

export interface OciResources {
  devices?: OciDeviceCgroup[];
  memory?: OciMemory;
  cpu?: OciCpu;
  pids?: OciPids;
  blockIO?: OciBlockIO;
  hugepageLimits?: OciHugepageLimit[];
  /** cgroup v2 files by name, written as given. */
  unified?: Record<string, string>;
}

export interface OciMemory {
  limit?: number;
  reservation?: number;
  swap?: number;
  kernel?: number;
  swappiness?: number;
  disableOOMKiller?: boolean;
}

export interface OciCpu {
  shares?: number;
  quota?: number;
  period?: number;
  realtimeRuntime?: number;
  realtimePeriod?: number;
  cpus?: string;
  mems?: string;
  idle?: number;
}

export interface OciPids {
  /** -1 is no limit. REQUIRED up to runtime-spec 1.2, OPTIONAL since. */
  limit?: number;
}

export interface OciBlockIO {
  weight?: number;
  leafWeight?: number;
}

export interface OciHugepageLimit {
  /** e.g. `2MB`. */
  pageSize: string;
  limit: number;
}

export type OciSeccompAction =
  | 'SCMP_ACT_KILL'
  | 'SCMP_ACT_KILL_PROCESS'
  | 'SCMP_ACT_KILL_THREAD'
  | 'SCMP_ACT_TRAP'
  | 'SCMP_ACT_ERRNO'
  | 'SCMP_ACT_TRACE'
  | 'SCMP_ACT_ALLOW'
  | 'SCMP_ACT_LOG'
  | 'SCMP_ACT_NOTIFY';

export type OciSeccompOperator =
  | 'SCMP_CMP_NE'
  | 'SCMP_CMP_LT'
  | 'SCMP_CMP_LE'
  | 'SCMP_CMP_EQ'
  | 'SCMP_CMP_GE'
  | 'SCMP_CMP_GT'
  | 'SCMP_CMP_MASKED_EQ';

export interface OciSeccompArg {
  index: number;
  value: number;
  valueTwo?: number;
  op: OciSeccompOperator;
}

export interface OciSeccompSyscall {
  names: string[];
  action: OciSeccompAction;
  errnoRet?: number;
  args?: OciSeccompArg[];
}

export interface OciSeccomp {
  defaultAction: OciSeccompAction;
  defaultErrnoRet?: number;
  /** SCMP_ARCH_* names. */
  architectures?: string[];
  /** SECCOMP_FILTER_FLAG_* names. */
  flags?: string[];
  /** The socket of a seccomp agent for SCMP_ACT_NOTIFY. */
  listenerPath?: string;
  syscalls?: OciSeccompSyscall[];
}
