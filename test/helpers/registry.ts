// A throw-away OCI distribution registry for tests: Debian's docker-registry
// (distribution 2.8) on 127.0.0.1, on a kernel-chosen port, with storage in a
// temp dir. Tests push fixture images into it (see image-builder.ts) and point
// cradle at `registry.host`.
//
// Lifetime: the registry is started through a tiny /bin/sh watchdog whose stdin
// is a pipe from this process. When the pipe closes — stop(), normal exit, a
// crash or even SIGKILL of the test process — the watchdog kills the registry.
// That gives PR_SET_PDEATHSIG-like behaviour without prctl. stop() also removes
// the temp dir; dirs left by a killed run are swept by the next start.

import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { once } from 'node:events';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { cleanChildEnv } from '../../src/common/child-env';

export const REGISTRY_BINARY = '/usr/bin/docker-registry';
/** Prefix of the temp dirs; the sweep removes stale ones whose owner is gone. */
export const REGISTRY_TMP_PREFIX = 'cradle-test-registry-';

/** Where to push to / pull from: what the registry client functions need. */
export interface RegistryTarget {
  /** `127.0.0.1:PORT`, the host part of image references. */
  readonly host: string;
  /** `http://127.0.0.1:PORT`, base of the /v2/ API. */
  readonly url: string;
  /** Extra request headers (e.g. Authorization once a token server sits in front). */
  readonly headers?: Readonly<Record<string, string>>;
}

export interface FixtureRegistry extends RegistryTarget {
  /** The temp dir holding config.yml and data/ (removed by stop()). */
  readonly dir: string;
  readonly configPath: string;
  /** pid of the docker-registry process itself. */
  readonly pid: number;
  /** Everything the registry wrote to stderr so far (its log), for failure messages. */
  log(): string;
  /** Kills the registry and removes its temp dir. Idempotent. */
  stop(): Promise<void>;
}

export interface FixtureRegistryOptions {
  /**
   * Top-level config sections merged over the defaults (shallow), e.g.
   * `{ auth: { token: {...} } }` to put distribution's token auth in place,
   * or `{ validation: {...} }`. The config file is JSON (valid YAML).
   */
  extraConfig?: Record<string, unknown>;
  /** How long to wait for the registry to answer GET /v2/ (default 20 s). */
  readyTimeoutMs?: number;
  /** Parent of the temp dir (default os.tmpdir()). */
  tmpRoot?: string;
}

// The watchdog. $1.. is the registry command line. It prints the registry pid,
// then a background reader waits for EOF on fd 3 (our pipe) and kills the
// registry; the shell itself exits with the registry's status, so our 'exit'
// event fires when the registry dies for any reason.
const WATCHDOG = [
  // Keep our pipe as fd 3: background jobs get stdin from /dev/null.
  'exec 3<&0',
  '"$@" </dev/null 3<&- &',
  'child=$!',
  'echo "$child"',
  '{ while read -r _ <&3; do :; done; kill -TERM "$child" 2>/dev/null; } &',
  'watcher=$!',
  'wait "$child"; rc=$?',
  'kill "$watcher" 2>/dev/null',
  'exit "$rc"',
].join('\n');

const live = new Set<() => void>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // Synchronous last resort; the watchdog would do it too once our pipe closes.
  process.on('exit', () => {
    for (const kill of live) kill();
  });
}

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Removes temp dirs of earlier runs whose owning test process no longer exists. */
export function sweepStaleRegistries(tmpRoot: string = os.tmpdir()): void {
  let names: string[];
  try {
    names = fs.readdirSync(tmpRoot);
  } catch {
    return;
  }
  for (const name of names) {
    if (!name.startsWith(REGISTRY_TMP_PREFIX)) continue;
    const dir = path.join(tmpRoot, name);
    let owner = NaN;
    let registryPid = NaN;
    try {
      owner = Number(fs.readFileSync(path.join(dir, 'owner.pid'), 'utf8'));
      registryPid = Number(fs.readFileSync(path.join(dir, 'registry.pid'), 'utf8'));
    } catch {
      // half-created dir: judge by owner only
    }
    if (Number.isInteger(owner) && owner > 0 && pidAlive(owner)) continue;
    if (Number.isInteger(registryPid) && registryPid > 0 && pidAlive(registryPid)) {
      try {
        // Only ours: check it really is a docker-registry before killing.
        const cmdline = fs.readFileSync(`/proc/${registryPid}/cmdline`, 'utf8');
        if (cmdline.startsWith(REGISTRY_BINARY) && cmdline.includes(dir)) process.kill(registryPid, 'SIGKILL');
      } catch {
        // gone meanwhile
      }
    }
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function registryConfig(dir: string, extra: Record<string, unknown>): Record<string, unknown> {
  return {
    version: '0.1',
    log: { level: 'info', formatter: 'text', accesslog: { disabled: true } },
    storage: {
      filesystem: { rootdirectory: path.join(dir, 'data') },
      delete: { enabled: true },
      maintenance: { uploadpurging: { enabled: false } },
    },
    // Port 0: the kernel picks a free port (no race); we read it from the log.
    http: { addr: '127.0.0.1:0', secret: 'cradle-test-fixture-registry' },
    ...extra,
  };
}

/** Starts a registry and waits until GET /v2/ answers. */
export async function startFixtureRegistry(opts: FixtureRegistryOptions = {}): Promise<FixtureRegistry> {
  const tmpRoot = opts.tmpRoot ?? os.tmpdir();
  sweepStaleRegistries(tmpRoot);
  const dir = fs.mkdtempSync(path.join(tmpRoot, REGISTRY_TMP_PREFIX));
  fs.writeFileSync(path.join(dir, 'owner.pid'), String(process.pid));
  const configPath = path.join(dir, 'config.yml');
  fs.writeFileSync(configPath, JSON.stringify(registryConfig(dir, opts.extraConfig ?? {}), null, 2));

  // REGISTRY_* variables would override the config file.
  const env = cleanChildEnv();
  for (const key of Object.keys(env)) if (key.startsWith('REGISTRY_')) delete env[key];

  const child: ChildProcessByStdio<Writable, Readable, Readable> = spawn(
    '/bin/sh', ['-c', WATCHDOG, 'cradle-registry-watchdog', REGISTRY_BINARY, 'serve', configPath],
    { stdio: ['pipe', 'pipe', 'pipe'], env },
  );
  let logText = '';
  let stdoutText = '';
  let exited = false;
  child.stderr.setEncoding('utf8');
  child.stdout.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => { logText += chunk; });
  child.stdout.on('data', (chunk: string) => { stdoutText += chunk; });
  const exitPromise = once(child, 'exit').then(() => { exited = true; });
  child.stdin.on('error', () => { /* EPIPE once the watchdog is gone */ });

  let registryPid = 0;
  const killNow = (): void => {
    for (const pid of [registryPid, child.pid]) {
      if (!pid) continue;
      try { process.kill(pid, 'SIGKILL'); } catch { /* already gone */ }
    }
  };
  const killAtExit = (): void => {
    killNow();
    fs.rmSync(dir, { recursive: true, force: true });
  };
  installExitHook();
  live.add(killAtExit);

  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    child.stdin.end(); // the watchdog sends SIGTERM to the registry
    if (!exited) {
      const timer = setTimeout(killNow, 5000);
      await exitPromise;
      clearTimeout(timer);
    }
    live.delete(killAtExit);
    fs.rmSync(dir, { recursive: true, force: true });
  };

  try {
    const deadline = Date.now() + (opts.readyTimeoutMs ?? 20_000);
    let host = '';
    while (!host) {
      if (exited) throw new Error(`docker-registry exited during startup: ${logText.trim()}`);
      if (Date.now() > deadline) throw new Error(`docker-registry did not report its address: ${logText.trim()}`);
      const match = /listening on (\S+:\d+)/.exec(logText);
      if (match?.[1]) host = match[1];
      else await delay(20);
    }
    registryPid = Number(stdoutText.trim().split('\n')[0]);
    fs.writeFileSync(path.join(dir, 'registry.pid'), String(registryPid));
    const url = `http://${host}`;
    for (;;) {
      if (exited) throw new Error(`docker-registry exited during startup: ${logText.trim()}`);
      try {
        const res = await fetch(`${url}/v2/`);
        await res.arrayBuffer();
        // 401 counts as up: a registry configured with auth answers that.
        if (res.status === 200 || res.status === 401) break;
      } catch {
        // not accepting yet
      }
      if (Date.now() > deadline) throw new Error(`docker-registry at ${host} not ready: ${logText.trim()}`);
      await delay(20);
    }
    // A test that forgets stop() must not keep the test process alive.
    child.unref();
    for (const stream of [child.stdin, child.stdout, child.stderr]) {
      (stream as unknown as { unref?: () => void }).unref?.();
    }
    return { host, url, dir, configPath, pid: registryPid, log: () => logText, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** Anything with node:test's `after` (a TestContext or SuiteContext). */
export interface HasAfterHook {
  after(fn: () => Promise<void> | void): void;
}

/**
 * startFixtureRegistry() whose stop() is registered on `t.after`, so it runs
 * however the test ends. `test('x', async (t) => { const r = await useFixtureRegistry(t); … })`.
 */
export async function useFixtureRegistry(t: HasAfterHook, opts: FixtureRegistryOptions = {}): Promise<FixtureRegistry> {
  const registry = await startFixtureRegistry(opts);
  t.after(() => registry.stop());
  return registry;
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
