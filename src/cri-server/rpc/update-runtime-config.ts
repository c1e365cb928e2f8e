// UpdateRuntimeConfig: the kubelet pushes the node's pod CIDR; it is kept (and
// persisted) for CNI plugins that allocate from it.
import type { UnaryRpc } from '../handler';
import type { CradleServices } from '../services';
import type { UpdateRuntimeConfigRequest__Output } from '../../generated/runtime/v1/UpdateRuntimeConfigRequest';
import type { UpdateRuntimeConfigResponse } from '../../generated/runtime/v1/UpdateRuntimeConfigResponse';
import { errors } from '../../common/errors';
import { cidrProblem, requireValue } from '../validate';

export const updateRuntimeConfig = (services: CradleServices): UnaryRpc<UpdateRuntimeConfigRequest__Output, UpdateRuntimeConfigResponse> =>
  async (ctx, request) => {
    const runtimeConfig = requireValue(request.runtimeConfig, 'runtimeConfig');
    const networkConfig = requireValue(runtimeConfig.networkConfig, 'runtimeConfig.networkConfig');
    const podCidr = networkConfig.podCidr.trim();
    if (podCidr !== '') {
      for (const cidr of podCidr.split(',')) {
        const problem = cidrProblem(cidr.trim());
        if (problem) throw errors.invalidArgument(`runtimeConfig.networkConfig.podCidr: ${problem}`);
      }
    }
    if (podCidr !== services.runtimeSettings.podCidr()) {
      await services.runtimeSettings.setPodCidr(podCidr);
      ctx.log.info({ podCidr }, 'pod CIDR updated');
    }
    return {};
  };
