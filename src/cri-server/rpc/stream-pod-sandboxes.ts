// StreamPodSandboxes: ListPodSandbox in chunks.
import type { ServerStreamRpc } from '../handler';
import type { CradleServices } from '../services';
import type { StreamPodSandboxesRequest__Output } from '../../generated/runtime/v1/StreamPodSandboxesRequest';
import type { StreamPodSandboxesResponse } from '../../generated/runtime/v1/StreamPodSandboxesResponse';
import { fromCriSandboxFilter, toCriSandbox } from './sandbox-convert';
import { chunks } from './stream-chunks';

export const streamPodSandboxes = (services: CradleServices): ServerStreamRpc<StreamPodSandboxesRequest__Output, StreamPodSandboxesResponse> =>
  async function* (_ctx, request) {
    for (const podSandboxes of chunks(services.sandboxes.list(fromCriSandboxFilter(request.filter)).map(toCriSandbox))) yield { podSandboxes };
  };
