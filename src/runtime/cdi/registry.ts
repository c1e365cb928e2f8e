// The CDI devices the node's spec directories define. Read anew for each container
// that asks for a device (a driver may write its spec just before), so there is no
// cache to go stale. As the reference library: later directories take precedence
// over earlier ones; the same device in two files of one directory is a conflict
// and neither definition is used; a file that does not load is skipped and its
// error reported with any device it leaves unresolved.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseCdiSpec, parseQualifiedName, CdiSpecError, type CdiContainerEdits, type CdiSpec } from './spec-file';

/** Container annotations whose values list CDI devices (the device-plugin API's route). */
export const CDI_ANNOTATION_PREFIX = 'cdi.k8s.io/';

interface DefinedDevice {
  spec: CdiSpec;
  file: string;
  priority: number;
  edits: CdiContainerEdits;
}

export interface CdiRegistry {
  devices: Map<string, DefinedDevice>;
  /** Problems by file: specs that did not load, devices in conflict. */
  errors: Map<string, string[]>;
}

export class CdiResolveError extends Error {}

function specFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(d, { withFileTypes: true });
    } catch {
      return; // a missing directory defines nothing
    }
    for (const e of entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
      const full = path.join(d, e.name);
      if (e.isDirectory()) walk(full);
      else if (e.name.endsWith('.json') || e.name.endsWith('.yaml')) out.push(full);
    }
  };
  walk(dir);
  return out;
}

export function scanCdiSpecDirs(dirs: readonly string[]): CdiRegistry {
  const devices = new Map<string, DefinedDevice>();
  const errors = new Map<string, string[]>();
  const conflicts = new Set<string>();
  const report = (file: string, problem: string) => errors.set(file, [...(errors.get(file) ?? []), problem]);
  dirs.forEach((dir, priority) => {
    for (const file of specFiles(dir)) {
      let spec: CdiSpec;
      try {
        spec = parseCdiSpec(fs.readFileSync(file, 'utf8'), file);
      } catch (err) {
        report(file, err instanceof CdiSpecError ? err.message : `${file}: ${(err as Error).message}`);
        continue;
      }
      for (const device of spec.devices) {
        const name = `${spec.kind}=${device.name}`;
        const other = devices.get(name);
        if (other && other.priority === priority) {
          const problem = `conflicting device ${JSON.stringify(name)} (specs ${other.file}, ${file})`;
          report(file, problem);
          report(other.file, problem);
          conflicts.add(name);
          continue;
        }
        devices.set(name, { spec, file, priority, edits: device.containerEdits });
      }
    }
  });
  for (const name of conflicts) devices.delete(name);
  return { devices, errors };
}

/**
 * The devices a container asks for: ContainerConfig.CDI_devices, then those named by
 * cdi.k8s.io/ annotations (sorted by key, so the order does not depend on a map),
 * each once.
 */
export function requestedCdiDevices(fromConfig: readonly string[], annotations: Record<string, string>): string[] {
  const names: string[] = [...fromConfig];
  for (const key of Object.keys(annotations).filter((k) => k.startsWith(CDI_ANNOTATION_PREFIX)).sort()) {
    names.push(...annotations[key]!.split(',').map((n) => n.trim()));
  }
  for (const name of names) {
    const parsed = parseQualifiedName(name);
    if (typeof parsed === 'string') throw new CdiResolveError(parsed);
  }
  return [...new Set(names)];
}

/**
 * The edits for the devices, in the reference's order: for each device, its spec's
 * own edits the first time the spec is met, then the device's.
 */
export function resolveCdiDevices(registry: CdiRegistry, names: readonly string[]): CdiContainerEdits[] {
  const unresolved = names.filter((n) => !registry.devices.has(n));
  if (unresolved.length > 0) {
    const known = [...new Set([...registry.errors.values()].flat())];
    throw new CdiResolveError(`unresolvable CDI devices ${unresolved.join(', ')}`
      + (known.length > 0 ? ` (spec problems: ${known.join('; ')})` : ''));
  }
  const edits: CdiContainerEdits[] = [];
  const specsSeen = new Set<CdiSpec>();
  for (const name of names) {
    const device = registry.devices.get(name)!;
    if (!specsSeen.has(device.spec)) {
      specsSeen.add(device.spec);
      if (device.spec.containerEdits) edits.push(device.spec.containerEdits);
    }
    edits.push(device.edits);
  }
  return edits;
}
