// What the streaming server needs from the rest of cradle. The server speaks the
// wire protocols (SPDY, WebSocket) and hands each session to one of these
// backends with plain Node streams; the backends know about containers.

import type { Duplex, Readable, Writable } from 'node:stream';

/** Terminal size in character cells, as Kubernetes sends it on the resize stream. */
export interface TerminalSize {
  width: number;
  height: number;
}

/** What was asked for in the Exec RPC (kept with the token until the client connects). */
export interface ExecRequest {
  containerId: string;
  cmd: string[];
  tty: boolean;
  stdin: boolean;
  stdout: boolean;
  stderr: boolean;
}

/** What was asked for in the Attach RPC. */
export interface AttachRequest {
  containerId: string;
  tty: boolean;
  stdin: boolean;
  stdout: boolean;
  stderr: boolean;
}

/** What was asked for in the PortForward RPC. The ports come from the client's streams. */
export interface PortForwardRequest {
  podSandboxId: string;
  /** Ports named in the PortForward RPC (the kubelet's); WebSocket sessions use them when the URL names none. */
  ports?: number[];
}

/**
 * The client's side of an exec or attach session.
 * - `stdin` is present when the request asked for stdin; it ends when the client
 *   closes its stdin (or disconnects).
 * - `stdout`/`stderr` are present when requested (no stderr with a tty). The
 *   backend may pipe into them or write; it need not end them. It MUST have
 *   written all output before its promise settles: the server ends these streams
 *   and then sends the exit status, which the client reads as the end of output.
 * - `resize` yields the terminal size each time the client sends one (tty only;
 *   it yields nothing without a tty) and ends with the session.
 */
export interface SessionIO {
  stdin?: Readable;
  stdout?: Writable;
  stderr?: Writable;
  resize: AsyncIterable<TerminalSize>;
}

export interface ExecResult {
  /** The command's exit code; non-zero is reported to the client as NonZeroExitCode. */
  exitCode: number;
}

/**
 * Runs a command in a container. `signal` aborts when the client goes away, the
 * session idles out or the server stops: the backend must then kill what it
 * started, release everything and settle promptly. A rejection (the command
 * could not be run at all) is reported to the client as an internal error.
 */
export interface ExecBackend {
  exec(request: ExecRequest, io: SessionIO, signal: AbortSignal): Promise<ExecResult>;
}

/**
 * Attaches to a container's main process; settles when the process exits or
 * its output ends. Same `signal` contract as exec; detaching must not stop the container.
 */
export interface AttachBackend {
  attach(request: AttachRequest, io: SessionIO, signal: AbortSignal): Promise<void>;
}

/**
 * Opens one connection to `port` inside the sandbox's network namespace. The
 * server copies bytes both ways, half-closing each side as the other ends, and
 * destroys the connection when the client goes away or `signal` aborts. A
 * rejection (nothing listening...) goes to the client's error stream as its message.
 */
export interface PortForwardBackend {
  dial(podSandboxId: string, port: number, signal: AbortSignal): Promise<Duplex>;
}

/** Which backends a server has; a request kind without one is refused when registered. */
export interface StreamingBackends {
  exec?: ExecBackend;
  attach?: AttachBackend;
  portForward?: PortForwardBackend;
}
