// ListContainers: filtered by id prefix, pod, state and labels.
import type { UnaryRpc } from '../handler';
import type { CradleServices } from '../services';
import type { ListContainersRequest__Output } from '../../generated/runtime/v1/ListContainersRequest';
import type { ListContainersResponse } from '../../generated/runtime/v1/ListContainersResponse';
import { fromCriContainerFilter, toCriContainer } from './container-convert';
export const listContainers = (services: CradleServices): UnaryRpc<ListContainersRequest__Output, ListContainersResponse> =>
  async (ctx, request) => {
    void ctx;
    return { containers: services.containers.list(fromCriContainerFilter(request.filter)).map(toCriContainer) };
  };
