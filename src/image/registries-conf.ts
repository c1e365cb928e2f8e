// containers-registries.conf(5) version 2, the format cri-o and podman users already
// have: [[registry]] with prefix/location/insecure/blocked and [[registry.mirror]],
// unqualified-search-registries, short-name-mode, [aliases], plus the drop-in
// directory (containers-registries.conf.d(5)). Keys cradle does not implement are
// reported as warnings, never silently ignored.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parse as parseToml } from 'smol-toml';
import { errors, errnoOf, messageOf } from '../common/errors';
import { parseReference, qualify, isShortName, repoName, type ImageReference, type ParsedReference } from './reference';

export type ShortNameMode = 'enforcing' | 'permissive' | 'disabled';
export type PullFromMirror = 'all' | 'digest-only' | 'tag-only';

export interface MirrorConfig {
  location: string;
  insecure: boolean;
  pullFromMirror: PullFromMirror;
}

export interface RegistryConfig {
  /** What references this entry applies to ("example.com/ns", "*.example.com"). */
  prefix: string;
  /** Where to pull from instead ("" keeps the prefix). */
  location: string;
  insecure: boolean;
  blocked: boolean;
  mirrorByDigestOnly: boolean;
  mirrors: MirrorConfig[];
}

export interface RegistriesConfig {
  unqualifiedSearchRegistries: string[];
  /** Undefined when no file set it: cradle then behaves as 'permissive'. */
  shortNameMode?: ShortNameMode;
  registries: RegistryConfig[];
  /** Short name → fully qualified name (no tag/digest). */
  aliases: Record<string, string>;
}

/** Where registries configuration lives; every path is optional (missing = none). */
export interface RegistriesOptions {
  /** Default /etc/containers/registries.conf. */
  confPath?: string;
  /** Default /etc/containers/registries.conf.d. */
  confDir?: string;
  /** Per-host CA and client certificates; default /etc/containers/certs.d. */
  certsDir?: string;
  /**
   * Registry used for short names when the configuration lists no
   * unqualified-search-registries (default docker.io, as docker and containerd).
   */
  defaultShortNameRegistry?: string;
}

export const DEFAULT_REGISTRIES_OPTIONS = {
  confPath: '/etc/containers/registries.conf',
  confDir: '/etc/containers/registries.conf.d',
  certsDir: '/etc/containers/certs.d',
  defaultShortNameRegistry: 'docker.io',
} as const;

export interface LoadedRegistries {
  config: RegistriesConfig;
  /** Files read, in order. */
  files: string[];
  /** Unsupported or ignored keys, one human-readable line each. */
  warnings: string[];
}

export function emptyRegistriesConfig(): RegistriesConfig {
  return { unqualifiedSearchRegistries: [], registries: [], aliases: {} };
}

/** Reads the main file then the drop-ins in lexical order (later files win). */
export function loadRegistriesConf(options: RegistriesOptions = {}): LoadedRegistries {
  const confPath = options.confPath ?? DEFAULT_REGISTRIES_OPTIONS.confPath;
  const confDir = options.confDir ?? DEFAULT_REGISTRIES_OPTIONS.confDir;
  const files: string[] = [];
  if (fs.existsSync(confPath)) files.push(confPath);
  let dropIns: string[] = [];
  try {
    dropIns = fs.readdirSync(confDir).filter((name) => name.endsWith('.conf')).sort();
  } catch (err) {
    if (errnoOf(err) !== 'ENOENT' && errnoOf(err) !== 'ENOTDIR') throw errors.config(confDir, '', messageOf(err));
  }
  files.push(...dropIns.map((name) => path.join(confDir, name)));
  const warnings: string[] = [];
  let config = emptyRegistriesConfig();
  for (const file of files) {
    const text = fs.readFileSync(file, 'utf8');
    config = mergeRegistriesConfig(config, parseRegistriesConf(text, file, warnings));
  }
  return { config, files, warnings };
}

/** A partial config from one file: undefined fields were not set there. */
export interface RegistriesFragment {
  unqualifiedSearchRegistries?: string[];
  shortNameMode?: ShortNameMode;
  registries: RegistryConfig[];
  aliases: Record<string, string>;
}

export function parseRegistriesConf(text: string, source: string, warnings: string[]): RegistriesFragment {
  let doc: Record<string, unknown>;
  try {
    doc = parseToml(text) as Record<string, unknown>;
  } catch (err) {
    throw errors.config(source, '', `not valid TOML: ${messageOf(err)}`);
  }
  const fragment: RegistriesFragment = { registries: [], aliases: {} };
  for (const [key, value] of Object.entries(doc)) {
    switch (key) {
      case 'unqualified-search-registries':
        fragment.unqualifiedSearchRegistries = stringArray(value, source, key).map((host) => checkHost(host, source, key));
        break;
      case 'short-name-mode': {
        if (value !== 'enforcing' && value !== 'permissive' && value !== 'disabled') {
          throw errors.config(source, key, `must be "enforcing", "permissive" or "disabled", not ${JSON.stringify(value)}`);
        }
        fragment.shortNameMode = value;
        break;
      }
      case 'registry': {
        if (!Array.isArray(value)) throw errors.config(source, key, 'must be an array of tables ([[registry]])');
        value.forEach((entry, index) => fragment.registries.push(parseRegistry(entry, source, `registry[${index}]`, warnings)));
        break;
      }
      case 'aliases': {
        if (!isTable(value)) throw errors.config(source, key, 'must be a table');
        for (const [alias, target] of Object.entries(value)) {
          if (typeof target !== 'string') throw errors.config(source, `aliases.${alias}`, 'must be a string');
          fragment.aliases[alias] = checkAlias(alias, target, source);
        }
        break;
      }
      case 'registries':
        throw errors.config(source, key, 'the version 1 format ([registries.search] etc.) is not supported; use version 2 ([[registry]] tables)');
      default:
        warnings.push(`${source}: ${key}: not supported by cradle, ignored`);
    }
  }
  return fragment;
}

function parseRegistry(entry: unknown, source: string, where: string, warnings: string[]): RegistryConfig {
  if (!isTable(entry)) throw errors.config(source, where, 'must be a table');
  const registry: RegistryConfig = { prefix: '', location: '', insecure: false, blocked: false, mirrorByDigestOnly: false, mirrors: [] };
  for (const [key, value] of Object.entries(entry)) {
    const name = `${where}.${key}`;
    switch (key) {
      case 'prefix': registry.prefix = str(value, source, name); break;
      case 'location': registry.location = str(value, source, name); break;
      case 'insecure': registry.insecure = bool(value, source, name); break;
      case 'blocked': registry.blocked = bool(value, source, name); break;
      case 'mirror-by-digest-only': registry.mirrorByDigestOnly = bool(value, source, name); break;
      case 'mirror': {
        if (!Array.isArray(value)) throw errors.config(source, name, 'must be an array of tables ([[registry.mirror]])');
        value.forEach((mirror, index) => registry.mirrors.push(parseMirror(mirror, source, `${name}[${index}]`, warnings)));
        break;
      }
      default:
        warnings.push(`${source}: ${name}: not supported by cradle, ignored`);
    }
  }
  if (registry.prefix === '' && registry.location === '') throw errors.config(source, where, 'needs a prefix or a location');
  if (registry.prefix === '') registry.prefix = registry.location;
  if (registry.location === '' && registry.prefix.startsWith('*.')) {
    // A wildcard prefix has no location; it only sets insecure/blocked/mirrors.
  } else if (registry.location === '') {
    registry.location = registry.prefix;
  }
  checkPrefix(registry.prefix, source, `${where}.prefix`);
  if (registry.location !== '') checkLocation(registry.location, source, `${where}.location`);
  return registry;
}

function parseMirror(entry: unknown, source: string, where: string, warnings: string[]): MirrorConfig {
  if (!isTable(entry)) throw errors.config(source, where, 'must be a table');
  const mirror: MirrorConfig = { location: '', insecure: false, pullFromMirror: 'all' };
  for (const [key, value] of Object.entries(entry)) {
    const name = `${where}.${key}`;
    switch (key) {
      case 'location': mirror.location = str(value, source, name); break;
      case 'insecure': mirror.insecure = bool(value, source, name); break;
      case 'pull-from-mirror': {
        if (value !== 'all' && value !== 'digest-only' && value !== 'tag-only') {
          throw errors.config(source, name, `must be "all", "digest-only" or "tag-only", not ${JSON.stringify(value)}`);
        }
        mirror.pullFromMirror = value;
        break;
      }
      default:
        warnings.push(`${source}: ${name}: not supported by cradle, ignored`);
    }
  }
  if (mirror.location === '') throw errors.config(source, where, 'location is required');
  checkLocation(mirror.location, source, `${where}.location`);
  return mirror;
}

/** Later fragments win: top-level keys replace, registries replace by prefix, aliases by key. */
export function mergeRegistriesConfig(base: RegistriesConfig, next: RegistriesFragment): RegistriesConfig {
  const merged: RegistriesConfig = {
    unqualifiedSearchRegistries: next.unqualifiedSearchRegistries ?? base.unqualifiedSearchRegistries,
    registries: [...base.registries],
    aliases: { ...base.aliases, ...next.aliases },
  };
  const mode = next.shortNameMode ?? base.shortNameMode;
  if (mode !== undefined) merged.shortNameMode = mode;
  for (const registry of next.registries) {
    const index = merged.registries.findIndex((existing) => existing.prefix === registry.prefix);
    if (index >= 0) merged.registries[index] = registry;
    else merged.registries.push(registry);
  }
  return merged;
}

/** The [[registry]] entry whose prefix matches the name best (longest prefix wins). */
export function findRegistry(config: RegistriesConfig, name: string): RegistryConfig | undefined {
  let best: RegistryConfig | undefined;
  let bestLength = -1;
  const host = name.split('/', 1)[0]!;
  for (const registry of config.registries) {
    const prefix = registry.prefix;
    let matches = false;
    let length = prefix.length;
    if (prefix.startsWith('*.')) {
      matches = host.endsWith(prefix.slice(1));
      // Any exact prefix beats a wildcard.
      length = 0;
    } else {
      matches = name === prefix || name.startsWith(`${prefix}/`);
    }
    if (matches && length > bestLength) {
      best = registry;
      bestLength = length;
    }
  }
  return best;
}

/** One place to try a pull from. */
export interface PullSource {
  /** host[:port] to connect to. */
  registry: string;
  /** Repository path on that registry. */
  repository: string;
  insecure: boolean;
  mirror: boolean;
}

/**
 * Where to pull a qualified reference from: eligible mirrors in order, then the
 * (possibly relocated) origin. Throws when the registry is blocked.
 */
export function pullSources(config: RegistriesConfig, ref: ImageReference): PullSource[] {
  const name = repoName(ref);
  const registry = findRegistry(config, name);
  if (registry?.blocked) throw errors.registry(ref.registry, `pulling ${name} is blocked by registries.conf (prefix ${registry.prefix})`);
  const origin = relocate(name, registry?.prefix, registry?.location);
  const sources: PullSource[] = [];
  const byDigest = ref.digest !== undefined;
  for (const mirror of registry?.mirrors ?? []) {
    const policy = registry!.mirrorByDigestOnly ? 'digest-only' : mirror.pullFromMirror;
    if (policy === 'digest-only' && !byDigest) continue;
    if (policy === 'tag-only' && byDigest) continue;
    sources.push({ ...splitName(relocate(name, registry!.prefix, mirror.location)), insecure: mirror.insecure, mirror: true });
  }
  sources.push({ ...splitName(origin), insecure: registry?.insecure ?? false, mirror: false });
  return sources;
}

function relocate(name: string, prefix: string | undefined, location: string | undefined): string {
  if (prefix === undefined || location === undefined || location === '' || prefix.startsWith('*.')) return name;
  return location + name.slice(prefix.length);
}

function splitName(name: string): { registry: string; repository: string } {
  const slash = name.indexOf('/');
  return { registry: name.slice(0, slash), repository: name.slice(slash + 1) };
}

/** How a short name is to be resolved, per short-name-mode, aliases and search registries. */
export interface ShortNameResolution {
  /** Candidates in order; a pull tries each until one succeeds. */
  candidates: ImageReference[];
  /** How the candidates were chosen, for logs and errors. */
  origin: 'qualified' | 'alias' | 'search' | 'default';
}

export function resolveName(config: RegistriesConfig, input: string, defaultRegistry: string = DEFAULT_REGISTRIES_OPTIONS.defaultShortNameRegistry): ShortNameResolution {
  const parsed = parseReference(input);
  if (!isShortName(parsed)) return { candidates: [qualify(parsed)], origin: 'qualified' };
  const alias = config.aliases[parsed.path];
  if (alias !== undefined) {
    const target = parseReference(alias);
    return { candidates: [qualify(withTagAndDigest(target, parsed))], origin: 'alias' };
  }
  const search = config.unqualifiedSearchRegistries;
  if (search.length === 0) {
    // Enforcing mode without search registries rejects short names, as
    // containers/image does; otherwise they come from the default (docker.io).
    if (config.shortNameMode === 'enforcing' || defaultRegistry === '') {
      throw errors.invalidArgument(`short name ${JSON.stringify(input)} did not resolve to an alias and no unqualified-search-registries are configured; use a fully qualified name`);
    }
    return { candidates: [qualify(parsed, defaultRegistry)], origin: 'default' };
  }
  if (config.shortNameMode === 'enforcing' && search.length > 1) {
    throw errors.invalidArgument(
      `short name ${JSON.stringify(input)} is ambiguous in short-name-mode "enforcing" (unqualified-search-registries: ${search.join(', ')}); ` +
      'use a fully qualified name or add an alias');
  }
  return { candidates: search.map((registry) => qualify(parsed, registry)), origin: 'search' };
}

function withTagAndDigest(target: ParsedReference, from: ParsedReference): ParsedReference {
  const out: ParsedReference = { path: target.path };
  if (target.domain !== undefined) out.domain = target.domain;
  if (from.tag !== undefined) out.tag = from.tag;
  else if (target.tag !== undefined) out.tag = target.tag;
  if (from.digest !== undefined) out.digest = from.digest;
  return out;
}

function checkAlias(alias: string, target: string, source: string): string {
  let parsedAlias: ParsedReference;
  let parsedTarget: ParsedReference;
  try {
    parsedAlias = parseReference(alias);
    parsedTarget = parseReference(target);
  } catch (err) {
    throw errors.config(source, `aliases.${alias}`, messageOf(err));
  }
  if (!isShortName(parsedAlias) || parsedAlias.tag !== undefined || parsedAlias.digest !== undefined) {
    throw errors.config(source, `aliases.${alias}`, 'an alias must be a short name without tag or digest');
  }
  if (isShortName(parsedTarget) || parsedTarget.digest !== undefined) {
    throw errors.config(source, `aliases.${alias}`, `target ${JSON.stringify(target)} must be fully qualified, without a digest`);
  }
  return target;
}

function checkHost(host: string, source: string, key: string): string {
  if (host === '' || host.includes('/') || /\s/.test(host)) throw errors.config(source, key, `${JSON.stringify(host)} is not a registry host`);
  return host;
}

function checkPrefix(prefix: string, source: string, key: string): void {
  if (prefix.startsWith('*.')) {
    if (prefix.includes('/')) throw errors.config(source, key, `wildcard prefix ${JSON.stringify(prefix)} may only name hosts`);
    return;
  }
  if (/[@\s]/.test(prefix) || prefix.endsWith('/')) throw errors.config(source, key, `${JSON.stringify(prefix)} is not a valid prefix`);
}

function checkLocation(location: string, source: string, key: string): void {
  if (/[@\s]/.test(location) || location.endsWith('/') || location.includes('://')) {
    throw errors.config(source, key, `${JSON.stringify(location)} is not a valid location (host[:port][/path], no scheme)`);
  }
}

function isTable(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Date);
}

function str(value: unknown, source: string, key: string): string {
  if (typeof value !== 'string') throw errors.config(source, key, 'must be a string');
  return value;
}

function bool(value: unknown, source: string, key: string): boolean {
  if (typeof value !== 'boolean') throw errors.config(source, key, 'must be true or false');
  return value;
}

function stringArray(value: unknown, source: string, key: string): string[] {
  if (!Array.isArray(value) || !value.every((item) => typeof item === 'string')) throw errors.config(source, key, 'must be an array of strings');
  return value as string[];
}

/** CA bundle and client certificate for a registry host from certs.d (containers-certs.d(5)). */
export interface HostCertificates {
  ca: Buffer[];
  cert?: Buffer;
  key?: Buffer;
}

export function readHostCertificates(certsDir: string, host: string): HostCertificates | undefined {
  const dir = path.join(certsDir, host);
  let names: string[];
  try {
    names = fs.readdirSync(dir).sort();
  } catch {
    return undefined;
  }
  const result: HostCertificates = { ca: [] };
  for (const name of names) {
    const file = path.join(dir, name);
    if (name.endsWith('.crt')) result.ca.push(fs.readFileSync(file));
    else if (name.endsWith('.cert')) {
      const keyFile = path.join(dir, `${name.slice(0, -'.cert'.length)}.key`);
      if (!fs.existsSync(keyFile)) throw errors.config(file, '', `client certificate without its key ${keyFile}`);
      result.cert = fs.readFileSync(file);
      result.key = fs.readFileSync(keyFile);
    }
  }
  return result;
}
