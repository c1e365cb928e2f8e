// Network configuration files: discovery in the conf dir, parsing of `.conf`
// (single plugin) and `.conflist` (chain) files, validation, and plugin binary
// lookup in the plugin dirs. Mirrors libcni's ConfFiles/ConfListFromFile and
// ocicni's "first valid file in lexical order" rule.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { errors, errnoOf, isCradleError, messageOf } from '../common/errors';
import type { JsonObject, NetworkConfigList, PluginConfig } from './types';
import { SUPPORTED_CNI_VERSIONS, compareVersions, isSupportedVersion } from './version';

export const CONFIG_EXTENSIONS = ['.conf', '.conflist', '.json'] as const;
export const DEFAULT_CONF_DIR = '/etc/cni/net.d';
export const DEFAULT_PLUGIN_DIRS: readonly string[] = ['/opt/cni/bin', '/usr/lib/cni'];

/** Network names and plugin types: the spec's character set (and no path separators). */
const NAME_PATTERN = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

export interface InvalidConfigFile {
  file: string;
  error: string;
}

export interface LoadedConfigs {
  /** Valid lists in lexical file order. */
  networks: NetworkConfigList[];
  /** Files that were skipped, with the reason. */
  invalid: InvalidConfigFile[];
}

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function bool(obj: JsonObject, key: string, file: string): boolean {
  const value = obj[key];
  if (value === undefined) return false;
  if (typeof value === 'boolean') return value;
  if (value === 'true' || value === 'false') return value === 'true'; // libcni accepts the string form
  throw errors.cniConfig(file, `${key} must be a boolean`);
}

/** Picks the version: `cniVersions` (spec 1.1, highest supported wins) or `cniVersion`. */
function pickVersion(obj: JsonObject, file: string): string {
  if (obj.cniVersions !== undefined) {
    if (!Array.isArray(obj.cniVersions) || !obj.cniVersions.every((v) => typeof v === 'string')) {
      throw errors.cniConfig(file, 'cniVersions must be a list of strings');
    }
    const usable = (obj.cniVersions as string[]).filter(isSupportedVersion).sort(compareVersions);
    if (usable.length > 0) return usable[usable.length - 1]!;
    if (obj.cniVersion === undefined) {
      throw errors.cniConfig(file, `none of cniVersions ${JSON.stringify(obj.cniVersions)} is supported (supported: ${SUPPORTED_CNI_VERSIONS.join(', ')})`);
    }
  }
  const version = obj.cniVersion;
  if (typeof version !== 'string' || version === '') throw errors.cniConfig(file, 'cniVersion is required');
  if (!isSupportedVersion(version)) {
    throw errors.cniConfig(file, `cniVersion ${JSON.stringify(version)} is not supported (supported: ${SUPPORTED_CNI_VERSIONS.join(', ')})`);
  }
  return version;
}

function parsePlugin(value: unknown, where: string, file: string): PluginConfig {
  if (!isObject(value)) throw errors.cniConfig(file, `${where} must be an object`);
  const type = value.type;
  if (typeof type !== 'string' || type === '') throw errors.cniConfig(file, `${where}.type is required`);
  if (!NAME_PATTERN.test(type)) throw errors.cniConfig(file, `${where}.type ${JSON.stringify(type)} is not a valid plugin name`);
  const capabilities = new Set<string>();
  if (value.capabilities !== undefined) {
    if (!isObject(value.capabilities)) throw errors.cniConfig(file, `${where}.capabilities must be an object`);
    for (const [key, enabled] of Object.entries(value.capabilities)) if (enabled === true) capabilities.add(key);
  }
  return { type, capabilities, raw: value };
}

/**
 * Parses one file's text. `.conflist` files (and `.conf`/`.json` files that carry a
 * `plugins` list) are lists; other `.conf`/`.json` files are one plugin, wrapped
 * as a one-plugin list like libcni's ConfListFromConf. Throws CRADLE_ERR_CNI_CONFIG.
 */
export function parseNetworkConfig(file: string, text: string): NetworkConfigList {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw errors.cniConfig(file, `invalid JSON: ${messageOf(err)}`);
  }
  if (!isObject(value)) throw errors.cniConfig(file, 'top level must be a JSON object');
  const isList = file.endsWith('.conflist') || value.plugins !== undefined;
  const name = value.name;
  if (typeof name !== 'string' || name === '') throw errors.cniConfig(file, 'name is required');
  if (!NAME_PATTERN.test(name)) throw errors.cniConfig(file, `name ${JSON.stringify(name)} may only contain letters, digits, '_', '.' and '-'`);
  const cniVersion = pickVersion(value, file);

  if (isList) {
    if (!Array.isArray(value.plugins) || value.plugins.length === 0) throw errors.cniConfig(file, 'plugins must be a non-empty list');
    const plugins = value.plugins.map((p, i) => parsePlugin(p, `plugins[${i}]`, file));
    return {
      name,
      cniVersion,
      disableCheck: bool(value, 'disableCheck', file),
      disableGC: bool(value, 'disableGC', file),
      plugins,
      source: file,
      raw: { ...value, cniVersion },
    };
  }
  const plugin = parsePlugin(value, 'plugin', file);
  return {
    name,
    cniVersion,
    disableCheck: false,
    disableGC: false,
    plugins: [plugin],
    source: file,
    raw: { cniVersion, name, plugins: [value] },
  };
}

/** Rebuilds a list from its stored JSON (the result cache keeps lists this way). */
export function networkFromJson(raw: JsonObject, source: string): NetworkConfigList {
  return parseNetworkConfig(source.endsWith('.conflist') ? source : `${source}.conflist`, JSON.stringify(raw));
}

/** Config file names in the conf dir, lexically sorted. A missing dir is empty. */
export async function listConfigFiles(confDir: string): Promise<string[]> {
  let entries: fs.Dirent[];
  try {
    entries = await fs.promises.readdir(confDir, { withFileTypes: true });
  } catch (err) {
    if (errnoOf(err) === 'ENOENT') return [];
    throw err;
  }
  return entries
    .filter((e) => (e.isFile() || e.isSymbolicLink()) && !e.name.startsWith('.'))
    .map((e) => e.name)
    .filter((name) => CONFIG_EXTENSIONS.some((ext) => name.endsWith(ext)))
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
    .map((name) => path.join(confDir, name));
}

/** First executable named `type` in the plugin dirs, in order. */
export async function findPlugin(type: string, pluginDirs: readonly string[]): Promise<string | undefined> {
  if (!NAME_PATTERN.test(type)) return undefined;
  for (const dir of pluginDirs) {
    const candidate = path.join(dir, type);
    try {
      const stat = await fs.promises.stat(candidate);
      if (!stat.isFile()) continue;
      await fs.promises.access(candidate, fs.constants.X_OK);
      return candidate;
    } catch {
      // not in this dir
    }
  }
  return undefined;
}

/** Checks that every plugin of a list exists as a binary. Throws CRADLE_ERR_CNI_CONFIG. */
export async function checkPluginBinaries(network: NetworkConfigList, pluginDirs: readonly string[]): Promise<void> {
  for (const plugin of network.plugins) {
    if (!(await findPlugin(plugin.type, pluginDirs))) {
      throw errors.cniConfig(network.source, `plugin type ${JSON.stringify(plugin.type)} not found in ${pluginDirs.join(', ')}`);
    }
  }
}

/** Loads every config file of the dir; invalid ones are reported, not fatal. */
export async function loadNetworkConfigs(confDir: string, pluginDirs: readonly string[]): Promise<LoadedConfigs> {
  const loaded: LoadedConfigs = { networks: [], invalid: [] };
  for (const file of await listConfigFiles(confDir)) {
    try {
      const text = await fs.promises.readFile(file, 'utf8');
      const network = parseNetworkConfig(file, text);
      await checkPluginBinaries(network, pluginDirs);
      loaded.networks.push(network);
    } catch (err) {
      const error = isCradleError(err) ? err.message : `CNI config ${file}: ${messageOf(err)}`;
      loaded.invalid.push({ file, error });
    }
  }
  return loaded;
}
