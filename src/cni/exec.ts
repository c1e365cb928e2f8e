// Running one CNI plugin binary: the stdin document (plugin config with the list's
// name/version, prevResult and capability-filtered runtimeConfig), the CNI_*
// environment, a timeout, and the plugin's error JSON turned into a catalogue error.
import { spawn } from 'node:child_process';
import { cleanChildEnv } from '../common/child-env';
import { CradleError, errors } from '../common/errors';
import type { CapabilityArgs, JsonObject, NetworkConfigList, PluginConfig, RuntimeConf } from './types';

export type CniCommand = 'ADD' | 'DEL' | 'CHECK' | 'STATUS' | 'GC' | 'VERSION';

/** Output beyond this is a misbehaving plugin, not a result. */
const MAX_OUTPUT_BYTES = 4 * 1024 * 1024;

/** Well-known error codes of the CNI spec, for messages. */
const SPEC_ERROR_CODES: Record<number, string> = {
  1: 'incompatible CNI version',
  2: 'unsupported field in network configuration',
  3: 'container unknown or does not exist',
  4: 'invalid necessary environment variables',
  5: 'I/O failure',
  6: 'failed to decode content',
  7: 'invalid network config',
  11: 'try again later',
  50: 'plugin not available',
  51: 'plugin not available, limited connectivity',
};

/** A plugin's error JSON (`{"code","msg","details"}`), kept structured for callers. */
export class CniPluginError extends CradleError {
  constructor(
    readonly plugin: string,
    readonly command: CniCommand,
    readonly network: string,
    /** CNI error code (0 when the plugin printed no error JSON). */
    readonly cniCode: number,
    readonly cniMsg: string,
    readonly cniDetails: string,
  ) {
    const known = SPEC_ERROR_CODES[cniCode];
    const codeText = cniCode ? ` (CNI error code ${cniCode}${known ? `: ${known}` : ''})` : '';
    const base = errors.cniPlugin(plugin, command, network, `${cniMsg}${cniDetails ? `: ${cniDetails}` : ''}${codeText}`);
    super(base.code, base.kind, base.message);
  }
}

/** The runtimeConfig a plugin gets: only the capabilities it declares, only those set. */
export function filterCapabilities(plugin: PluginConfig, args: CapabilityArgs): JsonObject {
  const runtimeConfig: JsonObject = {};
  for (const [key, value] of Object.entries(args)) {
    if (value === undefined || !plugin.capabilities.has(key)) continue;
    runtimeConfig[key] = value;
  }
  return runtimeConfig;
}

/** The stdin document for one plugin of a list (libcni's buildOneConfig). */
export function buildPluginConfig(
  network: NetworkConfigList,
  plugin: PluginConfig,
  options: { prevResult?: JsonObject; capabilityArgs?: CapabilityArgs; extra?: JsonObject } = {},
): JsonObject {
  const config: JsonObject = { ...plugin.raw, name: network.name, cniVersion: network.cniVersion };
  if (options.prevResult) config.prevResult = options.prevResult;
  if (options.capabilityArgs) {
    const runtimeConfig = filterCapabilities(plugin, options.capabilityArgs);
    if (Object.keys(runtimeConfig).length > 0) {
      const existing = typeof config.runtimeConfig === 'object' && config.runtimeConfig !== null ? config.runtimeConfig : {};
      config.runtimeConfig = { ...existing, ...runtimeConfig };
    }
  }
  if (options.extra) Object.assign(config, options.extra);
  return config;
}

/** CNI_ARGS as `K=V;K=V`. Values cannot carry the separators. */
export function formatCniArgs(args: Array<[string, string]>): string {
  for (const [key, value] of args) {
    if (/[;=]/.test(key) || value.includes(';')) {
      throw errors.invalidArgument(`CNI_ARGS entry ${JSON.stringify(`${key}=${value}`)} contains ';' or '='`);
    }
  }
  return args.map(([key, value]) => `${key}=${value}`).join(';');
}

/** The CNI_* environment. Verbs without an attachment (STATUS, GC, VERSION) get empty values. */
export function pluginEnv(command: CniCommand, pluginDirs: readonly string[], rt?: RuntimeConf): Record<string, string> {
  return cleanChildEnv({
    CNI_COMMAND: command,
    CNI_CONTAINERID: rt?.containerId ?? '',
    CNI_NETNS: rt?.netns ?? '',
    CNI_IFNAME: rt?.ifName ?? '',
    CNI_ARGS: rt ? formatCniArgs(rt.args) : '',
    CNI_PATH: pluginDirs.join(':'),
  });
}

export interface ExecRequest {
  pluginPath: string;
  /** Plugin type, for messages. */
  plugin: string;
  network: string;
  command: CniCommand;
  env: Record<string, string>;
  stdin: JsonObject;
  timeoutMs: number;
  signal?: AbortSignal;
  /** Called as soon as the plugin process has been spawned. */
  onSpawned?: () => void;
}

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Maps a failed plugin's output to a CniPluginError (error JSON on stdout, else text). */
export function pluginFailure(req: Pick<ExecRequest, 'plugin' | 'command' | 'network'>, exit: string, stdout: string, stderr: string): CniPluginError {
  let parsed: unknown;
  try {
    parsed = stdout.trim() ? JSON.parse(stdout) : undefined;
  } catch {
    parsed = undefined;
  }
  if (isObject(parsed) && (typeof parsed.msg === 'string' || typeof parsed.code === 'number')) {
    const code = typeof parsed.code === 'number' ? parsed.code : 0;
    const msg = typeof parsed.msg === 'string' ? parsed.msg : `${exit} with error code ${code}`;
    const details = typeof parsed.details === 'string' ? parsed.details : '';
    return new CniPluginError(req.plugin, req.command, req.network, code, msg, details);
  }
  const text = (stderr.trim() || stdout.trim()).slice(0, 2000);
  return new CniPluginError(req.plugin, req.command, req.network, 0, `${exit}${text ? `: ${text}` : ' without output'}`, '');
}

/**
 * Runs the plugin and returns its parsed stdout (undefined when it printed nothing,
 * which DEL, GC and STATUS normally do). Throws CniPluginError, CRADLE_ERR_CNI_TIMEOUT
 * or CRADLE_ERR_CNI_PLUGIN_NOT_FOUND.
 */
export function execPlugin(req: ExecRequest): Promise<unknown> {
  return new Promise((resolve, reject) => {
    if (req.signal?.aborted) {
      reject(errors.cancelled(`CNI ${req.command} on network ${JSON.stringify(req.network)} cancelled before ${req.plugin} ran`));
      return;
    }
    // Own process group, so a timeout also kills what the plugin started (iptables, IPAM plugins).
    const child = spawn(req.pluginPath, [], { env: req.env, stdio: ['pipe', 'pipe', 'pipe'], detached: true });
    req.onSpawned?.();
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    let size = 0;
    let failure: CradleError | undefined;
    let settled = false;

    const kill = (why: CradleError): void => {
      if (!failure) failure = why;
      try {
        if (child.pid) process.kill(-child.pid, 'SIGKILL');
      } catch {
        child.kill('SIGKILL');
      }
    };
    const timer = setTimeout(() => kill(errors.cniTimeout(req.plugin, req.command, req.network, req.timeoutMs)), req.timeoutMs);
    const onAbort = (): void => kill(errors.cancelled(`CNI ${req.command} on network ${JSON.stringify(req.network)} cancelled while ${req.plugin} ran; plugin killed`));
    req.signal?.addEventListener('abort', onAbort, { once: true });

    const finish = (err: CradleError | undefined, value?: unknown): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.signal?.removeEventListener('abort', onAbort);
      if (err) reject(err);
      else resolve(value);
    };
    const collect = (into: Buffer[]) => (chunk: Buffer): void => {
      size += chunk.length;
      if (size > MAX_OUTPUT_BYTES) {
        kill(errors.cniPlugin(req.plugin, req.command, req.network, `output exceeds ${MAX_OUTPUT_BYTES} bytes`));
        return;
      }
      into.push(chunk);
    };
    child.stdout.on('data', collect(stdout));
    child.stderr.on('data', collect(stderr));
    child.stdin.on('error', () => { /* EPIPE: the plugin exited without reading; its exit status tells why */ });
    child.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT' || err.code === 'EACCES') finish(errors.cniPluginNotFound(req.plugin, [req.pluginPath]));
      else finish(errors.cniPlugin(req.plugin, req.command, req.network, `cannot run ${req.pluginPath}: ${err.message}`));
    });
    child.on('close', (code, signal) => {
      if (failure) return finish(failure);
      const out = Buffer.concat(stdout).toString('utf8');
      const errText = Buffer.concat(stderr).toString('utf8');
      if (code !== 0) {
        const exit = signal ? `killed by ${signal}` : `exited with status ${code}`;
        return finish(pluginFailure(req, exit, out, errText));
      }
      if (!out.trim()) return finish(undefined, undefined);
      try {
        finish(undefined, JSON.parse(out));
      } catch {
        finish(errors.cniPlugin(req.plugin, req.command, req.network, `invalid JSON output: ${out.slice(0, 200)}`));
      }
    });
    child.stdin.end(JSON.stringify(req.stdin));
  });
}
