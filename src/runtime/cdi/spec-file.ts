// A CDI spec file (Container Device Interface, tags.cncf.io/container-device-interface
// SPEC.md): parsed from JSON or YAML and validated as the reference library does,
// including unknown fields and the minimum version the fields used require.
import * as path from 'node:path';
import { load as loadYaml } from 'js-yaml';

/** Spec versions cradle reads, oldest first (the reference's released versions). */
export const CDI_VERSIONS = ['0.1.0', '0.2.0', '0.3.0', '0.4.0', '0.5.0', '0.6.0', '0.7.0', '0.8.0', '1.0.0', '1.1.0'] as const;
export const CDI_CURRENT_VERSION = CDI_VERSIONS[CDI_VERSIONS.length - 1];

export interface CdiDeviceNode {
  path: string;
  hostPath?: string;
  type?: 'b' | 'c' | 'u' | 'p';
  major?: number;
  minor?: number;
  fileMode?: number;
  /** One or more of r, w, m; '' = rwm; 'none' = no cgroup access. */
  permissions?: string;
  uid?: number;
  gid?: number;
}

export interface CdiMount {
  hostPath: string;
  containerPath: string;
  type?: string;
  options?: string[];
}

export interface CdiHook {
  hookName: string;
  path: string;
  args?: string[];
  env?: string[];
  timeout?: number;
}

export interface CdiContainerEdits {
  env?: string[];
  deviceNodes?: CdiDeviceNode[];
  mounts?: CdiMount[];
  hooks?: CdiHook[];
  additionalGids?: number[];
  intelRdt?: Record<string, unknown>;
  netDevices?: { hostInterfaceName: string; name: string }[];
}

export interface CdiDevice {
  name: string;
  annotations?: Record<string, string>;
  containerEdits: CdiContainerEdits;
}

export interface CdiSpec {
  cdiVersion: string;
  kind: string;
  annotations?: Record<string, string>;
  devices: CdiDevice[];
  containerEdits?: CdiContainerEdits;
}

export const HOOK_NAMES = ['prestart', 'createRuntime', 'createContainer', 'startContainer', 'poststart', 'poststop'] as const;

// kind = <DNS subdomain>/<name>; device names begin and end alphanumeric (SPEC.md "Kind", "CDI Devices").
const VENDOR_RE = /^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const CLASS_RE = /^[A-Za-z0-9]([-_.A-Za-z0-9]{0,61}[A-Za-z0-9])?$/;
const DEVICE_NAME_RE = /^[A-Za-z0-9]([-_.:A-Za-z0-9]*[A-Za-z0-9])?$/;

export class CdiSpecError extends Error {}

/** "vendor.com/class=name" → its parts, or a reason it is not a qualified CDI device name. */
export function parseQualifiedName(name: string): { kind: string; device: string } | string {
  const eq = name.indexOf('=');
  if (eq < 0) return `${JSON.stringify(name)} is not a qualified CDI device name (vendor.com/class=name)`;
  const kind = name.slice(0, eq);
  const device = name.slice(eq + 1);
  const kindProblem = checkKind(kind);
  if (kindProblem) return `${JSON.stringify(name)}: ${kindProblem}`;
  if (!DEVICE_NAME_RE.test(device)) return `${JSON.stringify(name)}: invalid device name ${JSON.stringify(device)}`;
  return { kind, device };
}

function checkKind(kind: string): string | undefined {
  const slash = kind.indexOf('/');
  if (slash < 0 || kind.indexOf('/', slash + 1) >= 0) return `invalid kind ${JSON.stringify(kind)} (vendor.com/class)`;
  if (!VENDOR_RE.test(kind.slice(0, slash))) return `invalid vendor in kind ${JSON.stringify(kind)}`;
  if (!CLASS_RE.test(kind.slice(slash + 1))) return `invalid class in kind ${JSON.stringify(kind)}`;
  return undefined;
}

function versionIndex(v: string): number {
  return CDI_VERSIONS.indexOf(v.replace(/^v/, '') as (typeof CDI_VERSIONS)[number]);
}

/** Reads one spec file's text; `file` names it in errors and picks the syntax by extension. */
export function parseCdiSpec(text: string, file: string): CdiSpec {
  let raw: unknown;
  try {
    raw = path.extname(file) === '.json' ? JSON.parse(text) : loadYaml(text);
  } catch (err) {
    throw new CdiSpecError(`${file}: ${(err as Error).message.split('\n')[0]}`);
  }
  try {
    return validateSpec(raw);
  } catch (err) {
    throw new CdiSpecError(`${file}: ${(err as Error).message}`);
  }
}

type Obj = Record<string, unknown>;

function object(v: unknown, where: string, allowed: readonly string[]): Obj {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error(`${where}: not an object`);
  for (const k of Object.keys(v)) if (!allowed.includes(k)) throw new Error(`${where}: unknown field ${JSON.stringify(k)}`);
  return v as Obj;
}

function str(v: unknown, where: string): string {
  if (typeof v !== 'string') throw new Error(`${where}: not a string`);
  return v;
}

function optStr(v: unknown, where: string): string | undefined {
  return v === undefined || v === null ? undefined : str(v, where);
}

function strList(v: unknown, where: string): string[] | undefined {
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v)) throw new Error(`${where}: not a list`);
  return v.map((s, i) => str(s, `${where}[${i}]`));
}

function int(v: unknown, where: string, min: number, max: number): number | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw new Error(`${where}: not an integer in [${min}, ${max}]`);
  return v;
}

function stringMap(v: unknown, where: string): Record<string, string> | undefined {
  if (v === undefined || v === null) return undefined;
  const o = object(v, where, Object.keys(v as Obj));
  for (const [k, val] of Object.entries(o)) str(val, `${where}.${k}`);
  return o as Record<string, string>;
}

function list<T>(v: unknown, where: string, each: (x: unknown, w: string) => T): T[] | undefined {
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v)) throw new Error(`${where}: not a list`);
  return v.map((x, i) => each(x, `${where}[${i}]`));
}

function checkEnv(env: string[] | undefined, where: string): void {
  for (const e of env ?? []) if (e.indexOf('=') <= 0) throw new Error(`${where}: invalid environment variable ${JSON.stringify(e)}`);
}

function deviceNode(v: unknown, w: string): CdiDeviceNode {
  const o = object(v, w, ['path', 'hostPath', 'type', 'major', 'minor', 'fileMode', 'permissions', 'uid', 'gid']);
  const node: CdiDeviceNode = { path: str(o.path, `${w}.path`) };
  if (node.path === '') throw new Error(`${w}.path: empty`);
  const hostPath = optStr(o.hostPath, `${w}.hostPath`);
  if (hostPath) node.hostPath = hostPath;
  const type = optStr(o.type, `${w}.type`);
  if (type) {
    if (!['b', 'c', 'u', 'p'].includes(type)) throw new Error(`${w}.type: invalid device type ${JSON.stringify(type)}`);
    node.type = type as CdiDeviceNode['type'];
  }
  const permissions = optStr(o.permissions, `${w}.permissions`);
  if (permissions) {
    if (permissions !== 'none' && !/^[rwm]+$/.test(permissions)) throw new Error(`${w}.permissions: invalid ${JSON.stringify(permissions)}`);
    node.permissions = permissions;
  }
  for (const k of ['major', 'minor', 'fileMode', 'uid', 'gid'] as const) {
    const n = int(o[k], `${w}.${k}`, 0, 0xffffffff);
    if (n !== undefined) node[k] = n;
  }
  return node;
}

function mount(v: unknown, w: string): CdiMount {
  const o = object(v, w, ['hostPath', 'containerPath', 'type', 'options']);
  const m: CdiMount = { hostPath: str(o.hostPath, `${w}.hostPath`), containerPath: str(o.containerPath, `${w}.containerPath`) };
  if (m.hostPath === '') throw new Error(`${w}.hostPath: empty`);
  if (m.containerPath === '') throw new Error(`${w}.containerPath: empty`);
  const type = optStr(o.type, `${w}.type`);
  if (type) m.type = type;
  const options = strList(o.options, `${w}.options`);
  if (options) m.options = options;
  return m;
}

function hook(v: unknown, w: string): CdiHook {
  const o = object(v, w, ['hookName', 'path', 'args', 'env', 'timeout']);
  const h: CdiHook = { hookName: str(o.hookName, `${w}.hookName`), path: str(o.path, `${w}.path`) };
  if (!(HOOK_NAMES as readonly string[]).includes(h.hookName)) throw new Error(`${w}.hookName: invalid hook name ${JSON.stringify(h.hookName)}`);
  if (!h.path.startsWith('/')) throw new Error(`${w}.path: not an absolute path`);
  const args = strList(o.args, `${w}.args`);
  if (args) h.args = args;
  const env = strList(o.env, `${w}.env`);
  checkEnv(env, `${w}.env`);
  if (env) h.env = env;
  const timeout = int(o.timeout, `${w}.timeout`, 1, 2 ** 31 - 1);
  if (timeout !== undefined) h.timeout = timeout;
  return h;
}

function containerEdits(v: unknown, w: string): CdiContainerEdits {
  const o = object(v, w, ['env', 'deviceNodes', 'mounts', 'hooks', 'additionalGids', 'intelRdt', 'netDevices']);
  const e: CdiContainerEdits = {};
  const env = strList(o.env, `${w}.env`);
  checkEnv(env, `${w}.env`);
  if (env) e.env = env;
  const nodes = list(o.deviceNodes, `${w}.deviceNodes`, deviceNode);
  if (nodes) e.deviceNodes = nodes;
  const mounts = list(o.mounts, `${w}.mounts`, mount);
  if (mounts) e.mounts = mounts;
  const hooks = list(o.hooks, `${w}.hooks`, hook);
  if (hooks) e.hooks = hooks;
  const gids = list(o.additionalGids, `${w}.additionalGids`, (x, ww) => int(x, ww, 0, 0xffffffff)!);
  if (gids) e.additionalGids = gids;
  if (o.intelRdt !== undefined && o.intelRdt !== null) e.intelRdt = object(o.intelRdt, `${w}.intelRdt`, ['closID', 'l3CacheSchema', 'memBwSchema', 'schemata', 'enableMonitoring']);
  const net = list(o.netDevices, `${w}.netDevices`, (x, ww) => {
    const n = object(x, ww, ['hostInterfaceName', 'name']);
    return { hostInterfaceName: str(n.hostInterfaceName, `${ww}.hostInterfaceName`), name: str(n.name, `${ww}.name`) };
  });
  if (net) e.netDevices = net;
  return e;
}

/** The oldest spec version that has every field this spec uses (the reference's MinimumRequiredVersion). */
function minimumVersion(spec: CdiSpec): string {
  const all = [spec.containerEdits ?? {}, ...spec.devices.map((d) => d.containerEdits)];
  if (all.some((e) => e.netDevices?.length || (e.intelRdt && ('schemata' in e.intelRdt || e.intelRdt.enableMonitoring)))) return '1.1.0';
  if (all.some((e) => e.intelRdt || e.additionalGids?.length)) return '0.7.0';
  const [vendor, cls] = spec.kind.split('/');
  if (spec.annotations || spec.devices.some((d) => d.annotations) || (vendor !== undefined && cls?.includes('.'))) return '0.6.0';
  if (all.some((e) => e.deviceNodes?.some((n) => n.hostPath)) || spec.devices.some((d) => /^[0-9]/.test(d.name))) return '0.5.0';
  if (all.some((e) => e.mounts?.some((m) => m.type))) return '0.4.0';
  return '0.3.0';
}

function validateSpec(raw: unknown): CdiSpec {
  const o = object(raw, 'spec', ['cdiVersion', 'kind', 'annotations', 'devices', 'containerEdits']);
  const version = str(o.cdiVersion, 'cdiVersion');
  if (versionIndex(version) < 0) throw new Error(`cdiVersion ${JSON.stringify(version)} is not one cradle reads (${CDI_VERSIONS.join(', ')})`);
  const kind = str(o.kind, 'kind');
  const kindProblem = checkKind(kind);
  if (kindProblem) throw new Error(kindProblem);
  const devices = list(o.devices, 'devices', (x, w) => {
    const d = object(x, w, ['name', 'annotations', 'containerEdits']);
    const name = str(d.name, `${w}.name`);
    if (!DEVICE_NAME_RE.test(name)) throw new Error(`${w}.name: invalid device name ${JSON.stringify(name)}`);
    const device: CdiDevice = { name, containerEdits: containerEdits(d.containerEdits ?? {}, `${w}.containerEdits`) };
    const annotations = stringMap(d.annotations, `${w}.annotations`);
    if (annotations) device.annotations = annotations;
    return device;
  }) ?? [];
  if (devices.length === 0) throw new Error('devices: a spec must define at least one device');
  const seen = new Set<string>();
  for (const d of devices) {
    if (seen.has(d.name)) throw new Error(`devices: device ${JSON.stringify(d.name)} defined twice`);
    seen.add(d.name);
  }
  const spec: CdiSpec = { cdiVersion: version.replace(/^v/, ''), kind, devices };
  const annotations = stringMap(o.annotations, 'annotations');
  if (annotations) spec.annotations = annotations;
  if (o.containerEdits !== undefined && o.containerEdits !== null) spec.containerEdits = containerEdits(o.containerEdits, 'containerEdits');
  const needed = minimumVersion(spec);
  if (versionIndex(needed) > versionIndex(spec.cdiVersion)) {
    throw new Error(`cdiVersion ${spec.cdiVersion} is too old for the fields used (they need ${needed})`);
  }
  return spec;
}
