// Loading and validating the config.json this runtime reads (the types are
// common/oci-spec.ts). Validation runs in `create` before anything is created, so a
// bad config leaves nothing behind and names the offending key.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { capabilityBit } from '../sys/capabilities';
import { OCI_NAMESPACE_TYPES, type OciNamespace, type OciNamespaceType, type OciSpec } from '../common/oci-spec';

/** A config problem: `key` is the JSON path of the offending value. */
export class SpecError extends Error {
  constructor(readonly file: string, readonly key: string, problem: string) {
    super(`${file}: ${key}: ${problem}`);
    this.name = 'SpecError';
  }
}

/** Reads and validates <bundle>/config.json (or its given contents); resolves root.path against the bundle. */
export function loadSpec(bundle: string, contents?: string): { spec: OciSpec; rootfs: string } {
  const file = path.join(bundle, 'config.json');
  let text: string;
  try {
    text = contents ?? fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new SpecError(file, '(file)', `cannot read: ${(err as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new SpecError(file, '(file)', `invalid JSON: ${(err as Error).message}`);
  }
  const spec = validateSpec(raw, file);
  const rootfs = path.resolve(bundle, spec.root.path);
  let st: fs.Stats;
  try {
    st = fs.statSync(rootfs);
  } catch {
    throw new SpecError(file, 'root.path', `rootfs ${rootfs} does not exist`);
  }
  if (!st.isDirectory()) throw new SpecError(file, 'root.path', `rootfs ${rootfs} is not a directory`);
  return { spec, rootfs };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isStringArray(v: unknown): v is string[] {
  return Array.isArray(v) && v.every((x) => typeof x === 'string');
}

export function validateSpec(raw: unknown, file = 'config.json'): OciSpec {
  const fail = (key: string, problem: string): never => { throw new SpecError(file, key, problem); };
  if (!isObject(raw)) return fail('(root)', 'must be a JSON object');
  if (typeof raw.ociVersion !== 'string') fail('ociVersion', 'is required (string)');
  else if (!/^1\./.test(raw.ociVersion)) fail('ociVersion', `unsupported version ${JSON.stringify(raw.ociVersion)} (want 1.x)`);
  if (!isObject(raw.root) || typeof raw.root.path !== 'string' || raw.root.path === '') fail('root.path', 'is required (string)');
  const proc = raw.process;
  if (!isObject(proc)) return fail('process', 'is required (object)');
  if (!isStringArray(proc.args) || proc.args.length === 0) fail('process.args', 'must be a non-empty array of strings');
  if (typeof proc.cwd !== 'string' || !proc.cwd.startsWith('/')) fail('process.cwd', 'must be an absolute path');
  if (!isObject(proc.user) || !Number.isInteger(proc.user.uid) || !Number.isInteger(proc.user.gid)) fail('process.user', 'uid and gid are required integers');
  const user = proc.user as Record<string, unknown>;
  if (user.additionalGids !== undefined && !(Array.isArray(user.additionalGids) && user.additionalGids.every(Number.isInteger))) {
    fail('process.user.additionalGids', 'must be an array of integers');
  }
  if (proc.env !== undefined && !isStringArray(proc.env)) fail('process.env', 'must be an array of strings');
  if (proc.capabilities !== undefined) {
    if (!isObject(proc.capabilities)) fail('process.capabilities', 'must be an object');
    for (const set of ['bounding', 'effective', 'inheritable', 'permitted', 'ambient']) {
      const names = (proc.capabilities as Record<string, unknown>)[set];
      if (names === undefined) continue;
      if (!isStringArray(names)) fail(`process.capabilities.${set}`, 'must be an array of strings');
      for (const name of names as string[]) {
        if (capabilityBit(name) === undefined) fail(`process.capabilities.${set}`, `unknown capability ${JSON.stringify(name)}`);
      }
    }
  }
  if (proc.rlimits !== undefined) {
    if (!Array.isArray(proc.rlimits)) fail('process.rlimits', 'must be an array');
    (proc.rlimits as unknown[]).forEach((r, i) => {
      if (!isObject(r) || typeof r.type !== 'string' || !Number.isFinite(r.hard) || !Number.isFinite(r.soft)) fail(`process.rlimits[${i}]`, 'needs type, hard and soft');
    });
  }
  if (raw.mounts !== undefined) {
    if (!Array.isArray(raw.mounts)) fail('mounts', 'must be an array');
    (raw.mounts as unknown[]).forEach((m, i) => {
      if (!isObject(m) || typeof m.destination !== 'string') return fail(`mounts[${i}].destination`, 'is required (string)');
      if (!m.destination.startsWith('/')) fail(`mounts[${i}].destination`, `must be absolute, got ${JSON.stringify(m.destination)}`);
      if (m.options !== undefined && !isStringArray(m.options)) fail(`mounts[${i}].options`, 'must be an array of strings');
      for (const key of ['uidMappings', 'gidMappings'] as const) if (m[key] !== undefined) checkIdMappings(m[key], `mounts[${i}].${key}`, fail);
      if ((m.uidMappings === undefined) !== (m.gidMappings === undefined)) fail(`mounts[${i}].uidMappings`, 'uidMappings and gidMappings go together');
    });
  }
  const linux = raw.linux;
  if (linux !== undefined) {
    if (!isObject(linux)) return fail('linux', 'must be an object');
    const seen = new Set<string>();
    if (linux.namespaces !== undefined) {
      if (!Array.isArray(linux.namespaces)) fail('linux.namespaces', 'must be an array');
      (linux.namespaces as unknown[]).forEach((ns, i) => {
        if (!isObject(ns) || typeof ns.type !== 'string') return fail(`linux.namespaces[${i}].type`, 'is required');
        if (!(OCI_NAMESPACE_TYPES as readonly string[]).includes(ns.type)) fail(`linux.namespaces[${i}].type`, `unknown namespace type ${JSON.stringify(ns.type)}`);
        if (seen.has(ns.type)) fail(`linux.namespaces[${i}].type`, `namespace ${ns.type} listed twice`);
        seen.add(ns.type);
        // Only joined (the daemon pins a pod's user namespace with its maps); the native launcher joins it.
        if (ns.type === 'user' && !ns.path) {
          fail(`linux.namespaces[${i}]`, 'cradle-runtime joins a user namespace by path only (a new one is not supported)');
        }
        if (ns.path !== undefined && (typeof ns.path !== 'string' || !ns.path.startsWith('/'))) fail(`linux.namespaces[${i}].path`, 'must be an absolute path');
      });
    }
    for (const key of ['uidMappings', 'gidMappings'] as const) {
      if (linux[key] === undefined) continue;
      checkIdMappings(linux[key], `linux.${key}`, fail);
      if ((linux[key] as unknown[]).length > 0 && !seen.has('user')) fail(`linux.${key}`, 'mappings need a user namespace');
    }
    if (linux.seccomp !== undefined) {
      const sc = linux.seccomp;
      if (!isObject(sc) || typeof sc.defaultAction !== 'string') fail('linux.seccomp.defaultAction', 'is required');
      const s = sc as Record<string, unknown>;
      if (s.listenerPath) fail('linux.seccomp.listenerPath', 'SCMP_ACT_NOTIFY listeners are not supported');
      if (s.syscalls !== undefined && !Array.isArray(s.syscalls)) fail('linux.seccomp.syscalls', 'must be an array');
    }
    if (linux.resources !== undefined && !isObject(linux.resources)) fail('linux.resources', 'must be an object');
  }
  return raw as unknown as OciSpec;
}

function checkIdMappings(value: unknown, key: string, fail: (key: string, problem: string) => never): void {
  if (!Array.isArray(value)) fail(key, 'must be an array');
  (value as unknown[]).forEach((m, i) => {
    const ok = isObject(m) && [m.containerID, m.hostID, m.size].every((v) => Number.isInteger(v) && (v as number) >= 0 && (v as number) < 2 ** 32);
    if (!ok) fail(`${key}[${i}]`, 'needs containerID, hostID and size (32-bit ids)');
  });
}

/** The namespace entry of a type, if the config lists it. */
export function namespaceOf(spec: OciSpec, type: OciNamespaceType): OciNamespace | undefined {
  return spec.linux?.namespaces?.find((ns) => ns.type === type);
}
