// Linux namespaces of a container from CRI NamespaceOption and the sandbox's namespaces.
import { errors } from '../../common/errors';
import type { NamespaceOption__Output } from '../../generated/runtime/v1/NamespaceOption';
import type { NamespaceRef, PauseNamespace, SandboxFacts } from './inputs';
import type { OciNamespace, OciNamespaceType } from '../../common/oci-spec';

const FIELD = 'config.linux.securityContext.namespaceOptions';

export interface ContainerNamespaces {
  namespaces: OciNamespace[];
  hostNetwork: boolean;
  hostIpc: boolean;
  hostPid: boolean;
  hostUts: boolean;
}

function join(type: OciNamespaceType, ref: NamespaceRef | undefined, out: OciNamespace[], what: string): boolean {
  if (ref === undefined) throw errors.failedPrecondition(`sandbox has no ${what} namespace to join`);
  if (ref === 'host') return true;
  out.push({ type, path: ref.path });
  return false;
}

/**
 * - network: POD (or CONTAINER, which Kubernetes never sends) joins the pod's; NODE = host.
 * - ipc: POD joins the pod's; CONTAINER = a new one; NODE = host.
 * - uts: always the pod's (host exactly when the pod uses the host network).
 * - pid: POD (the CRI's zero value, so the default) = the pod's shared one; CONTAINER = a new one; NODE = host;
 *   TARGET = the target container's (path supplied by the caller).
 * - mount: always new. cgroup: new on cgroup v2 (not for privileged containers).
 * - user: the pod's pinned one when the pod has it (POD), else the host's (NODE).
 */
export function buildContainerNamespaces(
  opts: NamespaceOption__Output | null,
  sandbox: SandboxFacts,
  targetPidNamespace: string | undefined,
  cgroupNamespace: boolean,
): ContainerNamespaces {
  const ns: OciNamespace[] = [{ type: 'mount' }];
  const network = opts?.network ?? 'POD';
  const ipc = opts?.ipc ?? 'POD';
  // No options: the CRI's zero value POD when the pod has a shared PID namespace.
  const pid = opts?.pid ?? (sandbox.namespaces.pid ? 'POD' : 'CONTAINER');

  let hostNetwork: boolean;
  if (network === 'NODE') hostNetwork = true;
  else if (network === 'POD' || network === 'CONTAINER') hostNetwork = join('network', sandbox.namespaces.network, ns, 'network');
  else throw errors.invalidField(`${FIELD}.network`, `mode ${network} is not valid for the network namespace`);

  let hostIpc: boolean;
  if (ipc === 'NODE') hostIpc = true;
  else if (ipc === 'POD') hostIpc = join('ipc', sandbox.namespaces.ipc, ns, 'ipc');
  else if (ipc === 'CONTAINER') {
    ns.push({ type: 'ipc' });
    hostIpc = false;
  } else throw errors.invalidField(`${FIELD}.ipc`, `mode ${ipc} is not valid for the IPC namespace`);

  const hostUts = join('uts', sandbox.namespaces.uts, ns, 'uts');

  let hostPid = false;
  switch (pid) {
    case 'CONTAINER':
      ns.push({ type: 'pid' });
      break;
    case 'POD':
      if (!sandbox.namespaces.pid) throw errors.invalidField(`${FIELD}.pid`, 'the pod has no shared PID namespace');
      hostPid = join('pid', sandbox.namespaces.pid, ns, 'pid');
      break;
    case 'NODE':
      hostPid = true;
      break;
    case 'TARGET':
      if (!opts?.targetId) throw errors.invalidField(`${FIELD}.targetId`, 'required when pid is TARGET');
      if (!targetPidNamespace) throw errors.invalidField(`${FIELD}.targetId`, `target container ${JSON.stringify(opts.targetId)} has no PID namespace to join`);
      ns.push({ type: 'pid', path: targetPidNamespace });
      break;
    default:
      throw errors.invalidField(`${FIELD}.pid`, `unknown mode ${String(pid)}`);
  }

  // Every container of a pod with its own user namespace is in it (the kubelet sends
  // the pod's options again); a container cannot have one of its own or leave the pod's.
  const userns = opts?.usernsOptions;
  if (userns && userns.mode !== 'NODE' && userns.mode !== 'POD') {
    throw errors.invalidField(`${FIELD}.usernsOptions.mode`, `user namespace mode ${userns.mode} is not supported (a container joins its pod's)`);
  }
  if (userns?.mode === 'POD' && !sandbox.userns) throw errors.invalidField(`${FIELD}.usernsOptions.mode`, 'the pod sandbox has no user namespace of its own (it runs in the host\'s)');
  if (userns?.mode === 'NODE' && sandbox.userns) throw errors.invalidField(`${FIELD}.usernsOptions.mode`, 'the pod sandbox has a user namespace: its containers cannot run in the host\'s');
  if (sandbox.userns) ns.push({ type: 'user', path: sandbox.userns.path });
  if (cgroupNamespace) ns.push({ type: 'cgroup' });
  return { namespaces: ns, hostNetwork, hostIpc, hostPid, hostUts };
}

/** Namespaces of the pause process: each is joined (pinned path), the host's, or new. */
export function buildPauseNamespaces(n: Record<'network' | 'ipc' | 'uts' | 'pid', PauseNamespace> & { user?: { path: string } }, cgroupNamespace: boolean): ContainerNamespaces {
  const ns: OciNamespace[] = [{ type: 'mount' }];
  const one = (type: OciNamespaceType, ref: PauseNamespace): boolean => {
    if (ref === 'host') return true;
    ns.push(ref === 'new' ? { type } : { type, path: ref.path });
    return false;
  };
  const hostNetwork = one('network', n.network);
  const hostIpc = one('ipc', n.ipc);
  const hostUts = one('uts', n.uts);
  const hostPid = one('pid', n.pid);
  if (n.user) ns.push({ type: 'user', path: n.user.path });
  if (cgroupNamespace) ns.push({ type: 'cgroup' });
  return { namespaces: ns, hostNetwork, hostIpc, hostPid, hostUts };
}
