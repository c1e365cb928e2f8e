// CDI (Container Device Interface) devices for CreateContainer: the names a container
// asks for, resolved against the node's spec directories and applied to its OCI spec.
import { errors } from '../../common/errors';
import type { BuiltSpec } from '../oci-config/built-spec';
import { applyCdiEdits, CdiEditError } from './edits';
import { CdiResolveError, requestedCdiDevices, resolveCdiDevices, scanCdiSpecDirs } from './registry';

export { CDI_ANNOTATION_PREFIX, scanCdiSpecDirs } from './registry';
export { CDI_VERSIONS, CDI_CURRENT_VERSION } from './spec-file';

/**
 * Injects the devices named by ContainerConfig.CDI_devices and cdi.k8s.io/ annotations
 * into the spec. Returns the device names injected. A device no spec defines, a name
 * that is not a qualified CDI name, or an edit that cannot be made is INVALID_ARGUMENT.
 */
export function injectCdiDevices(spec: BuiltSpec, fromConfig: readonly string[], annotations: Record<string, string>, specDirs: readonly string[]): string[] {
  try {
    const names = requestedCdiDevices(fromConfig, annotations);
    if (names.length === 0) return [];
    applyCdiEdits(spec, resolveCdiDevices(scanCdiSpecDirs(specDirs), names));
    return names;
  } catch (err) {
    if (err instanceof CdiResolveError || err instanceof CdiEditError) throw errors.cdi(err.message);
    throw err;
  }
}
