// port-forward over WebSocket, as the kubelet serves it: the ports come from the
// `ports` query parameter; port i uses channel 2i for data and 2i+1 for errors,
// and the server starts each of those channels with the port as 2 bytes
// (little endian). Each port gets one connection, dialled when the socket opens.
import { Duplex } from 'node:stream';
import type { WebSocket } from 'ws';
import type { Logger } from '../../common/logger';
import type { PortForwardRequest, StreamingBackends } from '../backend';
import { ChannelCodec, sendOnChannel } from '../websocket-channels';
import { forwardConnection } from './forward';

export interface PortForwardWebSocketOptions {
  request: PortForwardRequest;
  ports: number[];
  protocol: string;
  backends: StreamingBackends;
  logger: Logger;
}

/** A port's data channel as a Duplex: readable = client's bytes, writable = to the client. */
class ChannelStream extends Duplex {
  private waiting: (() => void) | undefined;
  constructor(private readonly ws: WebSocket, private readonly codec: ChannelCodec, private readonly channel: number) {
    super({ allowHalfOpen: true });
  }
  deliver(data: Buffer): void {
    if (!this.push(data)) {
      this.ws.pause();
      this.waiting = () => this.ws.resume();
    }
  }
  override _read(): void {
    const w = this.waiting;
    this.waiting = undefined;
    w?.();
  }
  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    sendOnChannel(this.ws, this.codec, this.channel, chunk, () => callback());
  }
}

export function servePortForwardOverWebSocket(ws: WebSocket, options: PortForwardWebSocketOptions): void {
  const { logger, ports, request } = options;
  const codec = new ChannelCodec(options.protocol.includes('base64'));
  const abort = new AbortController();
  const channels = ports.map((port, i) => ({ port, data: new ChannelStream(ws, codec, 2 * i), errorChannel: 2 * i + 1 }));

  ws.on('message', (raw, isBinary) => {
    const message = codec.decode(raw, isBinary);
    if (!message) return;
    const target = channels[message.channel / 2];
    if (!target || message.channel % 2 !== 0) return; // only data channels are readable
    if (message.data.length > 0) target.data.deliver(message.data);
  });
  ws.on('error', (err) => logger.debug({ err }, 'websocket: connection error'));
  ws.on('close', () => {
    abort.abort(new Error('the client closed the streaming connection'));
    for (const c of channels) c.data.destroy();
  });

  const portPrefix = (port: number): Buffer => {
    const b = Buffer.alloc(2);
    b.writeUInt16LE(port);
    return b;
  };
  void Promise.all(channels.map(async ({ port, data, errorChannel }, i) => {
    sendOnChannel(ws, codec, 2 * i, portPrefix(port));
    sendOnChannel(ws, codec, errorChannel, portPrefix(port));
    const backend = options.backends.portForward;
    if (!backend) {
      sendOnChannel(ws, codec, errorChannel, Buffer.from('port-forward is not supported by this server'));
      return;
    }
    await forwardConnection(backend, { podSandboxId: request.podSandboxId, port }, data, (message) => {
      sendOnChannel(ws, codec, errorChannel, Buffer.from(message));
    }, abort.signal, logger);
  })).then(() => {
    if (ws.readyState === ws.OPEN) ws.close(1000);
  }, (err: unknown) => {
    logger.error({ err }, 'websocket: port-forward session failed');
    ws.terminate();
  });
}
