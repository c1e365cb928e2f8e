// CRI clients that are not grpc-js, for tests that must see cradle as real
// kubelets and crictl do: a grpc-go program (test/clients/go-cri, built from
// Debian's golang-google-grpc-dev) and a python3-grpcio script (gRPC C-core).
// Both only move bytes; requests are encoded and responses decoded here with
// cradle's own CRI proto, so the tests stay typed.
import { execFile, execFileSync, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as readline from 'node:readline';
import { promisify } from 'node:util';
import type { MethodDefinition } from '@grpc/proto-loader';
import { cleanChildEnv } from '../../src/common/child-env';
import { REPO_ROOT } from './daemon';

const GO = '/usr/lib/go-1.19/bin/go';
const GOPATH = '/usr/share/gocode';
const GRPC_GO_VERSION_FILE = path.join(GOPATH, 'src/google.golang.org/grpc/version.go');
const GO_SOURCE = path.join(REPO_ROOT, 'test', 'clients', 'go-cri', 'main.go');
const GO_CACHE = '/var/cache/cradle-test/go-cri';
// Debian's interpreter, isolated (-I: no PYTHON* variables, no user site), so
// the grpc module is python3-grpcio and not a pip copy of another Python.
export const SYSTEM_PYTHON = '/usr/bin/python3';
export const PYTHON_SCRIPT = path.join(REPO_ROOT, 'test', 'clients', 'python_cri.py');

/** Why the Go client cannot be built here, or undefined when it can. */
export function goClientUnavailable(): string | undefined {
  if (!fs.existsSync(GO)) return `${GO} absent: install golang-1.19-go (scripts/setup.sh does)`;
  if (!fs.existsSync(GRPC_GO_VERSION_FILE)) return `${GRPC_GO_VERSION_FILE} absent: install golang-google-grpc-dev (scripts/setup.sh does)`;
  return undefined;
}

/** Why the python3-grpcio client cannot run here, or undefined when it can. */
export function pythonClientUnavailable(): string | undefined {
  try {
    execFileSync(SYSTEM_PYTHON, ['-I', '-c', 'import grpc'], { stdio: 'ignore', env: cleanChildEnv() });
    return undefined;
  } catch {
    return `${SYSTEM_PYTHON} cannot import grpc: install python3-grpcio (scripts/setup.sh does)`;
  }
}

/**
 * Builds test/clients/go-cri once per (source, grpc-go, Go) version: the binary is
 * cached under a hash of the three, so a re-run starts at once (a cold build takes
 * ~45 s on 2 cores). GOPATH mode, offline: only Debian's packaged sources are used.
 */
export async function buildGoClient(): Promise<string> {
  const hash = createHash('sha256')
    .update(fs.readFileSync(GO_SOURCE))
    .update(fs.readFileSync(GRPC_GO_VERSION_FILE))
    .update(fs.readFileSync('/usr/lib/go-1.19/VERSION'))
    .digest('hex').slice(0, 16);
  const binary = path.join(GO_CACHE, hash, 'go-cri');
  if (fs.existsSync(binary)) return binary;
  fs.mkdirSync(path.dirname(binary), { recursive: true });
  // Two test files may build at once: each writes its own file, then renames it
  // into place. Files of builds whose process is gone (a killed run) are removed.
  for (const name of fs.readdirSync(path.dirname(binary))) {
    const pid = Number(/^go-cri\.(\d+)$/.exec(name)?.[1]);
    if (pid && !fs.existsSync(`/proc/${pid}`)) fs.rmSync(path.join(path.dirname(binary), name), { force: true });
  }
  const partial = `${binary}.${process.pid}`;
  try {
    await promisify(execFile)(GO, ['build', '-o', partial, GO_SOURCE], {
      cwd: path.dirname(GO_SOURCE),
      env: {
        ...cleanChildEnv(),
        GOPATH, GO111MODULE: 'off', GOFLAGS: '', GOPROXY: 'off', CGO_ENABLED: '0',
        GOCACHE: path.join(GO_CACHE, 'build-cache'),
      },
      timeout: 240_000,
    });
    fs.renameSync(partial, binary);
  } finally {
    fs.rmSync(partial, { force: true });
  }
  return binary;
}

/** A non-OK gRPC status as the foreign client reported it. */
export class ForeignCallError extends Error {
  constructor(readonly code: number, readonly details: string, method: string) {
    super(`${method}: code ${code}: ${details}`);
  }
}

interface Reply {
  response?: string;
  code?: number;
  message?: string;
}

/**
 * One foreign client process speaking the line protocol of test/clients: a JSON
 * request per stdin line, a JSON reply per stdout line, in order. Closing stdin
 * ends it, so a killed test leaves no client behind either.
 */
export class ForeignClient {
  private readonly proc: ChildProcessWithoutNullStreams;
  private readonly pending: { resolve: (r: Reply) => void; reject: (e: Error) => void }[] = [];
  private stderr = '';
  private exitError: Error | undefined;
  private readonly exited: Promise<void>;

  constructor(readonly name: string, command: string, args: string[]) {
    this.proc = spawn(command, args, { env: cleanChildEnv(), stdio: ['pipe', 'pipe', 'pipe'] });
    this.proc.stderr.setEncoding('utf8');
    this.proc.stderr.on('data', (d: string) => { this.stderr += d; });
    readline.createInterface({ input: this.proc.stdout }).on('line', (line) => {
      const next = this.pending.shift();
      try {
        next?.resolve(JSON.parse(line) as Reply);
      } catch {
        next?.reject(new Error(`${name} wrote a line that is not JSON: ${line}`));
      }
    });
    this.exited = new Promise((resolve) => {
      this.proc.on('close', (code, signal) => {
        this.exitError = new Error(`${name} exited (code ${code}, signal ${signal}): ${this.stderr.trim()}`);
        for (const p of this.pending.splice(0)) p.reject(this.exitError);
        resolve();
      });
    });
    // An error writing to a dead client surfaces as the exit error above.
    this.proc.stdin.on('error', () => undefined);
  }

  /** One unary call: `def` is the method of cradle's loaded proto (path, serializers, types). */
  async call<Req, Res, ReqOut, ResOut>(def: MethodDefinition<Req, Res, ReqOut, ResOut>, request: NoInfer<Req>, timeoutMs = 60_000): Promise<ResOut> {
    if (this.exitError) throw this.exitError;
    const reply = await new Promise<Reply>((resolve, reject) => {
      this.pending.push({ resolve, reject });
      this.proc.stdin.write(`${JSON.stringify({ method: def.path, request: def.requestSerialize(request).toString('base64'), timeoutMs })}\n`);
    });
    if (reply.response === undefined) throw new ForeignCallError(reply.code ?? -1, reply.message ?? '', def.path);
    return def.responseDeserialize(Buffer.from(reply.response, 'base64'));
  }

  /** Ends the client (stdin EOF), killing it if it does not exit; idempotent. */
  async close(): Promise<void> {
    this.proc.stdin.end();
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), 5_000);
    await this.exited;
    clearTimeout(timer);
  }
}

/** How the Go client dials: `path` as kubelet <= 1.29 and crictl 1.26, `localhost` as kubelet >= 1.30. */
export type GoDialMode = 'path' | 'localhost';

export function goClient(binary: string, socket: string, mode: GoDialMode): ForeignClient {
  return new ForeignClient(`go-cri (${mode})`, binary, ['-socket', socket, '-authority', mode]);
}

/** The python3-grpcio client; `authority` overrides :authority (grpc.default_authority). */
export function pythonClient(socket: string, authority?: string): ForeignClient {
  return new ForeignClient(`python_cri (${authority ?? 'default authority'})`, SYSTEM_PYTHON, ['-I', PYTHON_SCRIPT, socket, ...(authority === undefined ? [] : [authority])]);
}
