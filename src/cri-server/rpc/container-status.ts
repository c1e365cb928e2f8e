// ContainerStatus: state, exit code and reason, timestamps, image, mounts, log path, resources, user; verbose adds cradle's record as JSON.
import type { UnaryRpc } from '../handler';
import type { CradleServices } from '../services';
import type { ContainerStatusRequest__Output } from '../../generated/runtime/v1/ContainerStatusRequest';
import type { ContainerStatusResponse } from '../../generated/runtime/v1/ContainerStatusResponse';
import { requireString } from '../validate';
import { toCriContainerStatus } from './container-convert';
export const containerStatus = (services: CradleServices): UnaryRpc<ContainerStatusRequest__Output, ContainerStatusResponse> =>
  async (ctx, request) => {
    void ctx;
    const c = services.containers.find(requireString(request.containerId, 'containerId'));
    const info: Record<string, string> = {};
    if (request.verbose) {
      info.info = JSON.stringify({ pid: c.pid, conmonPid: c.conmonPid, bundle: c.dir, rootfs: c.rootfs, runtimeHandler: c.runtimeHandler, cgroupsPath: c.cgroupsPath, stopSignal: c.stopSignal, config: c.config });
    }
    return { status: toCriContainerStatus(c), info };
  };
