// The CNI verbs over a network configuration list, as libcni's
// AddNetworkList/DelNetworkList/CheckNetworkList/GetStatusNetworkList/GCNetworkList:
// plugins run in order (DEL in reverse), each ADD result is the next plugin's
// prevResult, converted to the list's version.
import { errors } from '../common/errors';
import { findPlugin } from './config';
import { buildPluginConfig, execPlugin, pluginEnv, type CniCommand } from './exec';
import { ResultFormatError, convertResult, parseResult } from './result';
import type { Attachment, CniResult, JsonObject, NetworkConfigList, PluginConfig, RuntimeConf } from './types';
import { versionAtLeast } from './version';

export interface NetworkOpsOptions {
  pluginDirs: readonly string[];
  /** Per plugin invocation. */
  execTimeoutMs: number;
}

export interface AddOutcome {
  result: CniResult;
  /** The final result in the list's wire version (what is cached and used as prevResult). */
  raw: JsonObject;
}

export class NetworkOps {
  constructor(private readonly options: NetworkOpsOptions) {}

  private async run(network: NetworkConfigList, plugin: PluginConfig, command: CniCommand, stdin: JsonObject,
    rt: RuntimeConf | undefined, signal: AbortSignal | undefined, onSpawned?: () => void): Promise<unknown> {
    const pluginPath = await findPlugin(plugin.type, this.options.pluginDirs);
    if (!pluginPath) throw errors.cniPluginNotFound(plugin.type, this.options.pluginDirs);
    return execPlugin({
      pluginPath,
      plugin: plugin.type,
      network: network.name,
      command,
      env: pluginEnv(command, this.options.pluginDirs, rt),
      stdin,
      timeoutMs: this.options.execTimeoutMs,
      ...(signal ? { signal } : {}),
      ...(onSpawned ? { onSpawned } : {}),
    });
  }

  /** `onFirstSpawned`: called once the first plugin process has been spawned. */
  async add(network: NetworkConfigList, rt: RuntimeConf, signal?: AbortSignal, onFirstSpawned?: () => void): Promise<AddOutcome> {
    let prev: JsonObject | undefined;
    for (const [i, plugin] of network.plugins.entries()) {
      const stdin = buildPluginConfig(network, plugin, { ...(prev ? { prevResult: prev } : {}), capabilityArgs: rt.capabilityArgs });
      const output = await this.run(network, plugin, 'ADD', stdin, rt, signal, i === 0 ? onFirstSpawned : undefined);
      if (output === undefined) continue; // a pass-through plugin that printed nothing keeps the previous result
      try {
        prev = convertResult(parseResult(output), network.cniVersion);
      } catch (err) {
        if (err instanceof ResultFormatError) throw errors.cniPlugin(plugin.type, 'ADD', network.name, `invalid result: ${err.message}`);
        throw err;
      }
    }
    if (!prev) throw errors.cniPlugin(network.plugins[network.plugins.length - 1]!.type, 'ADD', network.name, 'no plugin returned a result');
    return { result: parseResult(prev), raw: prev };
  }

  /** DEL in reverse order. prevResult is the cached ADD result (spec ≥ 0.4.0). */
  async del(network: NetworkConfigList, rt: RuntimeConf, cachedResult: JsonObject | null, signal?: AbortSignal): Promise<void> {
    const prevResult = cachedResult && versionAtLeast(network.cniVersion, '0.4.0') ? convertCached(cachedResult, network) : undefined;
    for (const plugin of [...network.plugins].reverse()) {
      const stdin = buildPluginConfig(network, plugin, { ...(prevResult ? { prevResult } : {}), capabilityArgs: rt.capabilityArgs });
      await this.run(network, plugin, 'DEL', stdin, rt, signal);
    }
  }

  /** CHECK (spec ≥ 0.4.0, not disabled); returns false when the list does not support it. */
  async check(network: NetworkConfigList, rt: RuntimeConf, cachedResult: JsonObject, signal?: AbortSignal): Promise<boolean> {
    if (!versionAtLeast(network.cniVersion, '0.4.0') || network.disableCheck) return false;
    const prevResult = convertCached(cachedResult, network);
    for (const plugin of network.plugins) {
      const stdin = buildPluginConfig(network, plugin, { prevResult, capabilityArgs: rt.capabilityArgs });
      await this.run(network, plugin, 'CHECK', stdin, rt, signal);
    }
    return true;
  }

  /** STATUS (spec ≥ 1.1.0); returns false when the list does not support it. Throws the first plugin error. */
  async status(network: NetworkConfigList, signal?: AbortSignal): Promise<boolean> {
    if (!versionAtLeast(network.cniVersion, '1.1.0')) return false;
    for (const plugin of network.plugins) {
      await this.run(network, plugin, 'STATUS', buildPluginConfig(network, plugin), undefined, signal);
    }
    return true;
  }

  /** GC (spec ≥ 1.1.0, not disabled) with the attachments that must be kept. */
  async gc(network: NetworkConfigList, valid: Attachment[], signal?: AbortSignal): Promise<boolean> {
    if (!versionAtLeast(network.cniVersion, '1.1.0') || network.disableGC) return false;
    for (const plugin of network.plugins) {
      const stdin = buildPluginConfig(network, plugin, { extra: { 'cni.dev/valid-attachments': valid } });
      await this.run(network, plugin, 'GC', stdin, undefined, signal);
    }
    return true;
  }
}

function convertCached(cached: JsonObject, network: NetworkConfigList): JsonObject {
  try {
    return convertResult(parseResult(cached), network.cniVersion);
  } catch {
    return cached; // let the plugin judge a result cradle cannot read
  }
}
