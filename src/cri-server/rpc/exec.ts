// Exec: validates the request and hands out a single-use URL of the streaming
// server, where the client (kubelet, crictl) runs the command interactively.
import type { UnaryRpc } from '../handler';
import type { CradleServices } from '../services';
import type { ExecRequest__Output } from '../../generated/runtime/v1/ExecRequest';
import type { ExecResponse } from '../../generated/runtime/v1/ExecResponse';
import { errors } from '../../common/errors';
import { requireString } from '../validate';

export const exec = (services: CradleServices): UnaryRpc<ExecRequest__Output, ExecResponse> =>
  async (_ctx, request) => {
    const c = services.containers.find(requireString(request.containerId, 'containerId'));
    if (request.cmd.length === 0 || request.cmd[0] === '') throw errors.missingField('cmd');
    if (c.state !== 'CONTAINER_RUNNING') throw errors.failedPrecondition(`container ${c.id} is not running`);
    return {
      url: (await services.streaming).execUrl({
        containerId: c.id, cmd: request.cmd, tty: request.tty, stdin: request.stdin, stdout: request.stdout, stderr: request.stderr,
      }),
    };
  };
