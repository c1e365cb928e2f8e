// remotecommand (exec/attach) over SPDY, as the kubelet serves it: the client
// opens one stream per streamType (error, stdin, stdout, stderr, resize); once
// all expected streams exist the command runs; its status goes on the error
// stream and the connection closes.
import type { Duplex } from 'node:stream';
import type { Logger } from '../../common/logger';
import type { SessionIO, StreamingBackends } from '../backend';
import { remoteCommandVersion } from '../protocols';
import { JsonObjectSplitter, TerminalSizeQueue, parseTerminalSize } from '../resize';
import { RstStatus } from '../spdy/frames';
import { SpdySession, type SpdyStream } from '../spdy/session';
import { endAndFlush, runRemoteCommand, type RemoteCommandRequest } from './run';
import { statusBytes } from './status';

const STREAM_TYPES = ['error', 'stdin', 'stdout', 'stderr', 'resize'] as const;
type StreamType = (typeof STREAM_TYPES)[number];

export interface RemoteCommandSpdyOptions {
  target: RemoteCommandRequest;
  /** The negotiated X-Stream-Protocol-Version ('' when the client sent none). */
  protocol: string;
  backends: StreamingBackends;
  logger: Logger;
  /** How long the client has to open all its streams (the kubelet's 30 s). */
  streamCreationTimeoutMs: number;
}

/** The streams a client must open before the command runs (kubelet: waitForStreams). */
export function expectedStreamTypes(target: RemoteCommandRequest, version: number): Set<StreamType> {
  const { tty, stdin, stdout, stderr } = target.request;
  const expected = new Set<StreamType>(['error']);
  if (stdin) expected.add('stdin');
  if (stdout) expected.add('stdout');
  if (stderr && !tty) expected.add('stderr');
  if (tty && version >= 3) expected.add('resize');
  return expected;
}

export function serveRemoteCommandOverSpdy(socket: Duplex, head: Buffer, options: RemoteCommandSpdyOptions): SpdySession {
  const { target, logger } = options;
  const version = remoteCommandVersion(options.protocol);
  const expected = expectedStreamTypes(target, version);
  const streams = new Map<StreamType, SpdyStream>();
  const abort = new AbortController();
  const resize = new TerminalSizeQueue();
  let started = false;

  const onStream = (stream: SpdyStream): void => {
    stream.on('error', (err: Error) => logger.debug({ err, streamId: stream.id }, 'spdy: stream error'));
    const type = stream.headers['streamtype'] as StreamType | undefined;
    if (!type || !STREAM_TYPES.includes(type) || streams.has(type) || started) {
      logger.warn({ streamType: type, streamId: stream.id }, 'spdy: unexpected remotecommand stream, resetting it');
      stream.resetWith(RstStatus.PROTOCOL_ERROR);
      return;
    }
    stream.reply();
    streams.set(type, stream);
    if ([...expected].every((t) => streams.has(t))) {
      start().catch((err: unknown) => {
        logger.error({ err }, 'spdy: remotecommand session failed');
        session.destroy();
      });
    }
  };

  const session = new SpdySession(socket, { logger, onStream }, head);
  const timer = setTimeout(() => {
    if (started) return;
    logger.warn({ expected: [...expected], received: [...streams.keys()] }, 'spdy: client did not open all remotecommand streams in time');
    const message = `timed out waiting for client to create streams (expected ${[...expected].join(', ')})`;
    const errorStream = streams.get('error');
    if (errorStream) errorStream.end(statusBytes({ type: 'error', message }, version >= 4), () => session.close());
    else session.close();
  }, options.streamCreationTimeoutMs);
  timer.unref();
  session.on('close', () => {
    clearTimeout(timer);
    abort.abort(new Error('the client closed the streaming connection'));
    resize.close();
  });

  async function start(): Promise<void> {
    started = true;
    clearTimeout(timer);
    const resizeStream = streams.get('resize');
    if (resizeStream) {
      const splitter = new JsonObjectSplitter();
      resizeStream.setEncoding('utf8');
      resizeStream.on('data', (text: string) => {
        try {
          for (const obj of splitter.push(text)) {
            const size = parseTerminalSize(obj);
            if (size) resize.push(size);
            else logger.debug({ message: obj }, 'spdy: ignoring a malformed resize message');
          }
        } catch (err) {
          logger.warn({ err }, 'spdy: malformed resize stream, resetting it');
          resizeStream.resetWith(RstStatus.PROTOCOL_ERROR);
        }
      });
    }
    // With a tty, output of a client that opened a stderr stream anyway goes to stdout only.
    const stdout = streams.get('stdout');
    const stderr = target.request.tty ? undefined : streams.get('stderr');
    const io: SessionIO = { resize };
    const stdin = streams.get('stdin');
    if (stdin) io.stdin = stdin;
    if (stdout) io.stdout = stdout;
    if (stderr) io.stderr = stderr;
    const outcome = await runRemoteCommand(target, options.backends, io, abort.signal, logger);
    resize.close();
    if (session.isClosed) return;
    const outputs = [streams.get('stdout'), streams.get('stderr')].filter((s): s is SpdyStream => s !== undefined);
    await Promise.all(outputs.map((s) => endAndFlush(s)));
    const errorStream = streams.get('error')!;
    const status = statusBytes(outcome, version >= 4);
    if (status) errorStream.write(status);
    await endAndFlush(errorStream);
    session.close();
  }

  return session;
}
