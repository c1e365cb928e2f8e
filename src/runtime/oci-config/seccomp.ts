// Which seccomp profile a container gets: the CRI `seccomp` field (RuntimeDefault,
// Unconfined, Localhost) or, when absent, the deprecated `seccomp_profile_path`
// ("runtime/default", "docker/default", "unconfined", "localhost/<path>"). Neither set
// means unconfined, as the CRI says and containerd and cri-o do, unless the node opts
// into the default profile for it ([runtime] seccomp_use_default_when_empty, cri-o's).
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { errors } from '../../common/errors';
import type { SecurityProfile__Output } from '../../generated/runtime/v1/SecurityProfile';
import type { OciSeccomp } from '../../common/oci-spec';
import { DEFAULT_SECCOMP_PROFILE } from './seccomp-default';
import { resolveSeccompProfile, validateSeccompProfile, type SeccompProfile } from './seccomp-profile';

export type SeccompChoice =
  | { kind: 'RuntimeDefault' }
  | { kind: 'Unconfined' }
  | { kind: 'Localhost'; ref: string; field: string };

/**
 * Interprets the CRI fields; `prefix` is the securityContext's field path.
 * `useDefaultWhenEmpty` turns "no profile at all" into RuntimeDefault instead of Unconfined.
 */
export function chooseSeccomp(
  seccomp: SecurityProfile__Output | null,
  seccompProfilePath: string,
  prefix: string,
  useDefaultWhenEmpty: boolean,
): SeccompChoice {
  if (seccomp) {
    switch (seccomp.profileType) {
      case 'RuntimeDefault':
        return { kind: 'RuntimeDefault' };
      case 'Unconfined':
        return { kind: 'Unconfined' };
      case 'Localhost':
        if (seccomp.localhostRef === '') throw errors.invalidField(`${prefix}.seccomp.localhostRef`, 'required for a Localhost profile');
        return { kind: 'Localhost', ref: seccomp.localhostRef, field: `${prefix}.seccomp.localhostRef` };
      default:
        throw errors.invalidField(`${prefix}.seccomp.profileType`, `unknown profile type ${JSON.stringify(seccomp.profileType)}`);
    }
  }
  const p = seccompProfilePath;
  if (p === '') return useDefaultWhenEmpty ? { kind: 'RuntimeDefault' } : { kind: 'Unconfined' };
  if (p === 'runtime/default' || p === 'docker/default') return { kind: 'RuntimeDefault' };
  if (p === 'unconfined') return { kind: 'Unconfined' };
  if (p.startsWith('localhost/')) {
    const ref = p.slice('localhost/'.length);
    if (ref === '') throw errors.invalidField(`${prefix}.seccompProfilePath`, 'localhost/ names no file');
    return { kind: 'Localhost', ref, field: `${prefix}.seccompProfilePath` };
  }
  throw errors.invalidField(`${prefix}.seccompProfilePath`, `unknown seccomp profile ${JSON.stringify(p)}`);
}

/**
 * Host path of a Localhost profile. kubelet sends absolute paths (it joins its own
 * seccomp root); those are used as given, as cri-o and containerd do. A relative
 * reference is taken under the profile root and may not climb out of it.
 */
export function localhostProfilePath(ref: string, root: string, field: string): string {
  if (path.isAbsolute(ref)) return path.normalize(ref);
  const full = path.resolve(root, ref);
  const rel = path.relative(path.resolve(root), full);
  if (rel === '' || rel.startsWith('..') || path.isAbsolute(rel)) {
    throw errors.invalidField(field, `${JSON.stringify(ref)} is outside the seccomp profile root ${root}`);
  }
  return full;
}

/** Reads and validates a Localhost profile file. */
export function loadLocalhostProfile(file: string, field: string): SeccompProfile {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw errors.invalidField(field, `cannot read seccomp profile ${file}: ${code === 'ENOENT' ? 'no such file' : (err as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw errors.invalidField(field, `seccomp profile ${file} is not valid JSON: ${(err as Error).message}`);
  }
  const problem = validateSeccompProfile(parsed);
  if (problem) throw errors.invalidField(field, `seccomp profile ${file} is invalid: ${problem}`);
  return parsed as SeccompProfile;
}

export interface SeccompBuildOptions {
  privileged: boolean;
  /** The container's bounding capabilities (conditional rules of the profile depend on them). */
  capabilities: readonly string[];
  profileRoot: string;
  /** What RuntimeDefault means (default: the built-in profile). */
  defaultProfile?: SeccompProfile;
  arch?: NodeJS.Architecture;
  kernel?: string;
}

/** The OCI seccomp section, or undefined for no filter (Unconfined or privileged). */
export function buildSeccomp(choice: SeccompChoice, opts: SeccompBuildOptions): OciSeccomp | undefined {
  if (opts.privileged || choice.kind === 'Unconfined') return undefined;
  const profile = choice.kind === 'RuntimeDefault'
    ? opts.defaultProfile ?? DEFAULT_SECCOMP_PROFILE
    : loadLocalhostProfile(localhostProfilePath(choice.ref, opts.profileRoot, choice.field), choice.field);
  return resolveSeccompProfile(profile, {
    capabilities: opts.capabilities,
    arch: opts.arch ?? process.arch,
    kernel: opts.kernel ?? os.release(),
  });
}
