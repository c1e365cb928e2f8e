// Renders a configuration as commented TOML (`cradled config`) and the config
// reference in Markdown (docs/config.md, checked against this by a test).
import type { CradleConfig, Field, TableName } from './schema';
import { TABLES, TABLE_DOCS, runtimeHandlerSchema, defaultConfig, defaultHandler } from './schema';
import { formatDuration } from './duration';
import { flagName } from './load';

function tomlValue(field: Field, value: unknown): string {
  switch (field.type) {
    case 'duration':
      return JSON.stringify(formatDuration(value as number));
    case 'string-list':
      return `[${(value as string[]).map((v) => JSON.stringify(v)).join(', ')}]`;
    default:
      return typeof value === 'string' ? JSON.stringify(value) : String(value);
  }
}

function displayFields(schema: Record<string, Field>, values: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(values)) {
    out[key] = schema[key]?.type === 'duration' ? formatDuration(value as number) : value;
  }
  return out;
}

/**
 * The configuration as a JSON document for people (Status verbose, `crictl info`):
 * durations as the strings the config file takes ("4h", "2m"), as containerd shows
 * its durations, not the milliseconds cradle holds.
 */
export function configForDisplay(config: CradleConfig): Record<string, Record<string, unknown>> {
  const out: Record<string, Record<string, unknown>> = {};
  for (const table of Object.keys(TABLES) as TableName[]) {
    out[table] = displayFields(TABLES[table] as Record<string, Field>, config[table] as unknown as Record<string, unknown>);
  }
  const runtimes: Record<string, unknown> = {};
  for (const [name, handler] of Object.entries(config.runtime.runtimes)) {
    runtimes[name] = displayFields(runtimeHandlerSchema as unknown as Record<string, Field>, handler as unknown as Record<string, unknown>);
  }
  out.runtime!.runtimes = runtimes;
  return out;
}

function comment(text: string): string {
  return text.split('\n').map((line) => `# ${line}`).join('\n');
}

// A key at its default is written commented out (as `crio config` does), so a file
// made from this output keeps following the embedded defaults when they change;
// table headers stay active: an empty table changes nothing.
function renderFields(schema: Record<string, Field>, values: Record<string, unknown>, defaults: Record<string, unknown>): string[] {
  const lines: string[] = [];
  for (const [key, field] of Object.entries(schema)) {
    const text = tomlValue(field, values[key]);
    lines.push(comment(field.doc));
    lines.push(`${text === tomlValue(field, defaults[key]) ? '# ' : ''}${key} = ${text}`);
    lines.push('');
  }
  return lines;
}

export interface RenderOptions {
  /** Replaces the opening comment (the "Read from" lines). */
  header?: string[];
}

export function renderConfigToml(config: CradleConfig, sources: string[], options: RenderOptions = {}): string {
  const lines: string[] = [
    ...(options.header ?? [
      '# cradled configuration: the effective values; keys at their default are commented out.',
      `# Read from: ${sources.length ? sources.join(', ') : 'embedded defaults only'}`,
    ]),
    '',
  ];
  const defaults = defaultConfig();
  for (const table of Object.keys(TABLES) as TableName[]) {
    lines.push(comment(TABLE_DOCS[table]), `[${table}]`, '');
    const values = config[table] as unknown as Record<string, unknown>;
    lines.push(...renderFields(TABLES[table] as Record<string, Field>, values, defaults[table] as unknown as Record<string, unknown>));
    if (table === 'runtime') {
      for (const [name, handler] of Object.entries(config.runtime.runtimes)) {
        lines.push(comment(`Runtime handler "${name}" (RuntimeClass handler).`), `[runtime.runtimes.${name}]`, '');
        lines.push(...renderFields(runtimeHandlerSchema as unknown as Record<string, Field>, handler as unknown as Record<string, unknown>,
          defaultHandler() as unknown as Record<string, unknown>));
      }
    }
  }
  return lines.join('\n');
}

function defaultText(field: Field): string {
  return `\`${tomlValue(field, field.default)}\``;
}

export function renderConfigReference(): string {
  const out: string[] = [
    '# Configuration reference',
    '',
    'cradled reads `/etc/cradle/cradle.toml` (or `--config FILE`), then every `*.toml` in',
    '`/etc/cradle/cradle.conf.d/` (or `--config-dir DIR`) in lexical order, the last value winning, then',
    'command-line flags. Unknown tables or keys and values of the wrong type stop cradled with an error',
    'naming the file and key. `cradled config` prints the effective configuration as commented TOML.',
    'Keys marked *reloadable* change on SIGHUP without a restart; so do the `[runtime.runtimes.<name>]`',
    'tables: a new handler serves new pods at once, a removed one is refused for new pods while its pods',
    'keep running, and a changed one keeps its old settings until a restart. Other changed keys are named',
    'in the log as needing a restart.',
    '',
    'This file is generated from `src/config/schema.ts` (`npm run docs:config`); a test checks it is current.',
    '',
  ];
  for (const table of Object.keys(TABLES) as TableName[]) {
    out.push(`## [${table}]`, '', TABLE_DOCS[table], '', '| key | flag | type | default | meaning |', '| --- | --- | --- | --- | --- |');
    for (const [key, field] of Object.entries(TABLES[table] as Record<string, Field>)) {
      const type = field.type === 'enum' ? field.values.map((v) => `"${v}"`).join(' \\| ') : field.type;
      out.push(`| \`${key}\` | \`${flagName(table, key)}\` | ${type} | ${defaultText(field)} | ${field.doc}${field.reloadable ? ' *reloadable*' : ''} |`);
    }
    out.push('');
    if (table === 'runtime') {
      out.push('### [runtime.runtimes.&lt;name&gt;]', '', 'One table per runtime handler (the RuntimeClass `handler`). The default configuration has `cradle`.', '',
        '| key | type | default | meaning |', '| --- | --- | --- | --- |');
      for (const [key, field] of Object.entries(runtimeHandlerSchema as unknown as Record<string, Field>)) {
        const type = field.type === 'enum' ? field.values.map((v) => `"${v}"`).join(' \\| ') : field.type;
        out.push(`| \`${key}\` | ${type} | ${defaultText(field)} | ${field.doc} |`);
      }
      out.push('');
    }
  }
  return out.join('\n');
}

/**
 * /etc/cradle/cradle.toml as shipped (deploy/cradle.toml and the package's conffile):
 * every key commented out at its default, so the embedded defaults decide until an
 * operator uncomments one.
 */
export function renderDefaultConfigFile(): string {
  return renderConfigToml(defaultConfig(), [], {
    header: [
      '# /etc/cradle/cradle.toml: cradled\'s configuration (see cradle.toml(5), docs/config.md).',
      '# Every key is shown commented out at its embedded default; uncomment and edit to change',
      '# one, or put changes in /etc/cradle/cradle.conf.d/*.toml drop-ins (read after this file).',
      '# `cradled config` prints the effective configuration in this format.',
    ],
  });
}
