// cradled's command line: a subcommand, --config/--config-dir, and one flag per
// config key (--<table>-<key>), all derived from the config schema.
import { errors } from '../common/errors';
import { TABLES, type Field, type TableName } from '../config/schema';
import { flagName } from '../config/load';

export type Subcommand = 'run' | 'config' | 'status' | 'check' | 'version' | 'help';
export const SUBCOMMANDS: Record<Subcommand, string> = {
  run: 'Run the daemon (the default).',
  config: 'Print the effective configuration as commented TOML and exit.',
  status: 'Ask the running daemon for its view (readiness, pods, containers, images); --json for raw JSON.',
  check: 'Check the node (conmon, runtimes, CNI, overlayfs, cgroups) and audit cradle\'s state for orphans; --repair removes them.',
  version: 'Print cradle\'s version and exit.',
  help: 'Print this help and exit.',
};

export interface ParsedArgs {
  subcommand: Subcommand;
  configFile?: string;
  configDir?: string;
  /** "table.key" → raw text. */
  settings: Map<string, string>;
  /** `status --json` */
  json: boolean;
  /** `check --repair` */
  repair: boolean;
}

interface FlagSpec {
  dotted: string;
  field: Field;
}

function flagTable(): Map<string, FlagSpec> {
  const flags = new Map<string, FlagSpec>();
  for (const [table, schema] of Object.entries(TABLES) as [TableName, Record<string, Field>][]) {
    for (const [key, field] of Object.entries(schema)) {
      flags.set(flagName(table, key), { dotted: `${table}.${key}`, field });
    }
  }
  return flags;
}

export function parseArgs(argv: string[]): ParsedArgs {
  const flags = flagTable();
  const parsed: ParsedArgs = { subcommand: 'run', settings: new Map(), json: false, repair: false };
  let subcommandSeen = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--help' || arg === '-h') {
      parsed.subcommand = 'help';
      continue;
    }
    if (arg === '--version' || arg === '-v') {
      parsed.subcommand = 'version';
      continue;
    }
    if (arg === '--repair') {
      parsed.repair = true;
      continue;
    }
    if (arg === '--json') {
      parsed.json = true;
      continue;
    }
    if (!arg.startsWith('--')) {
      if (subcommandSeen || !(arg in SUBCOMMANDS)) {
        throw errors.usage(`unexpected argument ${JSON.stringify(arg)}; subcommands are ${Object.keys(SUBCOMMANDS).join(', ')}`);
      }
      parsed.subcommand = arg as Subcommand;
      subcommandSeen = true;
      continue;
    }
    const eq = arg.indexOf('=');
    const name = eq >= 0 ? arg.slice(0, eq) : arg;
    let value: string | undefined = eq >= 0 ? arg.slice(eq + 1) : undefined;
    const takeValue = (): string => {
      if (value !== undefined) return value;
      const next = argv[i + 1];
      if (next === undefined || next.startsWith('--')) throw errors.usage(`${name} needs a value`);
      i++;
      return next;
    };
    if (name === '--config') {
      parsed.configFile = takeValue();
      continue;
    }
    if (name === '--config-dir') {
      parsed.configDir = takeValue();
      continue;
    }
    const spec = flags.get(name);
    if (!spec) throw errors.usage(`unknown flag ${name} (see cradled --help)`);
    if (spec.field.type === 'boolean' && value === undefined) {
      const next = argv[i + 1];
      value = next === 'true' || next === 'false' ? (i++, next) : 'true';
    }
    parsed.settings.set(spec.dotted, takeValue());
  }
  return parsed;
}

export function helpText(): string {
  const lines = [
    'Usage: cradled [run|config|version|help] [flags]',
    '',
    'cradled is a Kubernetes container runtime (CRI v1) for cluster nodes.',
    '',
    'Subcommands:',
    ...Object.entries(SUBCOMMANDS).map(([name, doc]) => `  ${name.padEnd(10)} ${doc}`),
    '',
    'Flags:',
    '  --config FILE       Main config file (default /etc/cradle/cradle.toml).',
    '  --config-dir DIR    Drop-in directory, *.toml in lexical order (default /etc/cradle/cradle.conf.d).',
    '  -h, --help          Print this help.',
    '  -v, --version       Print the version.',
    '  --json              With status: print JSON.',
    '  --repair            With check: remove orphaned state.',
    '',
    'Every configuration key is also a flag; flags override the config files.',
    'Lists are comma-separated; durations look like 90s, 5m, 1h30m.',
  ];
  for (const [table, schema] of Object.entries(TABLES) as [TableName, Record<string, Field>][]) {
    lines.push('', `[${table}]`);
    for (const [key, field] of Object.entries(schema)) {
      const type = field.type === 'enum' ? field.values.join('|') : field.type;
      lines.push(`  ${flagName(table, key)} <${type}>`, `      ${field.doc}`);
    }
  }
  return lines.join('\n') + '\n';
}
