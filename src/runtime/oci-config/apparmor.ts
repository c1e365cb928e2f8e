// Which AppArmor profile a container (or a pod's pause) runs under, for the spec's
// process.apparmorProfile: the CRI `apparmor` field (RuntimeDefault, Unconfined,
// Localhost) or, when absent, the deprecated `apparmor_profile` string
// ("runtime/default", "unconfined", "localhost/<name>"). Neither set means
// RuntimeDefault, as cri-o and containerd apply it (kubernetes#51746).
import { errors } from '../../common/errors';
import type { SecurityProfile__Output } from '../../generated/runtime/v1/SecurityProfile';

/** What the spec builder needs to know of the host's AppArmor (SpecRuntimeOptions.apparmor). */
export interface AppArmorHost {
  /** AppArmor is enabled on this host (module parameter and securityfs). */
  enabled: boolean;
  /** The profile RuntimeDefault means ([runtime] apparmor_profile), loaded at start; "unconfined" for none. */
  defaultProfile: string;
  /** Whether a profile of this name is loaded in the kernel now. */
  isLoaded(name: string): boolean;
}

export const UNCONFINED = 'unconfined';
const LOCALHOST_PREFIX = 'localhost/';

export type AppArmorChoice =
  | { kind: 'RuntimeDefault' }
  | { kind: 'Unconfined' }
  | { kind: 'Localhost'; name: string; field: string };

/** Interprets the CRI fields; `prefix` is the securityContext's field path. */
export function chooseAppArmor(apparmor: SecurityProfile__Output | null, deprecated: string, prefix: string): AppArmorChoice {
  if (apparmor) {
    switch (apparmor.profileType) {
      case 'RuntimeDefault':
        return { kind: 'RuntimeDefault' };
      case 'Unconfined':
        return { kind: 'Unconfined' };
      case 'Localhost': {
        const field = `${prefix}.apparmor.localhostRef`;
        // The kubelet sends the bare name; a "localhost/" prefix is tolerated (containerd and cri-o trim it).
        const name = apparmor.localhostRef.startsWith(LOCALHOST_PREFIX) ? apparmor.localhostRef.slice(LOCALHOST_PREFIX.length) : apparmor.localhostRef;
        if (name === '') throw errors.invalidField(field, 'required for a Localhost profile');
        return { kind: 'Localhost', name, field };
      }
      default:
        throw errors.invalidField(`${prefix}.apparmor.profileType`, `unknown profile type ${JSON.stringify(apparmor.profileType)}`);
    }
  }
  const p = deprecated;
  if (p === '' || p === 'runtime/default') return { kind: 'RuntimeDefault' };
  if (p === UNCONFINED) return { kind: 'Unconfined' };
  if (p.startsWith(LOCALHOST_PREFIX)) {
    const name = p.slice(LOCALHOST_PREFIX.length);
    if (name === '') throw errors.invalidField(`${prefix}.apparmorProfile`, 'localhost/ names no profile');
    return { kind: 'Localhost', name, field: `${prefix}.apparmorProfile` };
  }
  throw errors.invalidField(`${prefix}.apparmorProfile`, `unknown AppArmor profile ${JSON.stringify(p)}`);
}

/**
 * The profile for process.apparmorProfile, or undefined for none. Without AppArmor on
 * the host, RuntimeDefault and Unconfined mean nothing and a Localhost profile cannot
 * be honoured (cri-o's behaviour). A privileged container gets the default profile
 * never, a Localhost one when it names it (containerd's).
 */
export function resolveAppArmor(choice: AppArmorChoice, privileged: boolean, host: AppArmorHost | undefined): string | undefined {
  if (choice.kind === 'Unconfined') return undefined;
  if (!host?.enabled) {
    if (choice.kind === 'Localhost') {
      throw errors.invalidField(choice.field, `AppArmor profile ${JSON.stringify(choice.name)} was asked for, but AppArmor is not enabled on this node`);
    }
    return undefined;
  }
  if (choice.kind === 'RuntimeDefault') {
    return privileged || host.defaultProfile === UNCONFINED ? undefined : host.defaultProfile;
  }
  if (choice.name === UNCONFINED) return undefined;
  if (!host.isLoaded(choice.name)) {
    throw errors.invalidField(choice.field, `AppArmor profile ${JSON.stringify(choice.name)} is not loaded on this node (load it with apparmor_parser)`);
  }
  return choice.name;
}
