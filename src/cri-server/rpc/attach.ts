// Attach: hands out a single-use URL of the streaming server, which joins the
// client to the container's main process through conmon's attach socket.
import type { UnaryRpc } from '../handler';
import type { CradleServices } from '../services';
import type { AttachRequest__Output } from '../../generated/runtime/v1/AttachRequest';
import type { AttachResponse } from '../../generated/runtime/v1/AttachResponse';
import { errors } from '../../common/errors';
import { requireString } from '../validate';

export const attach = (services: CradleServices): UnaryRpc<AttachRequest__Output, AttachResponse> =>
  async (_ctx, request) => {
    const c = services.containers.find(requireString(request.containerId, 'containerId'));
    if (c.state !== 'CONTAINER_RUNNING') throw errors.failedPrecondition(`container ${c.id} is not running`);
    if (request.stdin && !c.config.stdin) throw errors.failedPrecondition(`container ${c.id} was created without stdin`);
    if (request.tty && !c.config.tty) throw errors.failedPrecondition(`container ${c.id} was created without a tty`);
    return {
      url: (await services.streaming).attachUrl({ containerId: c.id, tty: request.tty, stdin: request.stdin, stdout: request.stdout, stderr: request.stderr && !request.tty }),
    };
  };
