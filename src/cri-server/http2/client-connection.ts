// One client connection on the CRI socket, as grpc-js's HTTP/2 server sees it:
// the client's bytes pass through the AuthorityRewriter, the server's go out
// unchanged past a watcher for the errors they carry. The first HTTP/2-level
// problem of a connection is logged with the peer's pid, so an incompatible
// client shows in cradled's log instead of failing silently.
import { Duplex } from 'node:stream';
import type * as net from 'node:net';
import type { Logger } from '../../common/logger';
import { peerCredentials, type PeerCredentials } from '../../sys/unix-socket';
import { AuthorityRewriter } from './authority-rewriter';
import { ServerErrorWatcher, type SentError } from './error-watcher';
import { errorCodeName } from './frames';

export class ClientConnection extends Duplex {
  private readonly rewriter: AuthorityRewriter;
  private readonly watcher: ServerErrorWatcher;
  private peer: PeerCredentials | undefined;
  private problemLogged = false;

  constructor(private readonly socket: net.Socket, private readonly log: Logger) {
    super({ allowHalfOpen: true });
    this.rewriter = new AuthorityRewriter({
      badPreface: (received) => this.problem({ preface: received.subarray(0, 32).toString('latin1') }, 'client did not start with the HTTP/2 preface (not a gRPC client?)'),
      undecodable: (reason) => this.problem({ reason }, 'client header block not decodable; passing the connection on unchanged'),
      authorityReplaced: (original) => this.log.debug({ peer: this.peerInfo(), authority: original }, 'client :authority is not a host name; serving it as localhost'),
    });
    this.watcher = new ServerErrorWatcher((sent) => this.onServerError(sent));
    // Credentials are read while the socket is open: SO_PEERCRED needs its fd.
    if (log.isLevelEnabled('debug')) log.debug({ peer: this.peerInfo() }, 'client connected');

    socket.on('data', (chunk: Buffer) => {
      for (const part of this.rewriter.push(chunk)) {
        if (!this.push(part)) socket.pause();
      }
    });
    socket.on('end', () => this.push(null));
    socket.on('error', (err) => this.destroy(err));
    socket.on('close', () => { if (!this.destroyed) this.destroy(); });
  }

  override _read(): void {
    this.socket.resume();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.watcher.observe(chunk);
    if (this.socket.write(chunk)) callback();
    else this.socket.once('drain', () => callback());
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.socket.end(callback);
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.socket.destroy();
    callback(error);
  }

  private onServerError(sent: SentError): void {
    this.problem({ frame: sent.frame, streamId: sent.streamId, errorCode: errorCodeName(sent.errorCode) }, sent.frame === 'GOAWAY' ? 'HTTP/2 connection closed with an error' : 'HTTP/2 stream refused');
  }

  private problem(details: Record<string, unknown>, message: string): void {
    if (this.problemLogged) return;
    this.problemLogged = true;
    this.log.warn({ peer: this.peerInfo(), ...details }, message);
  }

  private peerInfo(): PeerCredentials | undefined {
    if (this.peer) return this.peer;
    const fd = (this.socket as unknown as { _handle?: { fd?: number } })._handle?.fd;
    if (fd === undefined || fd < 0) return undefined;
    try {
      this.peer = peerCredentials(fd);
    } catch {
      return undefined;
    }
    return this.peer;
  }
}
