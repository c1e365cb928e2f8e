// The launch plan (docs/launch-plan.md): every decision of a `create` taken here, in
// TypeScript, with the same code the Node create uses, and written next to
// config.json for the native launcher, which then executes it without Node.
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as c from '../sys/constants';
import { capabilityBit, capabilityMask } from '../sys/capabilities';
import { loadSpec, namespaceOf } from './spec';
import type { OciIdMapping, OciMount, OciNamespaceType, OciProcess, OciResources, OciSeccomp, OciSpec } from '../common/oci-spec';
import { checkSpecNamespaces } from './create';
import { cgroupManager, hostCgroupFs, CgroupV1, CgroupV2, SystemdCgroupV2, type CgroupFs, type CgroupManager } from './cgroups';
import { SET_UNIT_PROPERTIES, START_TRANSIENT_UNIT, scopeStartArguments, unitLimitArguments } from './cgroups/systemd';
import { encodeMethodCall } from '../sys/dbus';
import { managerMethodCall, SYSTEMD_PRIVATE_SOCKET } from '../sys/systemd-manager';
import { parseMountOptions, rootfsPropagationFlag } from './mount-options';
import { DEFAULT_DEVICES } from './rootfs';
import { validateId, type SavedState } from './state';

export const PLAN_FILE = 'cradle-launch.plan';
export const PLAN_SECCOMP_FILE = 'cradle-seccomp.bpf';
export const PLAN_DEVICES_FILE = 'cradle-devices.bpf';
export const PLAN_SYSTEMD_FILE = 'cradle-systemd.dbus';
export const PLAN_VERSION = 'cradle-plan-v1';

/** /proc files that may be mounted over (lxcfs), as rootfs.ts allows. */
const PROC_MOUNT_ALLOWED = new Set([
  '/proc/cpuinfo', '/proc/diskstats', '/proc/meminfo', '/proc/stat', '/proc/swaps', '/proc/uptime',
  '/proc/loadavg', '/proc/slabinfo', '/proc/net/dev', '/proc/sys/kernel/ns_last_pid',
]);

/** Why a spec stays on the Node path: thrown inside the writers, never out of them. */
export class NeedsNode extends Error {}

/** Compiled programs by digest of the seccomp JSON: the daemon writes the same profile for most containers. */
const seccompCache = new Map<string, Buffer>();

export interface LaunchPlanOptions {
  systemdCgroup?: boolean;
  /** systemd's private socket the launcher sends the scope's calls to (tests: a fake systemd). */
  systemdSocket?: string;
  /** The cgroup filesystem (unit tests: a fake tree); default the host's. */
  cgroupFs?: CgroupFs;
}

/**
 * Writes <bundle>/cradle-launch.plan (and cradle-seccomp.bpf) for `create <id>` of
 * this bundle. Returns false, with no plan left, when the create must take the Node
 * path: an invalid spec (the Node create then reports it exactly as it always did)
 * or a feature the launcher does not implement (docs/launch-plan.md lists them).
 */
export function writeLaunchPlan(bundle: string, id: string, opts: LaunchPlanOptions = {}): boolean {
  const dir = path.resolve(bundle);
  const planFile = path.join(dir, PLAN_FILE);
  let records: string[][];
  let files: Map<string, Buffer>;
  try {
    ({ records, files } = buildPlan(dir, id, opts));
  } catch {
    fs.rmSync(planFile, { force: true });
    return false;
  }
  for (const [file, data] of files) replaceBytes(file, data);
  writePlanFile(planFile, PLAN_VERSION, records);
  return true;
}

/** Removes a plan (a bundle whose config.json is rewritten without one). */
export function removeLaunchPlan(bundle: string): void {
  fs.rmSync(path.join(bundle, PLAN_FILE), { force: true });
}

function replaceBytes(file: string, data: Buffer): void {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`);
  fs.writeFileSync(tmp, data, { mode: 0o600 });
  try {
    fs.renameSync(tmp, file);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw err;
  }
}

const hex = (v: bigint): string => v.toString(10);

/** The plan's records and the files they name (programs), written beside it. */
function buildPlan(bundle: string, id: string, opts: LaunchPlanOptions): { records: string[][]; files: Map<string, Buffer> } {
  validateId(id);
  const configFile = path.join(bundle, 'config.json');
  const bytes = fs.readFileSync(configFile);
  const { spec, rootfs } = loadSpec(bundle, bytes.toString('utf8'));
  checkSpecNamespaces(spec, configFile);
  if (spec.hooks && Object.values(spec.hooks).some((h) => Array.isArray(h) && h.length > 0)) throw new NeedsNode('hooks');
  const linux = spec.linux ?? {};
  const cgroupsPath = linux.cgroupsPath ?? '';
  // A relative path is relative to the runtime's own cgroup, which the writer cannot know
  // (the systemd driver's "slice:prefix:name" names a unit, not a path).
  if (!opts.systemdCgroup && !cgroupsPath.startsWith('/')) throw new NeedsNode('relative cgroupsPath');
  const cgfs = opts.cgroupFs ?? hostCgroupFs();
  const cgroups = cgroupManager(cgroupsPath, id, cgfs, opts.systemdCgroup);
  for (const ns of linux.namespaces ?? []) {
    if (ns.type === 'time') throw new NeedsNode('time namespace');
    if (ns.type === 'cgroup' && ns.path) throw new NeedsNode('joined cgroup namespace');
  }
  const proc = spec.process!;
  const r: string[][] = [];
  r.push(['id', id]);
  r.push(['config-sha256', crypto.createHash('sha256').update(bytes).digest('hex')]);
  r.push(['bundle', bundle]);
  const realRootfs = fs.realpathSync(rootfs);
  r.push(['rootfs', realRootfs]);
  const saved: Omit<SavedState, 'pid' | 'startTime' | 'created' | 'namespacePaths'> = {
    id, bundle, rootfs, annotations: spec.annotations ?? {}, cgroupVersion: cgroups.version, cgroupsPath,
    cgroupPaths: cgroups.paths(), systemdCgroup: cgroups instanceof SystemdCgroupV2,
  };
  r.push(['state', JSON.stringify(saved).slice(1)]);
  const nsTypes: readonly OciNamespaceType[] = ['ipc', 'uts', 'network', 'pid', 'mount', 'cgroup', 'user'];
  for (const type of nsTypes) {
    const ns = namespaceOf(spec, type);
    if (ns) r.push(['namespace', type, ns.path ?? '']);
  }
  const userns = usernsOf(spec);
  const newCgroupNs = Boolean(namespaceOf(spec, 'cgroup') && !namespaceOf(spec, 'cgroup')!.path);
  const files = new Map<string, Buffer>();
  if (cgroups instanceof SystemdCgroupV2) r.push(systemdScopeRecord(cgroups, linux.resources, opts.systemdSocket ?? SYSTEMD_PRIVATE_SOCKET, bundle, files));
  r.push(...cgroupRecords(cgroups, cgfs, linux.resources, bundle, files));
  if (proc.oomScoreAdj !== undefined) r.push(['oom-score-adj', String(Math.max(-1000, Math.min(1000, Math.trunc(proc.oomScoreAdj))))]);
  r.push(['terminal', proc.terminal ? '1' : '0']);

  // Root filesystem, in rootfs.ts's order.
  const explicitProp = linux.rootfsPropagation;
  const propFlag = rootfsPropagationFlag(explicitProp);
  const after = explicitProp && (propFlag & c.MS_PRIVATE) === 0 ? propFlag : 0;
  r.push(['root-propagation', String(propFlag), String(after)]);
  const mounts = spec.mounts ?? [];
  for (const m of mounts) r.push(...mountRecords(m, bundle, cgroups.paths(), newCgroupNs, userns));
  if (mounts.some((m) => path.posix.normalize(m.destination) === '/dev')) {
    const seen = new Set<string>();
    for (const dev of [...(linux.devices ?? []), ...DEFAULT_DEVICES]) {
      const p = path.posix.normalize(dev.path);
      if (seen.has(p)) continue;
      seen.add(p);
      if (!p.startsWith('/dev/')) throw new NeedsNode('device outside /dev');
      const kind = dev.type === 'b' ? c.S_IFBLK : dev.type === 'p' ? c.S_IFIFO : dev.type === 'c' || dev.type === 'u' ? c.S_IFCHR : undefined;
      if (kind === undefined) throw new NeedsNode('unknown device type');
      const owned = dev.uid !== undefined || dev.gid !== undefined;
      r.push(['device', p, String(kind | ((dev.fileMode ?? 0o666) & 0o7777)), String(dev.major ?? 0), String(dev.minor ?? 0),
        String(owned ? dev.uid ?? 0 : -1), String(owned ? dev.gid ?? 0 : -1)]);
    }
    r.push(['dev-symlinks']);
  }

  // After pivot_root.
  for (const [key, value] of Object.entries(linux.sysctl ?? {})) {
    if (key.includes('..') || key.includes('/')) throw new NeedsNode('sysctl key');
    r.push(['sysctl', key, value]);
  }
  for (const p of linux.readonlyPaths ?? []) r.push(['readonly-path', p]);
  for (const p of linux.maskedPaths ?? []) r.push(['masked-path', p]);
  if (spec.root.readonly) r.push(['readonly-root']);
  // As runc: stdio on the host's /dev/null moves to the container's own (CRIU can then dump it).
  if (mounts.some((m) => path.posix.normalize(m.destination) === '/dev')) r.push(['reopen-dev-null']);
  if (spec.hostname) r.push(['hostname', spec.hostname]);
  if (spec.domainname) r.push(['domainname', spec.domainname]);
  let seccomp: { file: string; program: Buffer } | undefined;
  if (linux.seccomp) {
    seccomp = { file: path.join(bundle, PLAN_SECCOMP_FILE), program: compileSeccomp(linux.seccomp) };
    files.set(seccomp.file, seccomp.program);
  }
  r.push(...processRecords(proc, seccomp));
  return { records: r, files };
}

/**
 * The container's cgroups: v1, one `cgroup` per hierarchy; v2, one `cgroup2` (the
 * launcher enables the available controllers in each ancestor, as CgroupV2.create)
 * and the device rules as the eBPF program CgroupV2.set would attach. Then the limit
 * writes, in the order the Node create's set() makes them.
 */
function cgroupRecords(cgroups: CgroupManager, cgfs: CgroupFs, resources: OciResources | undefined, bundle: string, files: Map<string, Buffer>): string[][] {
  const r: string[][] = [];
  if (cgroups instanceof CgroupV1) {
    for (const h of cgroups.hierarchyList()) {
      const rel = path.relative(h.mount, h.dir);
      if (rel.startsWith('..')) throw new NeedsNode('cgroup outside its hierarchy');
      r.push(['cgroup', h.mount, h.dir, h.controllers.split(',').includes('cpuset') ? '1' : '0']);
    }
  } else if (cgroups instanceof CgroupV2) {
    r.push(['cgroup2', cgfs.root, cgroups.dir]);
    if (resources?.devices) {
      const file = path.join(bundle, PLAN_DEVICES_FILE);
      const program = CgroupV2.deviceProgram(resources.devices);
      files.set(file, program);
      r.push(['device-program', file, crypto.createHash('sha256').update(program).digest('hex')]);
    }
  } else {
    throw new NeedsNode('cgroup driver');
  }
  for (const w of resources ? cgroups.plannedWrites(resources) : []) r.push(['cgroup-write', w.file, w.value, w.optional ? '1' : '0']);
  // What the Node create would log as warnings (settings v2 cannot apply) stays there.
  if (cgroups instanceof CgroupV2 && cgroups.warnings.length > 0) throw new NeedsNode('cgroup warnings');
  return r;
}

/**
 * The systemd driver's scope, as SystemdCgroupV2 makes it: systemd creates it around
 * the init (StartTransientUnit), is told the limits it manages once the init is ready
 * (SetUnitProperties, before the files are written, as SystemdCgroupV2.set), and stops
 * it when the create fails (StopUnit). The calls are marshalled here; the launcher
 * sends them over systemd's private socket with the init's pid written at the offset
 * given, waits until the init is in the scope's cgroup (the `cgroup2` record then
 * delegates the controllers down to it), and reports systemd's error replies.
 */
function systemdScopeRecord(scope: SystemdCgroupV2, resources: OciResources | undefined, socket: string, bundle: string, files: Map<string, Buffer>): string[] {
  // Root talks to systemd directly; without the private socket the Node create uses the bus.
  if (!fs.existsSync(socket)) throw new NeedsNode('no systemd private socket');
  const start = (pid: number) => encodeMethodCall(1, managerMethodCall('StartTransientUnit', START_TRANSIENT_UNIT, scopeStartArguments(scope.unit, scope.slice, pid)));
  const low = start(0);
  const high = start(0xffffffff);
  const pidOffset = low.findIndex((b, i) => b !== high[i]);
  if (low.length !== high.length || pidOffset < 0 || !low.subarray(pidOffset + 4).equals(high.subarray(pidOffset + 4))) {
    throw new Error('StartTransientUnit: the PIDs property is not one u32 in the message');
  }
  const stop = encodeMethodCall(2, managerMethodCall('StopUnit', 'ss', [scope.unit, 'replace']));
  const limits = resources && unitLimitArguments(scope.unit, resources);
  const set = limits ? encodeMethodCall(3, managerMethodCall('SetUnitProperties', SET_UNIT_PROPERTIES, limits)) : Buffer.alloc(0);
  const file = path.join(bundle, PLAN_SYSTEMD_FILE);
  const messages = Buffer.concat([low, stop, set]);
  files.set(file, messages);
  return ['systemd-scope', socket, scope.unit, file, crypto.createHash('sha256').update(messages).digest('hex'),
    String(low.length), String(stop.length), String(pidOffset), scope.procCgroupLine];
}

/**
 * The records of a process spec, shared by create's plan and exec's (exec-plan.ts):
 * executed in this order by the launcher's process setup (launcher/process.c).
 */
export function processRecords(proc: OciProcess, seccomp: { file: string; program: Buffer } | undefined): string[][] {
  const r: string[][] = [];
  for (const rl of proc.rlimits ?? []) {
    const resource = c.RLIMITS[rl.type];
    if (resource === undefined) throw new NeedsNode('unknown rlimit');
    r.push(['rlimit', String(resource), BigInt.asUintN(64, BigInt(rl.soft)).toString(), BigInt.asUintN(64, BigInt(rl.hard)).toString(), rl.type]);
  }
  r.push(['user', String(proc.user.uid), String(proc.user.gid), String(proc.user.umask ?? 0o022)]);
  for (const g of proc.user.additionalGids ?? []) r.push(['additional-gid', String(g)]);
  const caps = proc.capabilities ?? {};
  r.push(['caps', hex(capabilityMask(caps.bounding ?? [])), hex(capabilityMask(caps.effective ?? [])),
    hex(capabilityMask(caps.permitted ?? [])), hex(capabilityMask(caps.inheritable ?? []))]);
  for (const name of caps.ambient ?? []) r.push(['ambient', String(capabilityBit(name)!)]);
  if (proc.noNewPrivileges) r.push(['no-new-privileges']);
  if (seccomp) r.push(['seccomp', seccomp.file, crypto.createHash('sha256').update(seccomp.program).digest('hex')]);
  // Applied at the execve (attr/apparmor/exec), as runc; a profile never names an empty string.
  if (proc.apparmorProfile) r.push(['apparmor', proc.apparmorProfile]);
  r.push(['cwd', proc.cwd]);
  for (const e of proc.env ?? []) r.push(['env', e]);
  for (const a of proc.args) r.push(['arg', a]);
  return r;
}

/** Writes a plan file as the launcher reads it: NUL-terminated strings after the version. */
export function writePlanFile(file: string, version: string, records: string[][]): void {
  const text = [version, ...records.flat()].map((s) => {
    if (s.includes('\0')) throw new Error(`launch plan: a value holds a NUL byte: ${JSON.stringify(s)}`);
    return s + '\0';
  }).join('');
  replaceBytes(file, Buffer.from(text, 'utf8'));
}

function compileSeccomp(config: OciSeccomp): Buffer {
  const digest = crypto.createHash('sha256').update(JSON.stringify(config)).digest('hex');
  const cached = seccompCache.get(digest);
  if (cached) return cached;
  const { buildSeccomp } = require('./seccomp-filter') as typeof import('./seccomp-filter');
  const filter = buildSeccomp(config);
  const tmp = path.join(require('node:os').tmpdir() as string, `cradle-seccomp-${process.pid}-${digest.slice(0, 16)}.bpf`);
  const fd = fs.openSync(tmp, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_TRUNC | c.O_CLOEXEC, 0o600);
  try {
    filter.exportBpf(fd);
  } finally {
    fs.closeSync(fd);
    filter.release();
  }
  const program = fs.readFileSync(tmp);
  fs.rmSync(tmp, { force: true });
  if (program.length === 0 || program.length % 8 !== 0) throw new NeedsNode('empty seccomp program');
  if (seccompCache.size > 64) seccompCache.clear();
  seccompCache.set(digest, program);
  return program;
}

/** The maps of a joined user namespace (the launcher mounts as the host's root, then joins it). */
interface PlanUserns {
  uids: OciIdMapping[];
  gids: OciIdMapping[];
}

function usernsOf(spec: OciSpec): PlanUserns | undefined {
  if (!namespaceOf(spec, 'user')) return undefined;
  const uids = spec.linux?.uidMappings ?? [];
  const gids = spec.linux?.gidMappings ?? [];
  if (uids.length === 0 || gids.length === 0) throw new NeedsNode('user namespace without mappings');
  return { uids, gids };
}

function hostIdOf(maps: readonly OciIdMapping[], id: number): number {
  const m = maps.find((r) => id >= r.containerID && id < r.containerID + r.size);
  if (!m) throw new NeedsNode(`id ${id} not mapped`);
  return m.hostID + (id - m.containerID);
}

/** "container host size" lines, as uid_map and gid_map take them. */
function idMapText(maps: readonly OciIdMapping[]): string {
  return maps.map((m) => `${m.containerID} ${m.hostID} ${m.size}`).join('\n');
}

/**
 * Filesystems the launcher makes while still the host's root are owned by host ids: in
 * a user namespace, a tmpfs root and devpts's gid are given as the host ids of the
 * container's (the ids the container would have made them with).
 */
function userOwnedData(type: string, data: string[], userns: PlanUserns | undefined): string[] {
  if (!userns || (type !== 'tmpfs' && type !== 'devpts')) return data;
  const out = data.map((d) => {
    const [key, value] = d.split('=', 2);
    if ((key === 'uid' || key === 'gid') && value !== undefined && /^\d+$/.test(value)) {
      return `${key}=${hostIdOf(key === 'uid' ? userns.uids : userns.gids, Number(value))}`;
    }
    return d;
  });
  if (type === 'tmpfs') {
    if (!out.some((d) => d.startsWith('uid='))) out.push(`uid=${hostIdOf(userns.uids, 0)}`);
    if (!out.some((d) => d.startsWith('gid='))) out.push(`gid=${hostIdOf(userns.gids, 0)}`);
  }
  return out;
}

/** One spec mount as plan records, following rootfs.ts mountEntry and mountCgroup. */
function mountRecords(m: OciMount, bundle: string, cgroupPaths: Record<string, string>, cgroupNs: boolean, userns: PlanUserns | undefined): string[][] {
  const destination = path.posix.normalize(m.destination);
  const type = m.type ?? '';
  const opts = parseMountOptions(m.options);
  opts.data = userOwnedData(type, opts.data, userns);
  if (destination.startsWith('/proc/') && !PROC_MOUNT_ALLOWED.has(destination)) throw new NeedsNode('mount over /proc');
  const noSymlink = type === 'proc' || type === 'sysfs' ? '1' : '0';
  const mount = (dest: string, source: string, fstype: string, flags: number, data: string, create: string, remount: number, prop: number[], noSym: string): string[] =>
    ['mount', dest, source, fstype, String(flags), data, create, String(remount), prop.join(' '), noSym];
  if (type === 'cgroup' || type === 'cgroup2') {
    const ro = opts.flags & c.MS_RDONLY;
    const base = c.MS_NOSUID | c.MS_NODEV | c.MS_NOEXEC;
    const unified = cgroupPaths[''];
    if (unified !== undefined) {
      // v2, as rootfs.ts mountCgroup: a cgroup2 fs whose root is the container's cgroup, or a bind of its dir.
      return [cgroupNs ? mount(destination, 'cgroup2', 'cgroup2', base | ro, '', 'dir', 0, [], '0')
        : mount(destination, unified, '', c.MS_BIND | c.MS_REC, '', 'dir', 0, [], '0')];
    }
    const out: string[][] = [mount(destination, 'tmpfs', 'tmpfs', base, 'mode=755', 'dir', 0, [], '0')];
    for (const [controllers, hostDir] of Object.entries(cgroupPaths)) {
      const name = controllers.startsWith('name=') ? controllers.slice(5) : controllers;
      const sub = path.posix.join(destination, name);
      if (cgroupNs) {
        out.push(mount(sub, 'cgroup', 'cgroup', base | ro, controllers.startsWith('name=') ? `none,${controllers}` : controllers, 'dir', 0, [], '0'));
      } else {
        out.push(mount(sub, hostDir, '', c.MS_BIND, '', 'dir', base | ro, [], '0'));
      }
      const parts = controllers.split(',');
      if (parts.length > 1) for (const part of parts) out.push(['symlink', name, path.posix.join(destination, part)]);
    }
    return out;
  }
  // "rro": the mount and every mount below it made read-only after it is made (mount_setattr).
  const rro = opts.recursiveReadOnly ? [['mount-rro', destination]] : [];
  const idmapped = m.uidMappings !== undefined || m.gidMappings !== undefined;
  if (idmapped && !opts.bind) throw new NeedsNode('idmapped mount that is not a bind');
  if (opts.bind) {
    const source = path.resolve(bundle, m.source ?? type);
    const extra = opts.flags & ~(c.MS_BIND | c.MS_REC | c.MS_REMOUNT);
    // The bind made, then replaced by an idmapped clone of it (launcher/rootfs.c do_mount_idmap).
    const idmap = idmapped ? [['mount-idmap', destination, idMapText(m.uidMappings ?? []), idMapText(m.gidMappings ?? []), opts.recursive ? '1' : '0']] : [];
    return [mount(destination, source, '', c.MS_BIND | (opts.recursive ? c.MS_REC : 0), '', 'source', extra, opts.propagation, noSymlink), ...rro, ...idmap];
  }
  return [mount(destination, m.source ?? type, type, opts.flags, opts.data.join(','), 'dir', 0, opts.propagation, noSymlink), ...rro];
}
