// PortForward: hands out a single-use URL of the streaming server; connections
// then go to localhost:<port> inside the pod's network namespace (the node's own
// loopback for a host-network pod, as containerd forwards it and the kubelet expects).
import type { UnaryRpc } from '../handler';
import type { CradleServices } from '../services';
import type { PortForwardRequest__Output } from '../../generated/runtime/v1/PortForwardRequest';
import type { PortForwardResponse } from '../../generated/runtime/v1/PortForwardResponse';
import { errors } from '../../common/errors';
import { requireString } from '../validate';

export const portForward = (services: CradleServices): UnaryRpc<PortForwardRequest__Output, PortForwardResponse> =>
  async (_ctx, request) => {
    const sandbox = services.sandboxes.find(requireString(request.podSandboxId, 'podSandboxId'));
    if (sandbox.state !== 'SANDBOX_READY') throw errors.failedPrecondition(`pod sandbox ${sandbox.id} is not ready`);
    for (const port of request.port) {
      if (!Number.isInteger(port) || port < 1 || port > 65535) throw errors.invalidArgument(`port: ${port} is not a port (1-65535)`);
    }
    return { url: (await services.streaming).portForwardUrl({ podSandboxId: sandbox.id, ports: request.port }) };
  };
