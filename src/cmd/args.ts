// cradled's command line: a subcommand, --config/--config-dir, and one flag per
// config key (--<table>-<key>), all derived from the config schema.
import { errors } from '../common/errors';
import { TABLES, runtimeHandlerSchema, type Field, type TableName } from '../config/schema';
import { flagName, handlerFlagName, parseHandlerFlag } from '../config/load';

export type Subcommand = 'run' | 'config' | 'status' | 'check' | 'version' | 'completion' | 'help';
export const SUBCOMMANDS: Record<Subcommand, string> = {
  run: 'Run the daemon (the default).',
  config: 'Print the effective configuration as commented TOML (keys at their default commented out) and exit.',
  status: 'Ask the running daemon for its view (readiness, pods, containers, images); --json for raw JSON.',
  check: 'Check the node (conmon, runtimes, CNI, forwarding, iptables, seccomp, overlayfs, cgroups) and audit cradle\'s state for orphans; --repair removes them.',
  version: 'Print cradle\'s version, git commit and build date; --json for JSON.',
  completion: 'Print the bash or zsh completion script: completion bash|zsh.',
  help: 'Print this help and exit.',
};

export const COMPLETION_SHELLS = ['bash', 'zsh'] as const;
export type CompletionShell = (typeof COMPLETION_SHELLS)[number];

/** The flags that are not config keys; --help, the completions and the man page list these. */
export interface GlobalFlag { names: string[]; value?: 'FILE' | 'DIR'; doc: string }
export const GLOBAL_FLAGS: GlobalFlag[] = [
  { names: ['--config'], value: 'FILE', doc: 'Main config file (default /etc/cradle/cradle.toml).' },
  { names: ['--config-dir'], value: 'DIR', doc: 'Drop-in directory, *.toml in lexical order (default /etc/cradle/cradle.conf.d).' },
  { names: ['-h', '--help'], doc: 'Print this help.' },
  { names: ['-v', '--version'], doc: 'Print the version.' },
  { names: ['--json'], doc: 'With status and version: print JSON.' },
  { names: ['--repair'], doc: 'With check: remove orphaned state.' },
];

export function usageLine(): string {
  return `Usage: cradled [${Object.keys(SUBCOMMANDS).join('|')}] [flags]`;
}

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
  /** `completion <shell>` */
  shell?: CompletionShell;
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
      if (parsed.subcommand === 'completion' && subcommandSeen && parsed.shell === undefined) {
        if (!(COMPLETION_SHELLS as readonly string[]).includes(arg)) {
          throw errors.usage(`completion: unknown shell ${JSON.stringify(arg)}; shells are ${COMPLETION_SHELLS.join(', ')}`);
        }
        parsed.shell = arg as CompletionShell;
        continue;
      }
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
    const handlerKey = parseHandlerFlag(name);
    if (handlerKey) {
      parsed.settings.set(handlerKey, takeValue());
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
  if (parsed.subcommand === 'completion' && parsed.shell === undefined) {
    throw errors.usage(`completion needs a shell: ${COMPLETION_SHELLS.join(' or ')}`);
  }
  return parsed;
}

export function helpText(): string {
  const lines = [
    usageLine(),
    '',
    'cradled is a Kubernetes container runtime (CRI v1) for cluster nodes.',
    '',
    'Subcommands:',
    ...Object.entries(SUBCOMMANDS).map(([name, doc]) => `  ${name.padEnd(10)} ${doc}`),
    '',
    'Flags:',
    ...GLOBAL_FLAGS.map((f) => `  ${`${f.names.join(', ')}${f.value ? ` ${f.value}` : ''}`.padEnd(18)} ${f.doc}`),
    '',
    'Every configuration key is also a flag; flags override the config files.',
    'Lists are comma-separated; durations look like 90s, 5m, 1h30m.',
  ];
  const typeOf = (field: Field): string => (field.type === 'enum' ? field.values.join('|') : field.type);
  for (const [table, schema] of Object.entries(TABLES) as [TableName, Record<string, Field>][]) {
    lines.push('', `[${table}]`);
    for (const [key, field] of Object.entries(schema)) lines.push(`  ${flagName(table, key)} <${typeOf(field)}>`, `      ${field.doc}`);
    if (table === 'runtime') {
      lines.push('', '[runtime.runtimes.<name>] (one set per runtime handler; a new <name> adds a handler)');
      for (const [key, field] of Object.entries(runtimeHandlerSchema as unknown as Record<string, Field>)) {
        lines.push(`  ${handlerFlagName('<name>', key)} <${typeOf(field)}>`, `      ${field.doc}`);
      }
    }
  }
  return lines.join('\n') + '\n';
}

/** Every config-key flag in schema order, for the completions and the man page. */
export function configFlags(): { flag: string; table: TableName; key: string; field: Field }[] {
  const out: { flag: string; table: TableName; key: string; field: Field }[] = [];
  for (const [table, schema] of Object.entries(TABLES) as [TableName, Record<string, Field>][]) {
    for (const [key, field] of Object.entries(schema)) out.push({ flag: flagName(table, key), table, key, field });
  }
  return out;
}
