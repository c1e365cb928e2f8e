// PodSandboxStatus: state, IPs, namespaces, labels; verbose adds the record as JSON
// and the pod's releases still retried in the background (why a stopped pod stays).
import type { UnaryRpc } from '../handler';
import type { CradleServices } from '../services';
import type { PodSandboxStatusRequest__Output } from '../../generated/runtime/v1/PodSandboxStatusRequest';
import type { PodSandboxStatusResponse } from '../../generated/runtime/v1/PodSandboxStatusResponse';
import { requireString } from '../validate';
import { toCriSandboxStatus } from './sandbox-convert';
import { toCriContainerStatus } from './container-convert';

export const podSandboxStatus = (services: CradleServices): UnaryRpc<PodSandboxStatusRequest__Output, PodSandboxStatusResponse> =>
  async (_ctx, request) => {
    const sandbox = services.sandboxes.find(requireString(request.podSandboxId, 'podSandboxId'));
    const info: Record<string, string> = {};
    if (request.verbose) {
      info.info = JSON.stringify({
        runDir: sandbox.runDir, pinnedNamespaces: sandbox.pinned, pause: sandbox.pause, pidMode: sandbox.pidMode,
        hostname: sandbox.hostname, files: sandbox.files, ips: sandbox.ips, runtimeHandler: sandbox.runtimeHandler, config: sandbox.config,
        networkUp: sandbox.networkUp, pendingCleanups: services.sandboxes.pendingCleanups(sandbox.id),
      });
    }
    return {
      status: toCriSandboxStatus(sandbox),
      info,
      containersStatuses: services.containers.list({ sandboxId: sandbox.id }).map(toCriContainerStatus),
      timestamp: (BigInt(Date.now()) * 1_000_000n).toString(),
    };
  };
