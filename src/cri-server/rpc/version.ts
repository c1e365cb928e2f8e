// Version: runtime name, runtime version and CRI API version.
import type { UnaryRpc } from '../handler';
import type { CradleServices } from '../services';
import type { VersionRequest__Output } from '../../generated/runtime/v1/VersionRequest';
import type { VersionResponse } from '../../generated/runtime/v1/VersionResponse';

/** The version of the kubelet runtime API this server speaks (cri-o and containerd answer "0.1.0"). */
export const KUBELET_API_VERSION = '0.1.0';
export const RUNTIME_NAME = 'cradle';
export const RUNTIME_API_VERSION = 'v1';

export const version = (services: CradleServices): UnaryRpc<VersionRequest__Output, VersionResponse> =>
  async () => ({
    version: KUBELET_API_VERSION,
    runtimeName: RUNTIME_NAME,
    runtimeVersion: services.version,
    runtimeApiVersion: RUNTIME_API_VERSION,
  });
