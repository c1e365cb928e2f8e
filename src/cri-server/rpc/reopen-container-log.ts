// ReopenContainerLog: conmon reopens the log file after the kubelet renamed it.
import type { UnaryRpc } from '../handler';
import type { CradleServices } from '../services';
import type { ReopenContainerLogRequest__Output } from '../../generated/runtime/v1/ReopenContainerLogRequest';
import type { ReopenContainerLogResponse } from '../../generated/runtime/v1/ReopenContainerLogResponse';
import { requireString } from '../validate';
export const reopenContainerLog = (services: CradleServices): UnaryRpc<ReopenContainerLogRequest__Output, ReopenContainerLogResponse> =>
  async (ctx, request) => {
    void ctx;
    await services.containers.reopenLog(requireString(request.containerId, 'containerId'));
    return {};
  };
