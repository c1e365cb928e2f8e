// The OCI runtime spec (config.json) of a container and of a pod's pause process, from
// the CRI request, the image config and the sandbox's facts. Pure apart from reading the
// rootfs's /etc/passwd and /etc/group, a Localhost seccomp file and HostProbe calls.
import { errors } from '../../common/errors';
import { buildAnnotations } from './annotations';
import { chooseAppArmor, resolveAppArmor } from './apparmor';
import { buildCapabilities, ALL_CAPABILITIES } from './capabilities';
import { injectCdiDevices } from '../cdi';
import { buildDevices } from './devices';
import { hostCapabilities, realHostProbe } from './host-probe';
import type { ContainerSpecInput, ImageConfig, PauseSpecInput, SandboxUserns } from './inputs';
import { checkIdsMapped, ociIdMappings } from './userns';
import {
  DEFAULT_MASKED_PATHS, DEFAULT_READONLY_PATHS, buildCriMounts, imageVolumeMounts, imageVolumes, mergeMounts,
  sandboxFileMounts, shmMount, standardMounts, type ImageVolume,
} from './mounts';
import { buildContainerNamespaces, buildPauseNamespaces } from './namespaces';
import type { OciLinux, OciMount, OciProcess } from '../../common/oci-spec';
import type { BuiltLinux, BuiltSpec } from './built-spec';
import { mergeArgs, mergeEnv, resolveCwd } from './process-args';
import { buildResources, cgroupsPath, oomScoreAdj } from './resources';
import { buildSeccomp, chooseSeccomp } from './seccomp';
import { validateSysctls } from './sysctls';
import { readAccountDb, resolveUser, type ResolvedUser } from './user';

/** The runtime-spec version the configs this builder writes claim. */
const OCI_VERSION = '1.0.2';

export interface ContainerSpecResult {
  spec: BuiltSpec;
  /** The resolved user (for ContainerStatus.user). */
  user: ResolvedUser;
  /** Host directories to create before `create` (anonymous image volumes). */
  imageVolumes: ImageVolume[];
  /** Signal for StopContainer: CRI stop_signal, else the image's StopSignal, else SIGTERM. */
  stopSignal: string;
}

const SC = 'config.linux.securityContext';

/** CRI Signal enum / image StopSignal ("TERM", "SIGTERM", "15") → "SIGTERM" or "15". */
export function normalizeSignal(value: string | undefined): string | undefined {
  if (!value || value === 'RUNTIME_DEFAULT') return undefined;
  const v = value.trim().toUpperCase();
  if (/^\d+$/.test(v)) return v;
  const named = v.startsWith('SIG') ? v : `SIG${v}`;
  return named.replace(/^SIGRTMINPLUS(\d+)$/, 'SIGRTMIN+$1').replace(/^SIGRTMAXMINUS(\d+)$/, 'SIGRTMAX-$1');
}

function kubeletMaskedPaths(list: readonly string[], defaults: readonly string[]): string[] {
  // An empty list cannot be told from "unset" on the wire: use cradle's defaults (containerd does the same).
  return list.length > 0 ? [...list] : [...defaults];
}

export function buildContainerSpec(input: ContainerSpecInput): ContainerSpecResult {
  const { config, sandboxConfig, imageConfig, sandbox, runtime, container } = input;
  const probe = input.probe ?? realHostProbe;
  if (!config.metadata || config.metadata.name === '') throw errors.missingField('config.metadata.name');
  const sc = config.linux?.securityContext ?? null;
  const privileged = sc?.privileged ?? false;
  if (privileged && !sandboxConfig.linux?.securityContext?.privileged) {
    throw errors.invalidField(`${SC}.privileged`, 'a privileged container needs a privileged pod sandbox');
  }

  const ns = buildContainerNamespaces(sc?.namespaceOptions ?? null, sandbox, container.targetPidNamespace, runtime.cgroupVersion === 2 && !privileged);
  const all = runtime.allCapabilities ?? hostCapabilities(ALL_CAPABILITIES);
  const capabilities = buildCapabilities(sc?.capabilities ?? null, privileged, runtime.defaultCapabilities, all);
  const user = resolveUser(sc, imageConfig.User, readAccountDb(input.rootfs));
  if (sandbox.userns) checkIdsMapped(sandbox.userns, user, `${SC}.runAsUser`);
  const hostname = ns.hostUts ? undefined : sandbox.hostname;

  const args = mergeArgs(config.command, config.args, imageConfig.Entrypoint, imageConfig.Cmd);
  const env = mergeEnv(imageConfig.Env, config.envs, { hostname: sandbox.hostname, home: user.home, tty: config.tty });
  const cwd = resolveCwd(config.workingDir, imageConfig.WorkingDir);

  const seccomp = buildSeccomp(chooseSeccomp(sc?.seccomp ?? null, sc?.seccompProfilePath ?? '', SC, runtime.seccompUseDefaultWhenEmpty), {
    privileged,
    capabilities: capabilities.bounding,
    profileRoot: runtime.seccompProfileRoot,
    defaultProfile: runtime.defaultSeccompProfile,
    ...(runtime.arch ? { arch: runtime.arch } : {}),
  });

  const apparmorProfile = resolveAppArmor(chooseAppArmor(sc?.apparmor ?? null, sc?.apparmorProfile ?? '', SC), privileged, runtime.apparmor);

  const readonlyRootfs = sc?.readonlyRootfs ?? false;
  const cri = buildCriMounts(config.mounts, probe, runtime.supportsRecursiveReadOnly, container.imageMountSources, sandbox.userns);
  const criDestinations = new Set(cri.mounts.map((m) => m.destination));
  const volumes = imageVolumes(imageConfig.Volumes, container.imageVolumeRoot, criDestinations);
  const base = [
    ...standardMounts(privileged),
    shmMount(sandbox.shmPath),
    ...sandboxFileMounts(sandbox, readonlyRootfs),
  ];
  const podOwned = new Set([sandbox.shmPath, sandbox.hostsPath, sandbox.resolvConfPath, sandbox.hostnamePath].filter((p): p is string => !!p));
  const mounts = idmapMounts(mergeMounts(base, imageVolumeMounts(volumes), cri.mounts), sandbox.userns, cri.imageDestinations, podOwned);

  const devices = buildDevices(config.devices, privileged, probe);
  const resources = buildResources(config.linux?.resources ?? null, runtime);
  resources.devices = devices.cgroup;

  const linux: BuiltLinux = {
    namespaces: ns.namespaces,
    ...usernsMappings(sandbox.userns),
    cgroupsPath: cgroupsPath(runtime.cgroupDriver, sandbox.cgroupParent, container.id),
    resources,
  };
  if (devices.devices.length > 0) linux.devices = devices.devices;
  if (seccomp) linux.seccomp = seccomp;
  if (cri.rootfsPropagation) linux.rootfsPropagation = cri.rootfsPropagation;
  if (!privileged) {
    linux.maskedPaths = kubeletMaskedPaths(sc?.maskedPaths ?? [], DEFAULT_MASKED_PATHS);
    linux.readonlyPaths = kubeletMaskedPaths(sc?.readonlyPaths ?? [], DEFAULT_READONLY_PATHS);
  }

  const meta = sandboxConfig.metadata;
  const spec: BuiltSpec = {
    ociVersion: OCI_VERSION,
    process: {
      terminal: config.tty,
      user: { uid: user.uid, gid: user.gid, additionalGids: user.additionalGids },
      args,
      env,
      cwd,
      capabilities,
      noNewPrivileges: sc?.noNewPrivs ?? false,
      oomScoreAdj: oomScoreAdj(config.linux?.resources?.oomScoreAdj ?? '0', runtime.minOomScoreAdj),
      ...(apparmorProfile ? { apparmorProfile } : {}),
    },
    root: { path: input.rootfs, readonly: readonlyRootfs },
    mounts,
    annotations: buildAnnotations(config.annotations, {
      type: 'container',
      id: container.id,
      sandboxId: sandbox.id,
      name: config.metadata.name,
      attempt: config.metadata.attempt,
      podName: meta?.name ?? '',
      podNamespace: meta?.namespace ?? '',
      podUid: meta?.uid ?? '',
      image: config.image?.userSpecifiedImage || config.image?.image || '',
      imageRef: container.imageRef,
      logPath: container.logPath,
      ...(container.createdAt ? { createdAt: container.createdAt } : {}),
      labels: config.labels,
    }),
    linux,
  };
  injectCdiDevices(spec, config.CDIDevices.map((d) => d.name), config.annotations ?? {}, runtime.cdiSpecDirs ?? []);
  if (runtime.defaultUlimits.length > 0) spec.process.rlimits = runtime.defaultUlimits.map((r) => ({ ...r }));
  if (hostname !== undefined) spec.hostname = hostname;

  return {
    spec,
    user,
    imageVolumes: volumes,
    stopSignal: normalizeSignal(config.stopSignal) ?? normalizeSignal(imageConfig.StopSignal) ?? 'SIGTERM',
  };
}

/** oom_score_adj kubelet gives sandboxes (PodInfraOOMAdj), bounded by the host minimum. */
/** linux.uidMappings/gidMappings of a process in the pod's user namespace. */
function usernsMappings(userns: SandboxUserns | undefined): Pick<OciLinux, 'uidMappings' | 'gidMappings'> {
  return userns ? { uidMappings: ociIdMappings(userns.uids), gidMappings: ociIdMappings(userns.gids) } : {};
}

/**
 * In a pod with its own user namespace, every bind mount is idmapped (KEP-127): a CRI
 * mount with uid/gid mappings of its own keeps them, every other bind gets the pod's,
 * so files keep the owners they have on the host as the pod's ids (host root's file is
 * the pod root's) and what the pod writes is stored with the ids it sees. Image mounts
 * (`shown`) are overlays of idmapped layers already. The pod's own files and /dev/shm
 * (`podOwned` sources, on the run root's tmpfs, which Linux idmaps only from 6.3) are
 * owned by the pod's root on the host instead, what the pod sees the same way.
 */
function idmapMounts(mounts: OciMount[], userns: SandboxUserns | undefined, shown: ReadonlySet<string> = new Set(), podOwned: ReadonlySet<string> = new Set()): OciMount[] {
  if (!userns) return mounts;
  const maps = { uidMappings: ociIdMappings(userns.uids), gidMappings: ociIdMappings(userns.gids) };
  return mounts.map((m) => (m.type === 'bind' && !m.uidMappings && !shown.has(m.destination) && !(m.source && podOwned.has(m.source)) ? { ...m, ...maps } : m));
}

export const PAUSE_OOM_SCORE_ADJ = -998;
/** cpu.shares of the pause process (the kernel minimum, as kubelet/cri-o give it). */
export const PAUSE_CPU_SHARES = 2;

function pauseArgs(input: PauseSpecInput, image: ImageConfig): string[] {
  if (input.args && input.args.length > 0) return [...input.args];
  const fromImage = [...(image.Entrypoint ?? []), ...(image.Cmd ?? [])];
  return fromImage.length > 0 ? fromImage : ['/pause'];
}

/**
 * The pause process: holds the pod's namespaces and does nothing else. No capabilities,
 * no_new_privs, read-only rootfs, lowest cpu shares, oom_score_adj as low as allowed.
 * Pod-level sysctls are applied here (the pod's namespaces are first entered by pause).
 */
export function buildPauseSpec(input: PauseSpecInput): BuiltSpec {
  const { sandboxConfig, runtime } = input;
  const psc = sandboxConfig.linux?.securityContext ?? null;
  const privileged = psc?.privileged ?? false;
  const ns = buildPauseNamespaces({ ...input.namespaces, ...(input.userns ? { user: { path: input.userns.path } } : {}) }, runtime.cgroupVersion === 2 && !privileged);
  const field = 'config.linux.securityContext';
  const user = resolveUser(
    psc ? { ...psc, runAsUsername: '' } : null,
    input.imageConfig.User,
    // pause images are FROM scratch: numeric USER, no /etc/passwd needed.
    readAccountDb(input.rootfs),
    field,
  );
  if (input.userns) checkIdsMapped(input.userns, user, `${field}.runAsUser`);
  const capabilities = { bounding: [], effective: [], inheritable: [], permitted: [], ambient: [] };
  // The pod's own profile, as containerd applies it to its sandbox container: none named → unconfined.
  const seccomp = buildSeccomp(chooseSeccomp(psc?.seccomp ?? null, psc?.seccompProfilePath ?? '', field, runtime.seccompUseDefaultWhenEmpty), {
    privileged,
    capabilities: [],
    profileRoot: runtime.seccompProfileRoot,
    defaultProfile: runtime.defaultSeccompProfile,
    ...(runtime.arch ? { arch: runtime.arch } : {}),
  });
  // The pod's own AppArmor field (no deprecated string for sandboxes), as for a container.
  const apparmorProfile = resolveAppArmor(chooseAppArmor(psc?.apparmor ?? null, '', field), privileged, runtime.apparmor);
  const sysctls = validateSysctls(input.sysctls, { network: ns.hostNetwork, ipc: ns.hostIpc, uts: ns.hostUts }, 'config.linux.sysctls');

  const linux: BuiltLinux = {
    namespaces: ns.namespaces,
    ...usernsMappings(input.userns),
    cgroupsPath: cgroupsPath(runtime.cgroupDriver, input.cgroupParent, input.sandboxId, 'config.linux.cgroupParent'),
    resources: { cpu: { shares: PAUSE_CPU_SHARES }, devices: [{ allow: false, access: 'rwm' }] },
    maskedPaths: [...DEFAULT_MASKED_PATHS],
    readonlyPaths: [...DEFAULT_READONLY_PATHS],
  };
  if (Object.keys(sysctls).length > 0) linux.sysctl = sysctls;
  if (seccomp) linux.seccomp = seccomp;

  const meta = sandboxConfig.metadata;
  const spec: BuiltSpec = {
    ociVersion: OCI_VERSION,
    process: {
      terminal: false,
      user: { uid: user.uid, gid: user.gid, additionalGids: user.additionalGids },
      args: pauseArgs(input, input.imageConfig),
      env: mergeEnv(input.imageConfig.Env, []),
      cwd: '/',
      capabilities,
      noNewPrivileges: true,
      oomScoreAdj: Math.max(PAUSE_OOM_SCORE_ADJ, runtime.minOomScoreAdj),
      ...(apparmorProfile ? { apparmorProfile } : {}),
    },
    root: { path: input.rootfs, readonly: true },
    mounts: idmapMounts([...standardMounts(false), shmMount(input.shmPath)], input.userns, undefined, new Set(input.shmPath ? [input.shmPath] : [])),
    annotations: buildAnnotations(sandboxConfig.annotations, {
      type: 'sandbox',
      id: input.sandboxId,
      sandboxId: input.sandboxId,
      name: meta?.name ?? '',
      attempt: meta?.attempt ?? 0,
      podName: meta?.name ?? '',
      podNamespace: meta?.namespace ?? '',
      podUid: meta?.uid ?? '',
      ...(input.imageRef ? { imageRef: input.imageRef } : {}),
      logDirectory: sandboxConfig.logDirectory,
      labels: sandboxConfig.labels,
    }),
    linux,
  };
  if (!ns.hostUts && input.hostname) spec.hostname = input.hostname;
  return spec;
}

/**
 * The process of an exec in a running container (ExecSync/Exec): the container's own
 * process with the command replaced and the terminal as asked (cri-o's prepareProcessExec).
 */
export function buildExecProcess(container: OciProcess, cmd: readonly string[], tty: boolean): OciProcess & { env: string[] } {
  if (cmd.length === 0 || cmd[0] === '') throw errors.invalidField('cmd', 'no command to execute');
  const env = (container.env ?? []).filter((e) => !e.startsWith('TERM='));
  if (tty) env.push('TERM=xterm');
  const out = { ...container, args: [...cmd], env, terminal: tty };
  out.user = { ...container.user, ...(container.user.additionalGids ? { additionalGids: [...container.user.additionalGids] } : {}) };
  return out;
}
