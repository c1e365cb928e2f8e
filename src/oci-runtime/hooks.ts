// OCI hooks: each runs with the container's state JSON on stdin, its own args and
// env, and an optional timeout; a failing hook fails the lifecycle step (except
// poststart/poststop, whose failures are only logged by the caller).
import { spawnSync } from 'node:child_process';
import type { OciHook } from '../common/oci-spec';

export function runHooks(kind: string, hooks: OciHook[] | undefined, stateJson: string): void {
  for (const [i, hook] of (hooks ?? []).entries()) {
    const result = spawnSync(hook.path, (hook.args ?? [hook.path]).slice(1), {
      argv0: hook.args?.[0] ?? hook.path,
      input: stateJson,
      env: Object.fromEntries((hook.env ?? []).map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)])),
      stdio: ['pipe', 'ignore', 'pipe'],
      timeout: hook.timeout ? hook.timeout * 1000 : undefined,
      killSignal: 'SIGKILL',
    });
    const where = `hooks.${kind}[${i}] ${hook.path}`;
    // A hook that exits without reading the state gives EPIPE on our side: not an error (as in runc).
    const epipe = (result.error as NodeJS.ErrnoException | undefined)?.code === 'EPIPE' && result.status !== null;
    if (result.error && !epipe) throw new Error(`${where}: ${result.error.message}`);
    if (result.signal) throw new Error(`${where}: killed by ${result.signal}${hook.timeout ? ` (timeout ${hook.timeout}s)` : ''}`);
    if (result.status !== 0) throw new Error(`${where}: exit status ${result.status}: ${result.stderr.toString().trim()}`);
  }
}
