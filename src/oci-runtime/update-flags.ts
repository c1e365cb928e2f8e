// `update`: resources from --resources (a LinuxResources JSON file, "-" = stdin)
// overridden by runc's individual flags.
import * as fs from 'node:fs';
import type { OciResources } from '../common/oci-spec';

export function resourcesFromFlags(flags: Map<string, string | true>): OciResources {
  const get = (n: string): string | undefined => {
    const v = flags.get(n);
    return typeof v === 'string' ? v : undefined;
  };
  let r: OciResources = {};
  const file = get('resources') ?? get('r');
  if (file !== undefined) {
    const text = fs.readFileSync(file === '-' ? 0 : file, 'utf8');
    try {
      r = JSON.parse(text) as OciResources;
    } catch (err) {
      throw new Error(`--resources: invalid JSON: ${(err as Error).message}`);
    }
  }
  const num = (n: string): number | undefined => {
    const v = get(n);
    if (v === undefined) return undefined;
    const parsed = parseSize(v);
    if (parsed === undefined) throw new Error(`--${n}: invalid value ${JSON.stringify(v)}`);
    return parsed;
  };
  const memory = { ...r.memory };
  const cpu = { ...r.cpu };
  const set = <T extends object, K extends keyof T>(obj: T, key: K, value: T[K] | undefined): void => {
    if (value !== undefined) obj[key] = value;
  };
  set(memory, 'limit', num('memory'));
  set(memory, 'reservation', num('memory-reservation'));
  set(memory, 'swap', num('memory-swap'));
  set(cpu, 'shares', num('cpu-shares'));
  set(cpu, 'quota', num('cpu-quota'));
  set(cpu, 'period', num('cpu-period'));
  set(cpu, 'cpus', get('cpuset-cpus'));
  set(cpu, 'mems', get('cpuset-mems'));
  if (Object.keys(memory).length) r.memory = memory;
  if (Object.keys(cpu).length) r.cpu = cpu;
  const pids = num('pids-limit');
  if (pids !== undefined) r.pids = { limit: pids };
  const blkio = num('blkio-weight');
  if (blkio !== undefined) r.blockIO = { weight: blkio };
  return r;
}

/** "512m", "1g", "1024", "-1". */
export function parseSize(v: string): number | undefined {
  const m = /^(-?\d+)([kmg]?)b?$/i.exec(v.trim());
  if (!m) return undefined;
  const mult = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[m[2]!.toLowerCase() as '' | 'k' | 'm' | 'g'];
  return Number(m[1]) * mult;
}
