// Loads the effective configuration: embedded defaults, then the main TOML file,
// then drop-ins in lexical order (last wins), then command-line flags. Any unknown
// key or wrong type is an error naming its source and key.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parse as parseToml } from 'smol-toml';
import { errors, messageOf } from '../common/errors';
import {
  type CradleConfig, type Field, type TableName, type RuntimeHandlerConfig,
  TABLES, defaultConfig, defaultHandler, runtimeHandlerSchema,
} from './schema';
import { parseDuration } from './duration';

export const DEFAULT_CONFIG_FILE = '/etc/cradle/cradle.toml';
export const DEFAULT_CONFIG_DIR = '/etc/cradle/cradle.conf.d';

export interface LoadOptions {
  /** Main file; when it is the default and absent, defaults are used. */
  configFile?: string;
  /** Whether configFile was given explicitly (then it must exist). */
  configFileExplicit?: boolean;
  configDir?: string;
  /** Values from the command line, keyed "table.key" or "runtime.runtimes.<name>.<key>". */
  flags?: Map<string, string>;
}

export interface LoadedConfig {
  config: CradleConfig;
  /** Files read, in order, for logs and `cradled config`. */
  sources: string[];
}

export function loadConfig(options: LoadOptions = {}): LoadedConfig {
  const config = defaultConfig();
  const sources: string[] = [];
  const configFile = options.configFile ?? DEFAULT_CONFIG_FILE;
  const configDir = options.configDir ?? DEFAULT_CONFIG_DIR;

  if (fs.existsSync(configFile)) {
    applyFile(config, configFile);
    sources.push(configFile);
  } else if (options.configFileExplicit) {
    throw errors.config(configFile, '(file)', 'config file does not exist');
  }

  for (const file of dropInFiles(configDir)) {
    applyFile(config, file);
    sources.push(file);
  }

  for (const [dotted, raw] of options.flags ?? []) {
    applyFlag(config, dotted, raw);
  }

  validateWhole(config, sources.length > 0 ? sources.join(', ') : 'defaults');
  return { config, sources };
}

export function dropInFiles(dir: string): string[] {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw errors.config(dir, '(directory)', messageOf(err));
  }
  return names.filter((n) => n.endsWith('.toml')).sort().map((n) => path.join(dir, n));
}

function applyFile(config: CradleConfig, file: string): void {
  let doc: Record<string, unknown>;
  try {
    doc = parseToml(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
  } catch (err) {
    throw tomlSyntaxError(file, err);
  }
  for (const [tableName, tableValue] of Object.entries(doc)) {
    if (!(tableName in TABLES)) {
      throw errors.config(file, tableName, `unknown table; known tables are ${Object.keys(TABLES).map((t) => `[${t}]`).join(', ')}`);
    }
    if (!isPlainTable(tableValue)) throw errors.config(file, tableName, 'expected a table');
    applyTable(config, tableName as TableName, tableValue, file);
  }
}

/** A TOML syntax error as "file:line:column: (syntax): problem", as compilers print them. */
export function tomlSyntaxError(file: string, err: unknown): Error {
  const { line, column } = err as { line?: unknown; column?: unknown };
  const where = typeof line === 'number' && typeof column === 'number' ? `${file}:${line}:${column}` : file;
  const problem = (messageOf(err).split('\n')[0] ?? '').replace(/^Invalid TOML document: /, '') || 'invalid TOML';
  return errors.config(where, '(syntax)', problem);
}

function applyTable(config: CradleConfig, table: TableName, values: Record<string, unknown>, source: string): void {
  const schema = TABLES[table] as Record<string, Field>;
  const target = config[table] as unknown as Record<string, unknown>;
  for (const [key, value] of Object.entries(values)) {
    if (table === 'runtime' && key === 'runtimes') {
      applyRuntimeHandlers(config, value, source);
      continue;
    }
    const field = schema[key];
    if (!field) throw errors.config(source, `${table}.${key}`, `unknown key; known keys are ${Object.keys(schema).join(', ')}`);
    target[key] = convertTomlValue(field, value, source, `${table}.${key}`);
  }
}

function applyRuntimeHandlers(config: CradleConfig, value: unknown, source: string): void {
  if (!isPlainTable(value)) throw errors.config(source, 'runtime.runtimes', 'expected a table of [runtime.runtimes.<name>] tables');
  const schema = runtimeHandlerSchema as unknown as Record<string, Field>;
  for (const [name, handlerValue] of Object.entries(value)) {
    const keyPath = `runtime.runtimes.${name}`;
    if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(name)) {
      throw errors.config(source, keyPath, 'a runtime handler name must be a DNS label (lower case letters, digits, "-")');
    }
    if (!isPlainTable(handlerValue)) throw errors.config(source, keyPath, 'expected a table');
    const handler = (config.runtime.runtimes[name] ?? defaultHandler()) as unknown as Record<string, unknown>;
    for (const [key, v] of Object.entries(handlerValue)) {
      const field = schema[key];
      if (!field) throw errors.config(source, `${keyPath}.${key}`, `unknown key; known keys are ${Object.keys(schema).join(', ')}`);
      handler[key] = convertTomlValue(field, v, source, `${keyPath}.${key}`);
    }
    config.runtime.runtimes[name] = handler as unknown as RuntimeHandlerConfig;
  }
}

function convertTomlValue(field: Field, value: unknown, source: string, key: string): unknown {
  const fail = (expected: string): never => {
    throw errors.config(source, key, `expected ${expected}, got ${describe(value)}`);
  };
  let converted: unknown;
  switch (field.type) {
    case 'string':
      if (typeof value !== 'string') fail('a string');
      converted = value;
      break;
    case 'enum':
      if (typeof value !== 'string' || !field.values.includes(value)) fail(`one of ${field.values.map((v) => JSON.stringify(v)).join(', ')}`);
      converted = value;
      break;
    case 'boolean':
      if (typeof value !== 'boolean') fail('a boolean (true or false)');
      converted = value;
      break;
    case 'integer': {
      const n = typeof value === 'bigint' ? Number(value) : value;
      if (typeof n !== 'number' || !Number.isInteger(n)) fail('an integer');
      converted = n;
      break;
    }
    case 'duration': {
      const ms = typeof value === 'string' ? parseDuration(value) : undefined;
      if (ms === undefined) fail('a duration string such as "90s", "5m" or "1h30m"');
      converted = ms;
      break;
    }
    case 'string-list':
      if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) fail('an array of strings');
      converted = [...(value as string[])];
      break;
  }
  checkField(field, converted, source, key);
  return converted;
}

function checkField(field: Field, value: unknown, source: string, key: string): void {
  if (field.type === 'integer') {
    const n = value as number;
    if (field.min !== undefined && n < field.min) throw errors.config(source, key, `must be at least ${field.min}, got ${n}`);
    if (field.max !== undefined && n > field.max) throw errors.config(source, key, `must be at most ${field.max}, got ${n}`);
  }
  const problem = (field.check as ((v: unknown) => string | undefined) | undefined)?.(value);
  if (problem) throw errors.config(source, key, `${problem} (got ${describe(value)})`);
}

/** Applies one command-line value given as text, e.g. ("log.level", "debug") or ("runtime.runtimes.kata.runtime_path", "/usr/bin/kata"). */
export function applyFlag(config: CradleConfig, dotted: string, raw: string): void {
  const source = 'command line';
  if (dotted.startsWith(HANDLER_KEY_PREFIX)) {
    // Handler keys are all strings; the table's own checks apply as for a file.
    const rest = dotted.slice(HANDLER_KEY_PREFIX.length);
    const dot = rest.lastIndexOf('.');
    applyRuntimeHandlers(config, { [rest.slice(0, dot)]: { [rest.slice(dot + 1)]: raw } }, source);
    return;
  }
  const [table, key] = dotted.split('.') as [TableName, string];
  const field = (TABLES[table] as Record<string, Field> | undefined)?.[key];
  if (!field) throw errors.usage(`unknown setting ${dotted}`);
  const flag = flagName(table, key);
  let value: unknown;
  switch (field.type) {
    case 'string':
    case 'enum':
    case 'duration':
      value = raw;
      break;
    case 'boolean':
      if (raw !== 'true' && raw !== 'false') throw errors.config(source, flag, `expected true or false, got ${JSON.stringify(raw)}`);
      value = raw === 'true';
      break;
    case 'integer':
      if (!/^-?\d+$/.test(raw)) throw errors.config(source, flag, `expected an integer, got ${JSON.stringify(raw)}`);
      value = Number(raw);
      break;
    case 'string-list':
      value = raw === '' ? [] : raw.split(',');
      break;
  }
  (config[table] as unknown as Record<string, unknown>)[key] = convertTomlValue(field, value, source, flag);
}

export function flagName(table: string, key: string): string {
  return `--${table}-${key.replace(/_/g, '-')}`;
}

const HANDLER_KEY_PREFIX = 'runtime.runtimes.';
const HANDLER_FLAG_PREFIX = '--runtime-runtimes-';

/** The flag of a handler table's key: --runtime-runtimes-<name>-<key>. */
export function handlerFlagName(name: string, key: string): string {
  return `${HANDLER_FLAG_PREFIX}${name}-${key.replace(/_/g, '-')}`;
}

/**
 * Reads a handler flag back into "runtime.runtimes.<name>.<key>". Handler names may
 * hold "-", so the key is matched as the flag's ending.
 */
export function parseHandlerFlag(flag: string): string | undefined {
  if (!flag.startsWith(HANDLER_FLAG_PREFIX)) return undefined;
  const rest = flag.slice(HANDLER_FLAG_PREFIX.length);
  for (const key of Object.keys(runtimeHandlerSchema)) {
    const suffix = `-${key.replace(/_/g, '-')}`;
    if (rest.endsWith(suffix) && rest.length > suffix.length) return `${HANDLER_KEY_PREFIX}${rest.slice(0, -suffix.length)}.${key}`;
  }
  return undefined;
}

function validateWhole(config: CradleConfig, source: string): void {
  if (!config.runtime.runtimes[config.runtime.default_runtime]) {
    throw errors.config(source, 'runtime.default_runtime',
      `${JSON.stringify(config.runtime.default_runtime)} is not a configured handler; configured: ${Object.keys(config.runtime.runtimes).join(', ')}`);
  }
}

function isPlainTable(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Date);
}

function describe(value: unknown): string {
  if (Array.isArray(value)) return 'an array';
  if (value instanceof Date) return 'a date';
  if (typeof value === 'string') return `the string ${JSON.stringify(value)}`;
  if (typeof value === 'object' && value !== null) return 'a table';
  return `${typeof value} ${String(value)}`;
}
