// remotecommand (exec/attach) over WebSocket, as the kubelet serves it:
// channels 0 stdin, 1 stdout, 2 stderr, 3 error (status), 4 resize; v5 adds
// channel 255, on which the client sends [255, n] to close its channel n (stdin EOF).
import { PassThrough, Writable } from 'node:stream';
import type { WebSocket } from 'ws';
import type { Logger } from '../../common/logger';
import type { SessionIO, StreamingBackends } from '../backend';
import { TerminalSizeQueue, parseTerminalSize } from '../resize';
import { ChannelCodec, sendOnChannel } from '../websocket-channels';
import { endAndFlush, runRemoteCommand, type RemoteCommandRequest } from './run';
import { statusBytes } from './status';

export const Channel = { STDIN: 0, STDOUT: 1, STDERR: 2, ERROR: 3, RESIZE: 4, CLOSE: 255 } as const;

export interface RemoteCommandWebSocketOptions {
  target: RemoteCommandRequest;
  /** The negotiated Sec-WebSocket-Protocol ('' when the client offered none). */
  protocol: string;
  backends: StreamingBackends;
  logger: Logger;
}

export function serveRemoteCommandOverWebSocket(ws: WebSocket, options: RemoteCommandWebSocketOptions): void {
  const { target, logger, protocol } = options;
  const codec = new ChannelCodec(protocol.includes('base64'));
  const structuredStatus = /^v[45]\./.test(protocol);
  const closeSignal = protocol === 'v5.channel.k8s.io';
  const { tty, stdin: wantStdin, stdout: wantStdout, stderr: wantStderr } = target.request;
  const abort = new AbortController();
  const resize = new TerminalSizeQueue();

  const output = (channel: number): Writable => new Writable({
    write(chunk: Buffer, _encoding, callback) {
      sendOnChannel(ws, codec, channel, chunk, () => callback());
    },
  });
  const io: SessionIO = { resize };
  const stdin = wantStdin ? new PassThrough() : undefined;
  if (stdin) io.stdin = stdin;
  if (wantStdout) io.stdout = output(Channel.STDOUT);
  if (wantStderr && !tty) io.stderr = output(Channel.STDERR);

  ws.on('message', (raw, isBinary) => {
    const message = codec.decode(raw, isBinary);
    if (!message) return;
    switch (message.channel) {
      case Channel.STDIN:
        if (stdin && !stdin.writableEnded && message.data.length > 0 && !stdin.write(message.data)) {
          ws.pause();
          stdin.once('drain', () => ws.resume());
        }
        return;
      case Channel.RESIZE: {
        if (!tty) return;
        const size = parseTerminalSize(message.data.toString('utf8'));
        if (size) resize.push(size);
        else logger.debug('websocket: ignoring a malformed resize message');
        return;
      }
      case Channel.CLOSE:
        if (closeSignal && message.data[0] === Channel.STDIN) stdin?.end();
        return;
      default:
        logger.debug({ channel: message.channel }, 'websocket: message on a channel the client may not write, ignored');
    }
  });
  ws.on('error', (err) => logger.debug({ err }, 'websocket: connection error'));
  ws.on('close', () => {
    abort.abort(new Error('the client closed the streaming connection'));
    resize.close();
    stdin?.end();
  });

  // The kubelet signals readiness with an empty message on the lowest channel it writes.
  sendOnChannel(ws, codec, wantStdout ? Channel.STDOUT : wantStderr && !tty ? Channel.STDERR : Channel.ERROR, Buffer.alloc(0));

  void (async () => {
    const outcome = await runRemoteCommand(target, options.backends, io, abort.signal, logger);
    resize.close();
    if (ws.readyState !== ws.OPEN) return;
    await Promise.all([io.stdout, io.stderr].filter((s): s is Writable => s !== undefined).map((s) => endAndFlush(s)));
    const status = statusBytes(outcome, structuredStatus);
    if (status) await new Promise<void>((resolve) => sendOnChannel(ws, codec, Channel.ERROR, status, resolve));
    ws.close(1000);
  })().catch((err: unknown) => {
    logger.error({ err }, 'websocket: remotecommand session failed');
    ws.terminate();
  });
}
