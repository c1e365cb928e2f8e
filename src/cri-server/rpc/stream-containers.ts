// StreamContainers: ListContainers in chunks.
import type { ServerStreamRpc } from '../handler';
import type { CradleServices } from '../services';
import type { StreamContainersRequest__Output } from '../../generated/runtime/v1/StreamContainersRequest';
import type { StreamContainersResponse } from '../../generated/runtime/v1/StreamContainersResponse';
import { fromCriContainerFilter, toCriContainer } from './container-convert';
import { chunks } from './stream-chunks';

export const streamContainers = (services: CradleServices): ServerStreamRpc<StreamContainersRequest__Output, StreamContainersResponse> =>
  async function* (_ctx, request) {
    for (const containers of chunks(services.containers.list(fromCriContainerFilter(request.filter)).map(toCriContainer))) yield { containers };
  };
