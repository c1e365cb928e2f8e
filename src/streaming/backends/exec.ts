// Exec: runs the runtime's `exec` attached (not through conmon): the command's
// stdio are the runtime CLI's pipes, its exit code is the CLI's. With a tty the
// session needs a console socket; that is not supported yet and is refused clearly.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { cleanChildEnv } from '../../common/child-env';
import { errors } from '../../common/errors';
import type { ContainerManager } from '../../runtime/containers/manager';
import type { RuntimeHandlers } from '../../runtime/handlers';
import { buildExecProcess } from '../../runtime/spec';
import type { ExecBackend } from '../backend';

export function execBackend(containers: ContainerManager, handlers: RuntimeHandlers, scratchDir: string): ExecBackend {
  return {
    async exec(request, io, signal) {
      const c = containers.find(request.containerId);
      if (c.state !== 'CONTAINER_RUNNING') throw errors.failedPrecondition(`container ${c.id} is not running`);
      if (request.tty) throw errors.unimplemented('Exec with a tty (a console socket is not supported yet)');
      const cli = handlers.get(c.runtimeHandler).cli;
      const dir = path.join(scratchDir, `${c.id.slice(0, 16)}-${randomBytes(6).toString('hex')}`);
      fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
      const processFile = path.join(dir, 'process.json');
      const pidFile = path.join(dir, 'pid');
      fs.writeFileSync(processFile, JSON.stringify(buildExecProcess(containers.processOf(c), request.cmd, false)), { mode: 0o600 });
      const child = spawn(cli.binary, [...cli.globalArgs(), 'exec', '--process', processFile, '--pid-file', pidFile, c.id], {
        stdio: [io.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'],
        env: cleanChildEnv(),
      });
      const killProcess = () => {
        try {
          process.kill(Number(fs.readFileSync(pidFile, 'utf8')), 'SIGKILL');
        } catch { /* not started or gone */ }
        child.kill('SIGKILL');
      };
      signal.addEventListener('abort', killProcess, { once: true });
      if (io.stdin && child.stdin) {
        io.stdin.pipe(child.stdin);
        child.stdin.on('error', () => undefined);
      }
      if (io.stdout) child.stdout!.pipe(io.stdout, { end: false });
      else child.stdout!.resume();
      if (io.stderr) child.stderr!.pipe(io.stderr, { end: false });
      else child.stderr!.resume();
      try {
        const exitCode = await new Promise<number>((resolve, reject) => {
          child.once('error', reject);
          child.once('close', (code, sig) => resolve(code ?? (sig ? 128 + (({ SIGKILL: 9, SIGTERM: 15 } as Record<string, number>)[sig] ?? 1) : 1)));
        });
        return { exitCode };
      } finally {
        signal.removeEventListener('abort', killProcess);
        if (io.stdin) io.stdin.unpipe();
        fs.rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}
