// ListPodSandbox: filtered by id prefix, state and labels.
import type { UnaryRpc } from '../handler';
import type { CradleServices } from '../services';
import type { ListPodSandboxRequest__Output } from '../../generated/runtime/v1/ListPodSandboxRequest';
import type { ListPodSandboxResponse } from '../../generated/runtime/v1/ListPodSandboxResponse';
import { fromCriSandboxFilter, toCriSandbox } from './sandbox-convert';

export const listPodSandbox = (services: CradleServices): UnaryRpc<ListPodSandboxRequest__Output, ListPodSandboxResponse> =>
  async (_ctx, request) => ({ items: services.sandboxes.list(fromCriSandboxFilter(request.filter)).map(toCriSandbox) });
