// RuntimeConfig: tells the kubelet which cgroup driver cradle uses.
import type { UnaryRpc } from '../handler';
import { cgroupDriverFor } from '../../runtime/cgroup-driver';
import type { CradleServices } from '../services';
import type { RuntimeConfigRequest__Output } from '../../generated/runtime/v1/RuntimeConfigRequest';
import type { RuntimeConfigResponse } from '../../generated/runtime/v1/RuntimeConfigResponse';

export const runtimeConfig = (services: CradleServices): UnaryRpc<RuntimeConfigRequest__Output, RuntimeConfigResponse> =>
  async () => ({
    linux: { cgroupDriver: cgroupDriverFor(services.config().runtime.cgroup_manager) === 'systemd' ? 'SYSTEMD' : 'CGROUPFS' },
  });
