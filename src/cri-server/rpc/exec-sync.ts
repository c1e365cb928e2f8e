// ExecSync: runs a command in the container through conmon; output capped at 16 MiB per stream; a timeout answers exit code -1 with a message, as cri-o.
import type { UnaryRpc } from '../handler';
import type { CradleServices } from '../services';
import type { ExecSyncRequest__Output } from '../../generated/runtime/v1/ExecSyncRequest';
import type { ExecSyncResponse } from '../../generated/runtime/v1/ExecSyncResponse';
import { requireString } from '../validate';
export const execSync = (services: CradleServices): UnaryRpc<ExecSyncRequest__Output, ExecSyncResponse> =>
  async (ctx, request) => {
    void ctx;
    const id = requireString(request.containerId, 'containerId');
    const result = await services.containers.execSync(id, request.cmd, Number(request.timeout));
    return { stdout: result.stdout, stderr: result.stderr, exitCode: result.exitCode };
  };
