// Runs the backend of an exec or attach session once the transport has set up
// the client's streams, and turns what happened into a SessionOutcome.
import type { Writable } from 'node:stream';
import type { Logger } from '../../common/logger';
import { messageOf } from '../../common/errors';
import type { AttachRequest, ExecRequest, SessionIO, StreamingBackends } from '../backend';
import type { SessionOutcome } from './status';

export type RemoteCommandRequest =
  | { kind: 'exec'; request: ExecRequest }
  | { kind: 'attach'; request: AttachRequest };

export async function runRemoteCommand(
  target: RemoteCommandRequest, backends: StreamingBackends, io: SessionIO, signal: AbortSignal, logger: Logger,
): Promise<SessionOutcome> {
  try {
    if (target.kind === 'exec') {
      if (!backends.exec) return { type: 'error', message: 'exec is not supported by this server' };
      const { exitCode } = await backends.exec.exec(target.request, io, signal);
      return exitCode === 0 ? { type: 'success' } : { type: 'exit', exitCode, command: target.request.cmd };
    }
    if (!backends.attach) return { type: 'error', message: 'attach is not supported by this server' };
    await backends.attach.attach(target.request, io, signal);
    return { type: 'success' };
  } catch (err) {
    logger.warn({ err, containerId: target.request.containerId, kind: target.kind }, 'streaming: session failed');
    return {
      type: 'error',
      message: target.kind === 'exec'
        ? `error executing command in container: ${messageOf(err)}`
        : `error attaching to container: ${messageOf(err)}`,
    };
  }
}

/** Ends a writable and waits until it has flushed (or is gone). */
export function endAndFlush(stream: Writable): Promise<void> {
  return new Promise((resolve) => {
    if (stream.writableFinished || stream.destroyed) {
      resolve();
      return;
    }
    stream.once('finish', resolve);
    stream.once('close', resolve);
    stream.once('error', resolve);
    try {
      stream.end();
    } catch {
      resolve();
    }
  });
}
