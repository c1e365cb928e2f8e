// Fake streaming backends for the streaming server's tests: exec runs a real
// host process (through `script` for a tty), attach echoes, port-forward dials
// 127.0.0.1. They record what the server delivered (resizes, aborts) and track
// what is still running, so tests can check that nothing is left behind.
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import { cleanChildEnv } from '../../src/common/child-env';
import type {
  AttachBackend, AttachRequest, ExecBackend, ExecRequest, ExecResult, PortForwardBackend, SessionIO, StreamingBackends, TerminalSize,
} from '../../src/streaming/backend';

function shellQuote(args: string[]): string {
  return args.map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
}

export class FakeBackends implements StreamingBackends {
  readonly resizes: TerminalSize[] = [];
  readonly execRequests: ExecRequest[] = [];
  readonly running = new Set<ChildProcess>();
  readonly openConnections = new Set<Duplex>();
  aborts = 0;
  readonly exec: ExecBackend;
  readonly attach: AttachBackend;
  readonly portForward: PortForwardBackend;

  constructor(private readonly cwd: string) {
    this.exec = { exec: (req, io, signal) => this.runProcess(req, io, signal) };
    this.attach = { attach: (req, io, signal) => this.echo(req, io, signal) };
    this.portForward = { dial: (_sandbox, port, signal) => this.dial(port, signal) };
  }

  private watchResizes(io: SessionIO): void {
    void (async () => {
      for await (const size of io.resize) this.resizes.push(size);
    })();
  }

  private runProcess(req: ExecRequest, io: SessionIO, signal: AbortSignal): Promise<ExecResult> {
    this.execRequests.push(req);
    this.watchResizes(io);
    const argv = req.tty ? ['script', '-qfec', shellQuote(req.cmd), '/dev/null'] : req.cmd;
    const child = spawn(argv[0]!, argv.slice(1), { cwd: this.cwd, env: cleanChildEnv({ TERM: 'xterm' }), stdio: 'pipe' });
    this.running.add(child);
    const onAbort = (): void => {
      this.aborts++;
      child.kill('SIGKILL');
    };
    signal.addEventListener('abort', onAbort, { once: true });
    child.stdin.on('error', () => {});
    if (io.stdin) io.stdin.pipe(child.stdin);
    else child.stdin.end();
    if (io.stdout) child.stdout.pipe(io.stdout, { end: false });
    else child.stdout.resume();
    if (io.stderr) child.stderr.pipe(io.stderr, { end: false });
    else if (io.stdout && req.tty) child.stderr.pipe(io.stdout, { end: false });
    else child.stderr.resume();
    return new Promise((resolve, reject) => {
      child.once('error', (err) => {
        this.running.delete(child);
        signal.removeEventListener('abort', onAbort);
        reject(err);
      });
      // 'close' comes after the output pipes are drained into io.stdout/io.stderr.
      child.once('close', (code, sig) => {
        this.running.delete(child);
        signal.removeEventListener('abort', onAbort);
        if (io.stdin) io.stdin.unpipe(child.stdin);
        resolve({ exitCode: code ?? 128 + (sig ? 9 : 0) });
      });
    });
  }

  /** Attach stand-in: greets, then echoes stdin until it ends or the client leaves. */
  private echo(req: AttachRequest, io: SessionIO, signal: AbortSignal): Promise<void> {
    this.watchResizes(io);
    io.stdout?.write(`attached to ${req.containerId}\n`);
    return new Promise((resolve) => {
      if (!io.stdin) {
        resolve();
        return;
      }
      io.stdin.on('data', (chunk: Buffer) => io.stdout?.write(chunk));
      io.stdin.once('end', () => resolve());
      signal.addEventListener('abort', () => {
        this.aborts++;
        resolve();
      }, { once: true });
    });
  }

  private dial(port: number, signal: AbortSignal): Promise<Duplex> {
    return new Promise((resolve, reject) => {
      const conn = net.connect({ host: '127.0.0.1', port, signal });
      conn.once('connect', () => {
        this.openConnections.add(conn);
        conn.once('close', () => this.openConnections.delete(conn));
        resolve(conn);
      });
      conn.once('error', reject);
    });
  }
}

/** A TCP echo server on 127.0.0.1 (the port-forward target). */
export async function startEchoServer(): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
    s.pipe(s);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () => new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    }),
  };
}

/** A port on 127.0.0.1 with nothing listening. */
export async function unusedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Polls until check() is true (or fails after timeoutMs). */
export { eventually } from './eventually';
