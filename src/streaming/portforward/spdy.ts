// port-forward over SPDY (portforward.k8s.io), as the kubelet serves it: for
// every connection the client opens an error stream and a data stream carrying
// the same `port` and `requestID` headers; once both exist the server dials the
// port and copies bytes. The session lives until the client closes it.
import type { Duplex } from 'node:stream';
import type { Logger } from '../../common/logger';
import type { PortForwardRequest, StreamingBackends } from '../backend';
import { RstStatus } from '../spdy/frames';
import { SpdySession, type SpdyStream } from '../spdy/session';
import { forwardConnection, parsePort } from './forward';

export interface PortForwardSpdyOptions {
  request: PortForwardRequest;
  backends: StreamingBackends;
  logger: Logger;
  streamCreationTimeoutMs: number;
}

interface StreamPair {
  data?: SpdyStream;
  error?: SpdyStream;
  timer: NodeJS.Timeout;
}

export function servePortForwardOverSpdy(socket: Duplex, head: Buffer, options: PortForwardSpdyOptions): SpdySession {
  const { logger, request } = options;
  const pairs = new Map<string, StreamPair>();
  const abort = new AbortController();

  const onStream = (stream: SpdyStream): void => {
    stream.on('error', (err: Error) => logger.debug({ err, streamId: stream.id }, 'spdy: stream error'));
    const type = stream.headers['streamtype'];
    if (type !== 'data' && type !== 'error') {
      logger.warn({ streamType: type, streamId: stream.id }, 'port-forward: unexpected stream type, resetting it');
      stream.resetWith(RstStatus.PROTOCOL_ERROR);
      return;
    }
    // Old clients send no requestID: the kubelet pairs error stream N with data stream N+2.
    const requestId = stream.headers['requestid'] ?? String(type === 'error' ? stream.id : stream.id - 2);
    let pair = pairs.get(requestId);
    if (!pair) {
      const timer = setTimeout(() => {
        const stale = pairs.get(requestId);
        if (!stale) return;
        pairs.delete(requestId);
        logger.warn({ requestId }, 'port-forward: client did not open both streams in time');
        stale.error?.end(`timed out waiting for the data and error streams of request ${requestId}`);
        stale.data?.resetWith(RstStatus.CANCEL);
      }, options.streamCreationTimeoutMs);
      timer.unref();
      pair = { timer };
      pairs.set(requestId, pair);
    }
    if (pair[type]) {
      logger.warn({ requestId, streamType: type }, 'port-forward: duplicate stream for a request, resetting it');
      stream.resetWith(RstStatus.PROTOCOL_ERROR);
      return;
    }
    stream.reply();
    pair[type] = stream;
    if (pair.data && pair.error) {
      clearTimeout(pair.timer);
      pairs.delete(requestId);
      const { data, error } = pair;
      forward(data, error).catch((err: unknown) => {
        logger.error({ err, requestId }, 'port-forward: connection failed');
        data.destroy();
        error.destroy();
      });
    }
  };

  async function forward(data: SpdyStream, error: SpdyStream): Promise<void> {
    // The client only reads the error stream; drop whatever it might send there.
    error.resume();
    const port = parsePort(data.headers['port']);
    if (port === undefined || data.headers['port'] !== error.headers['port']) {
      error.end(`invalid port ${JSON.stringify(data.headers['port'] ?? '')}`);
      data.end();
      return;
    }
    const backend = options.backends.portForward;
    if (!backend) {
      error.end('port-forward is not supported by this server');
      data.end();
      return;
    }
    let reported = false;
    await forwardConnection(backend, { podSandboxId: request.podSandboxId, port }, data, (message) => {
      if (reported || error.writableEnded) return;
      reported = true;
      error.write(message);
    }, abort.signal, logger);
    if (!error.writableEnded && !error.destroyed) error.end();
  }

  const session = new SpdySession(socket, { logger, onStream }, head);
  session.on('close', () => {
    abort.abort(new Error('the client closed the streaming connection'));
    for (const pair of pairs.values()) clearTimeout(pair.timer);
    pairs.clear();
  });
  return session;
}
