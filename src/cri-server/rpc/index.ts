// Every implemented RPC, by its proto name. Each lives in rpc/<kebab-case-name>.ts.
// RPCs missing here answer UNIMPLEMENTED (see server.ts).
import type { ImageRpcs, RuntimeRpcs } from '../handler';
import type { CradleServices } from '../services';
import { version } from './version';
import { status } from './status';
import { runtimeConfig } from './runtime-config';
import { updateRuntimeConfig } from './update-runtime-config';
import { pullImage } from './pull-image';
import { exec } from './exec';
import { checkpointContainer } from './checkpoint-container';
import { containerStats } from './container-stats';
import { listContainerStats } from './list-container-stats';
import { streamContainerStats } from './stream-container-stats';
import { podSandboxStats } from './pod-sandbox-stats';
import { listPodSandboxStats } from './list-pod-sandbox-stats';
import { streamPodSandboxStats } from './stream-pod-sandbox-stats';
import { listMetricDescriptors } from './list-metric-descriptors';
import { listPodSandboxMetrics } from './list-pod-sandbox-metrics';
import { streamPodSandboxMetrics } from './stream-pod-sandbox-metrics';
import { updatePodSandboxResources } from './update-pod-sandbox-resources';
import { attach } from './attach';
import { portForward } from './port-forward';
import { createContainer } from './create-container';
import { startContainer } from './start-container';
import { stopContainer } from './stop-container';
import { removeContainer } from './remove-container';
import { containerStatus } from './container-status';
import { listContainers } from './list-containers';
import { streamContainers } from './stream-containers';
import { updateContainerResources } from './update-container-resources';
import { reopenContainerLog } from './reopen-container-log';
import { execSync } from './exec-sync';
import { getContainerEvents } from './get-container-events';
import { runPodSandbox } from './run-pod-sandbox';
import { stopPodSandbox } from './stop-pod-sandbox';
import { removePodSandbox } from './remove-pod-sandbox';
import { podSandboxStatus } from './pod-sandbox-status';
import { listPodSandbox } from './list-pod-sandbox';
import { streamPodSandboxes } from './stream-pod-sandboxes';
import { listImages } from './list-images';
import { streamImages } from './stream-images';
import { imageStatus } from './image-status';
import { removeImage } from './remove-image';
import { imageFsInfo } from './image-fs-info';

export function runtimeRpcs(services: CradleServices): Partial<RuntimeRpcs> {
  return {
    Version: version(services),
    Status: status(services),
    RuntimeConfig: runtimeConfig(services),
    UpdateRuntimeConfig: updateRuntimeConfig(services),
    RunPodSandbox: runPodSandbox(services),
    StopPodSandbox: stopPodSandbox(services),
    RemovePodSandbox: removePodSandbox(services),
    PodSandboxStatus: podSandboxStatus(services),
    ListPodSandbox: listPodSandbox(services),
    StreamPodSandboxes: streamPodSandboxes(services),
    Exec: exec(services),
    CheckpointContainer: checkpointContainer(services),
    ContainerStats: containerStats(services),
    ListContainerStats: listContainerStats(services),
    StreamContainerStats: streamContainerStats(services),
    PodSandboxStats: podSandboxStats(services),
    ListPodSandboxStats: listPodSandboxStats(services),
    StreamPodSandboxStats: streamPodSandboxStats(services),
    ListMetricDescriptors: listMetricDescriptors(services),
    ListPodSandboxMetrics: listPodSandboxMetrics(services),
    StreamPodSandboxMetrics: streamPodSandboxMetrics(services),
    UpdatePodSandboxResources: updatePodSandboxResources(services),
    Attach: attach(services),
    PortForward: portForward(services),
    CreateContainer: createContainer(services),
    StartContainer: startContainer(services),
    StopContainer: stopContainer(services),
    RemoveContainer: removeContainer(services),
    ContainerStatus: containerStatus(services),
    ListContainers: listContainers(services),
    StreamContainers: streamContainers(services),
    UpdateContainerResources: updateContainerResources(services),
    ReopenContainerLog: reopenContainerLog(services),
    ExecSync: execSync(services),
    GetContainerEvents: getContainerEvents(services),
  };
}

export function imageRpcs(services: CradleServices): Partial<ImageRpcs> {
  return {
    PullImage: pullImage(services),
    ListImages: listImages(services),
    StreamImages: streamImages(services),
    ImageStatus: imageStatus(services),
    RemoveImage: removeImage(services),
    ImageFsInfo: imageFsInfo(services),
  };
}
