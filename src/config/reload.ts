// What a SIGHUP reload may change: the keys marked reloadable in the schema and the
// runtime handler tables take the new values; every other changed key keeps its
// running value and is reported as needing a restart.
import type { CradleConfig, Field, TableName } from './schema';
import { TABLES } from './schema';

export interface ConfigReload {
  /** The configuration to run with: reloadable keys from `next`, the rest from `running`. */
  config: CradleConfig;
  /** Changed keys applied now ("table.key"). */
  applied: string[];
  /** Changed keys that keep their running value until a restart. */
  needRestart: string[];
}

export function planReload(running: CradleConfig, next: CradleConfig): ConfigReload {
  const config = structuredClone(running);
  const applied: string[] = [];
  const needRestart: string[] = [];
  for (const table of Object.keys(TABLES) as TableName[]) {
    const schema = TABLES[table] as Record<string, Field>;
    const from = running[table] as unknown as Record<string, unknown>;
    const to = next[table] as unknown as Record<string, unknown>;
    for (const key of Object.keys(schema)) {
      if (JSON.stringify(from[key]) === JSON.stringify(to[key])) continue;
      if (schema[key]!.reloadable) {
        (config[table] as unknown as Record<string, unknown>)[key] = structuredClone(to[key]);
        applied.push(`${table}.${key}`);
      } else {
        needRestart.push(`${table}.${key}`);
      }
    }
  }
  // Handler tables are taken whole; RuntimeHandlers.reload decides what each change means.
  if (JSON.stringify(running.runtime.runtimes) !== JSON.stringify(next.runtime.runtimes)) {
    config.runtime.runtimes = structuredClone(next.runtime.runtimes);
    applied.push('runtime.runtimes');
  }
  return { config, applied, needRestart };
}
