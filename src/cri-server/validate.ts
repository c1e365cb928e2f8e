// Request validation helpers: a missing required field is INVALID_ARGUMENT naming
// the field by its proto path (e.g. "config.metadata.name").
import * as net from 'node:net';
import { errors } from '../common/errors';

export function requireValue<T>(value: T | null | undefined, field: string): T {
  if (value === null || value === undefined) throw errors.missingField(field);
  return value;
}

export function requireString(value: string | null | undefined, field: string): string {
  if (typeof value !== 'string' || value === '') throw errors.missingField(field);
  return value;
}

/** "10.0.0.0/24" or "fd00::/64"; returns a problem or undefined. */
export function cidrProblem(cidr: string): string | undefined {
  const slash = cidr.indexOf('/');
  if (slash < 0) return `${JSON.stringify(cidr)} is not a CIDR (address/prefix)`;
  const address = cidr.slice(0, slash);
  const prefixText = cidr.slice(slash + 1);
  const family = net.isIP(address);
  if (family === 0) return `${JSON.stringify(cidr)}: ${JSON.stringify(address)} is not an IP address`;
  const max = family === 4 ? 32 : 128;
  if (!/^\d{1,3}$/.test(prefixText) || Number(prefixText) > max) return `${JSON.stringify(cidr)}: prefix must be 0..${max}`;
  return undefined;
}
