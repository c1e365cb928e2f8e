// Shared inputs for the spec builder tests. CRI messages go through the real gRPC
// (de)serializer so they have exactly the shape cradled's handlers receive
// (camelCase, int64 as strings, enums as strings, defaults filled).
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadCriProto } from '../../../src/cri-server/proto';
import type { ContainerConfig, ContainerConfig__Output } from '../../../src/generated/runtime/v1/ContainerConfig';
import type { PodSandboxConfig, PodSandboxConfig__Output } from '../../../src/generated/runtime/v1/PodSandboxConfig';
import type { ContainerSpecInput, PauseSpecInput, SandboxFacts, SpecRuntimeOptions } from '../../../src/runtime/oci-config/inputs';
import type { HostDevice, HostProbe, MountPropagationMode } from '../../../src/runtime/oci-config/host-probe';
import { ALL_CAPABILITIES, CRIO_DEFAULT_CAPABILITIES } from '../../../src/runtime/oci-config/capabilities';
import { DEFAULT_SECCOMP_PROFILE } from '../../../src/runtime/oci-config/seccomp-default';

export function decodeRequest(config: ContainerConfig, sandboxConfig: PodSandboxConfig = {}): {
  config: ContainerConfig__Output; sandboxConfig: PodSandboxConfig__Output;
} {
  const method = loadCriProto().runtime.v1.RuntimeService.service.CreateContainer;
  const wire = method.requestSerialize({ podSandboxId: 'sb', config, sandboxConfig });
  const out = method.requestDeserialize(wire);
  return { config: out.config!, sandboxConfig: out.sandboxConfig! };
}

export function podSandboxConfig(config: PodSandboxConfig = {}): PodSandboxConfig__Output {
  const method = loadCriProto().runtime.v1.RuntimeService.service.RunPodSandbox;
  return method.requestDeserialize(method.requestSerialize({ config, runtimeHandler: '' })).config!;
}

export const runtimeOptions = (over: Partial<SpecRuntimeOptions> = {}): SpecRuntimeOptions => ({
  cgroupDriver: 'cgroupfs',
  cgroupVersion: 1,
  defaultCapabilities: CRIO_DEFAULT_CAPABILITIES,
  allCapabilities: ALL_CAPABILITIES,
  defaultUlimits: [{ type: 'RLIMIT_NOFILE', soft: 1048576, hard: 1048576 }],
  minOomScoreAdj: -999,
  seccompProfileRoot: '/var/lib/kubelet/seccomp',
  seccompUseDefaultWhenEmpty: false,
  defaultSeccompProfile: DEFAULT_SECCOMP_PROFILE,
  swapAccounting: true,
  supportsRecursiveReadOnly: true,
  arch: 'x64',
  ...over,
});

export const sandboxFacts = (over: Partial<SandboxFacts> = {}): SandboxFacts => ({
  id: 'sandbox0123',
  namespaces: {
    network: { path: '/run/cradle/ns/net/sandbox0123' },
    ipc: { path: '/run/cradle/ns/ipc/sandbox0123' },
    uts: { path: '/run/cradle/ns/uts/sandbox0123' },
    pid: { path: '/proc/4242/ns/pid' },
  },
  hostname: 'web-0',
  resolvConfPath: '/var/lib/cradle/sandboxes/sandbox0123/resolv.conf',
  hostsPath: '/var/lib/cradle/sandboxes/sandbox0123/hosts',
  hostnamePath: '/var/lib/cradle/sandboxes/sandbox0123/hostname',
  shmPath: '/run/cradle/sandboxes/sandbox0123/shm',
  cgroupParent: '/kubepods/besteffort/pod1234',
  ...over,
});

export interface FakeProbeState {
  devices: Record<string, HostDevice | 'directory'>;
  /** host path → real path; missing = does not exist. Identity when `allExist`. */
  realPaths: Record<string, string>;
  allExist: boolean;
  propagation: Record<string, MountPropagationMode>;
}

export function fakeProbe(state: Partial<FakeProbeState> = {}): HostProbe {
  const s: FakeProbeState = { devices: {}, realPaths: {}, allExist: true, propagation: {}, ...state };
  return {
    device: (p) => s.devices[p] ?? null,
    devicesUnder: (dir) => Object.values(s.devices).filter((d): d is HostDevice => d !== 'directory' && d.path.startsWith(dir + '/')),
    realPath: (p) => s.realPaths[p] ?? (s.allExist ? p : null),
    mountPropagation: (p) => {
      const best = Object.keys(s.propagation).filter((mp) => mp === '/' || p === mp || p.startsWith(mp + '/')).sort((a, b) => b.length - a.length)[0];
      return best ? s.propagation[best]! : 'private';
    },
  };
}

/** A throwaway rootfs with the given files (path → content; a value {symlink} makes a symlink). */
export function makeRootfs(files: Record<string, string | { symlink: string }> = {}): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'cradle-test-spec-'));
  for (const [p, content] of Object.entries(files)) {
    const full = path.join(root, p);
    fs.mkdirSync(path.dirname(full), { recursive: true });
    if (typeof content === 'string') fs.writeFileSync(full, content);
    else fs.symlinkSync(content.symlink, full);
  }
  return root;
}

export const PASSWD = [
  'root:x:0:0:root:/root:/bin/sh',
  'daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin',
  'www:x:33:33:www-data:/var/www:/usr/sbin/nologin',
  'alice:x:1000:1000:Alice:/home/alice:/bin/sh',
  'bob:x:1001:100::/home/bob:/bin/sh',
  'nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin',
  '',
].join('\n');

export const GROUP = [
  'root:x:0:',
  'daemon:x:1:',
  'users:x:100:alice',
  'www:x:33:',
  'alice:x:1000:',
  'audio:x:29:alice,bob',
  'video:x:44:bob',
  'nogroup:x:65534:',
  '',
].join('\n');

export interface InputOptions {
  config?: ContainerConfig;
  sandboxConfig?: PodSandboxConfig;
  image?: ContainerSpecInput['imageConfig'];
  sandbox?: Partial<SandboxFacts>;
  runtime?: Partial<SpecRuntimeOptions>;
  probe?: HostProbe;
  rootfs?: string;
  targetPidNamespace?: string;
}

/** A complete ContainerSpecInput with sensible defaults; `rootfs` defaults to an empty dir. */
export function containerInput(o: InputOptions = {}): ContainerSpecInput {
  const { config, sandboxConfig } = decodeRequest(
    { metadata: { name: 'app', attempt: 1 }, image: { image: 'docker.io/library/busybox:latest' }, ...o.config },
    { metadata: { name: 'web-0', namespace: 'default', uid: 'uid-1', attempt: 0 }, ...o.sandboxConfig },
  );
  return {
    config,
    sandboxConfig,
    imageConfig: o.image ?? { Cmd: ['/bin/sh'], Env: ['PATH=/usr/bin:/bin'] },
    sandbox: sandboxFacts(o.sandbox),
    rootfs: o.rootfs ?? emptyRootfs(),
    container: {
      id: 'c0ffee',
      logPath: '/var/log/pods/default_web-0_uid-1/app/1.log',
      imageRef: 'sha256:abc',
      imageVolumeRoot: '/var/lib/cradle/containers/c0ffee/volumes',
      ...(o.targetPidNamespace ? { targetPidNamespace: o.targetPidNamespace } : {}),
    },
    runtime: runtimeOptions(o.runtime),
    probe: o.probe ?? fakeProbe(),
  };
}

let sharedEmpty: string | undefined;
function emptyRootfs(): string {
  if (!sharedEmpty || !fs.existsSync(sharedEmpty)) {
    sharedEmpty = makeRootfs({ 'etc/passwd': PASSWD, 'etc/group': GROUP });
    process.on('exit', () => fs.rmSync(sharedEmpty!, { recursive: true, force: true }));
  }
  return sharedEmpty;
}

export function pauseInput(over: Partial<PauseSpecInput> = {}, sandboxConfig: PodSandboxConfig = {}): PauseSpecInput {
  return {
    sandboxConfig: podSandboxConfig({ metadata: { name: 'web-0', namespace: 'default', uid: 'uid-1', attempt: 0 }, logDirectory: '/var/log/pods/x', ...sandboxConfig }),
    imageConfig: { User: '65535:65535', Entrypoint: ['/pause'] },
    sandboxId: 'sandbox0123',
    rootfs: over.rootfs ?? emptyRootfs(),
    namespaces: { network: { path: '/run/cradle/ns/net/x' }, ipc: 'new', uts: 'new', pid: 'new' },
    hostname: 'web-0',
    shmPath: '/run/cradle/sandboxes/sandbox0123/shm',
    cgroupParent: '/kubepods/besteffort/pod1234',
    runtime: runtimeOptions(),
    ...over,
  };
}
