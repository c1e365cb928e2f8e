// systemd's unit naming for the systemd cgroup driver, shared by the runtime (which
// creates the scopes) and the stats readers (which find their cgroups).

const SLICE = '.slice';

/**
 * systemd's slice naming: "a-b-c.slice" lives at "/a.slice/a-b.slice/a-b-c.slice";
 * "-.slice" is the root. Same rules as runc's ExpandSlice.
 */
export function expandSlice(slice: string): string {
  if (slice.length <= SLICE.length || !slice.endsWith(SLICE)) throw new Error(`${JSON.stringify(slice)} is not a systemd slice name`);
  if (slice.includes('/')) throw new Error(`systemd slice name ${JSON.stringify(slice)} must not contain "/"`);
  const name = slice.slice(0, -SLICE.length);
  if (name === '-') return '/';
  let out = '';
  let prefix = '';
  for (const part of name.split('-')) {
    if (part === '') throw new Error(`systemd slice name ${JSON.stringify(slice)} has an empty component`);
    out += `/${prefix}${part}${SLICE}`;
    prefix += `${part}-`;
  }
  return out;
}

/** A container's unit under the systemd driver: its slice, its unit and the unit's cgroup (relative to the root). */
export interface SystemdUnit {
  slice: string;
  unit: string;
  cgroup: string;
}

/**
 * The systemd driver's cgroupsPath "slice:prefix:name" (runc's form): the scope
 * "prefix-name.scope" in the slice (system.slice when empty); a name that is itself
 * a slice is that unit, in the slice.
 */
export function systemdUnitOf(cgroupsPath: string): SystemdUnit {
  const parts = cgroupsPath.split(':');
  if (parts.length !== 3 || parts[2] === '') {
    throw new Error(`systemd cgroupsPath ${JSON.stringify(cgroupsPath)} is not of the form "slice:prefix:name"`);
  }
  const [given, prefix, name] = parts as [string, string, string];
  const slice = given === '' ? 'system.slice' : given;
  const unit = name.endsWith(SLICE) ? name : `${prefix === '' ? '' : `${prefix}-`}${name}.scope`;
  if (unit.includes('/')) throw new Error(`systemd unit name ${JSON.stringify(unit)} must not contain "/"`);
  const cgroup = `${expandSlice(slice).replace(/\/$/, '')}/${unit}`;
  return { slice, unit, cgroup };
}
