// One forwarded connection: dial the backend and copy bytes both ways between
// the client's data stream and the connection, half-closing each side when the
// other ends. Transport-independent (SPDY streams and WebSocket channels).
import type { Duplex } from 'node:stream';
import type { Logger } from '../../common/logger';
import { messageOf } from '../../common/errors';
import type { PortForwardBackend } from '../backend';

export interface ForwardTarget {
  podSandboxId: string;
  port: number;
}

/**
 * Forwards one client data stream to port. Errors go to reportError as a
 * message (the error stream); resolves when both directions are done or the
 * connection is abandoned. Nothing stays open after it resolves.
 */
export async function forwardConnection(
  backend: PortForwardBackend, target: ForwardTarget, data: Duplex, reportError: (message: string) => void,
  signal: AbortSignal, logger: Logger,
): Promise<void> {
  let conn: Duplex;
  try {
    conn = await backend.dial(target.podSandboxId, target.port, signal);
  } catch (err) {
    reportError(`error forwarding port ${target.port} to pod ${target.podSandboxId}: ${messageOf(err)}`);
    data.end();
    return;
  }
  if (signal.aborted || data.destroyed) {
    conn.destroy();
    return;
  }
  await new Promise<void>((resolve) => {
    let done = false;
    const finish = (): void => {
      if (done) return;
      done = true;
      signal.removeEventListener('abort', onAbort);
      conn.destroy();
      resolve();
    };
    const onAbort = (): void => {
      data.destroy();
      finish();
    };
    signal.addEventListener('abort', onAbort, { once: true });
    conn.on('error', (err: Error) => {
      logger.debug({ err, port: target.port }, 'port-forward: connection error');
      reportError(`error forwarding port ${target.port} to pod ${target.podSandboxId}: ${err.message}`);
      data.end();
      finish();
    });
    data.on('error', () => finish());
    // Client → pod: the client's end of data half-closes the connection.
    data.pipe(conn);
    // Pod → client: the connection's end half-closes the data stream.
    conn.pipe(data);
    let clientDone = false;
    let podDone = false;
    const maybeFinish = (): void => { if (clientDone && podDone) finish(); };
    data.once('end', () => { clientDone = true; maybeFinish(); });
    conn.once('end', () => { podDone = true; maybeFinish(); });
    data.once('close', () => finish());
    conn.once('close', () => {
      if (!data.writableEnded) data.end();
      podDone = true;
      // The client may still be sending; once the connection is gone there is nowhere to put it.
      finish();
    });
  });
}

/** Parses a port number (1-65535) from a header or query value. */
export function parsePort(value: string | undefined): number | undefined {
  if (value === undefined || !/^\d{1,5}$/.test(value.trim())) return undefined;
  const port = Number(value.trim());
  return port >= 1 && port <= 65535 ? port : undefined;
}
