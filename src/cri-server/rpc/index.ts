// Every implemented RPC, by its proto name. Each lives in rpc/<kebab-case-name>.ts,
// loaded at the RPC's first call: the daemon's start loads none of them.
// RPCs missing here answer UNIMPLEMENTED (see server.ts).
import type { ImageRpcs, RequestContext, RuntimeRpcs } from '../handler';
import type { CradleServices } from '../services';

/** An RPC implementation made (its module loaded) at its first call. */
function lazy<F extends (ctx: RequestContext, request: never) => unknown>(make: () => F): F {
  let impl: F | undefined;
  return ((ctx: RequestContext, request: never) => (impl ??= make())(ctx, request)) as F;
}

export function runtimeRpcs(services: CradleServices): Partial<RuntimeRpcs> {
  return {
    Version: lazy(() => (require('./version') as typeof import('./version')).version(services)),
    Status: lazy(() => (require('./status') as typeof import('./status')).status(services)),
    RuntimeConfig: lazy(() => (require('./runtime-config') as typeof import('./runtime-config')).runtimeConfig(services)),
    UpdateRuntimeConfig: lazy(() => (require('./update-runtime-config') as typeof import('./update-runtime-config')).updateRuntimeConfig(services)),
    RunPodSandbox: lazy(() => (require('./run-pod-sandbox') as typeof import('./run-pod-sandbox')).runPodSandbox(services)),
    StopPodSandbox: lazy(() => (require('./stop-pod-sandbox') as typeof import('./stop-pod-sandbox')).stopPodSandbox(services)),
    RemovePodSandbox: lazy(() => (require('./remove-pod-sandbox') as typeof import('./remove-pod-sandbox')).removePodSandbox(services)),
    PodSandboxStatus: lazy(() => (require('./pod-sandbox-status') as typeof import('./pod-sandbox-status')).podSandboxStatus(services)),
    ListPodSandbox: lazy(() => (require('./list-pod-sandbox') as typeof import('./list-pod-sandbox')).listPodSandbox(services)),
    StreamPodSandboxes: lazy(() => (require('./stream-pod-sandboxes') as typeof import('./stream-pod-sandboxes')).streamPodSandboxes(services)),
    Exec: lazy(() => (require('./exec') as typeof import('./exec')).exec(services)),
    CheckpointContainer: lazy(() => (require('./checkpoint-container') as typeof import('./checkpoint-container')).checkpointContainer(services)),
    ContainerStats: lazy(() => (require('./container-stats') as typeof import('./container-stats')).containerStats(services)),
    ListContainerStats: lazy(() => (require('./list-container-stats') as typeof import('./list-container-stats')).listContainerStats(services)),
    StreamContainerStats: lazy(() => (require('./stream-container-stats') as typeof import('./stream-container-stats')).streamContainerStats(services)),
    PodSandboxStats: lazy(() => (require('./pod-sandbox-stats') as typeof import('./pod-sandbox-stats')).podSandboxStats(services)),
    ListPodSandboxStats: lazy(() => (require('./list-pod-sandbox-stats') as typeof import('./list-pod-sandbox-stats')).listPodSandboxStats(services)),
    StreamPodSandboxStats: lazy(() => (require('./stream-pod-sandbox-stats') as typeof import('./stream-pod-sandbox-stats')).streamPodSandboxStats(services)),
    ListMetricDescriptors: lazy(() => (require('./list-metric-descriptors') as typeof import('./list-metric-descriptors')).listMetricDescriptors(services)),
    ListPodSandboxMetrics: lazy(() => (require('./list-pod-sandbox-metrics') as typeof import('./list-pod-sandbox-metrics')).listPodSandboxMetrics(services)),
    StreamPodSandboxMetrics: lazy(() => (require('./stream-pod-sandbox-metrics') as typeof import('./stream-pod-sandbox-metrics')).streamPodSandboxMetrics(services)),
    UpdatePodSandboxResources: lazy(() => (require('./update-pod-sandbox-resources') as typeof import('./update-pod-sandbox-resources')).updatePodSandboxResources(services)),
    Attach: lazy(() => (require('./attach') as typeof import('./attach')).attach(services)),
    PortForward: lazy(() => (require('./port-forward') as typeof import('./port-forward')).portForward(services)),
    CreateContainer: lazy(() => (require('./create-container') as typeof import('./create-container')).createContainer(services)),
    StartContainer: lazy(() => (require('./start-container') as typeof import('./start-container')).startContainer(services)),
    StopContainer: lazy(() => (require('./stop-container') as typeof import('./stop-container')).stopContainer(services)),
    RemoveContainer: lazy(() => (require('./remove-container') as typeof import('./remove-container')).removeContainer(services)),
    ContainerStatus: lazy(() => (require('./container-status') as typeof import('./container-status')).containerStatus(services)),
    ListContainers: lazy(() => (require('./list-containers') as typeof import('./list-containers')).listContainers(services)),
    StreamContainers: lazy(() => (require('./stream-containers') as typeof import('./stream-containers')).streamContainers(services)),
    UpdateContainerResources: lazy(() => (require('./update-container-resources') as typeof import('./update-container-resources')).updateContainerResources(services)),
    ReopenContainerLog: lazy(() => (require('./reopen-container-log') as typeof import('./reopen-container-log')).reopenContainerLog(services)),
    ExecSync: lazy(() => (require('./exec-sync') as typeof import('./exec-sync')).execSync(services)),
    GetContainerEvents: lazy(() => (require('./get-container-events') as typeof import('./get-container-events')).getContainerEvents(services)),
  };
}

export function imageRpcs(services: CradleServices): Partial<ImageRpcs> {
  return {
    PullImage: lazy(() => (require('./pull-image') as typeof import('./pull-image')).pullImage(services)),
    ListImages: lazy(() => (require('./list-images') as typeof import('./list-images')).listImages(services)),
    StreamImages: lazy(() => (require('./stream-images') as typeof import('./stream-images')).streamImages(services)),
    ImageStatus: lazy(() => (require('./image-status') as typeof import('./image-status')).imageStatus(services)),
    RemoveImage: lazy(() => (require('./remove-image') as typeof import('./remove-image')).removeImage(services)),
    ImageFsInfo: lazy(() => (require('./image-fs-info') as typeof import('./image-fs-info')).imageFsInfo(services)),
  };
}
