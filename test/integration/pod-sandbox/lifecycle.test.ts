// Pod sandboxes through a real cradled: pinned namespaces, a real CNI bridge
// network, pod files, the pause process, stop/remove idempotence, no leaks.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { allowInsecureRegistry, makeTempDirs, startCradled, type Cradled, type TempDirs } from '../../helpers/daemon';
import { startFixtureRegistry, type FixtureRegistry } from '../../helpers/registry';
import { pauseImage, pushImage } from '../../helpers/image-builder';
import { grpcError, type CriClient } from '../../helpers/cri-client';
import { inNetns, mountsContaining, testNetwork } from '../../helpers/pod-network';
import { removeCgroupParent } from '../../helpers/cgroup-cleanup';
import { isProcessAlive } from '../../../src/runtime/conmon/proc';
import type { PodSandboxConfig } from '../../../src/generated/runtime/v1/PodSandboxConfig';

const net = testNetwork('cradle-tps0', '10.215.0.0/24');

function podConfig(name: string, extra: Partial<PodSandboxConfig> = {}): PodSandboxConfig {
  return {
    metadata: { name, namespace: 'critest', uid: `uid-${name}`, attempt: 0 },
    hostname: name,
    logDirectory: '',
    dnsConfig: { servers: ['10.96.0.10'], searches: ['critest.svc.cluster.local'], options: ['ndots:5'] },
    labels: { app: name, suite: 'pod-sandbox' },
    linux: { cgroupParent: '/cradle-test-pods' },
    ...extra,
  };
}

describe('pod sandbox lifecycle', () => {
  let registry: FixtureRegistry;
  let dirs: TempDirs;
  let daemon: Cradled;
  let cri: CriClient;

  before(async () => {
    net.cleanup();
    registry = await startFixtureRegistry();
    const pause = await pushImage(registry, 'test/pause:3.10', pauseImage());
    dirs = makeTempDirs();
    allowInsecureRegistry(dirs, registry.host);
    net.install(dirs.cniDir);
    daemon = await startCradled({ args: ['--image-pause-image', pause.reference] }, dirs);
    cri = daemon.client();
  });

  after(async () => {
    if (cri) {
      for (const p of (await cri.runtime.ListPodSandbox({}).catch(() => ({ items: [] }))).items) {
        await cri.runtime.RemovePodSandbox({ podSandboxId: p.id }).catch(() => undefined);
      }
    }
    await daemon?.stop();
    await registry?.stop();
    net.cleanup();
    removeCgroupParent('/cradle-test-pods');
  });

  it('runs a pod with an IP on the bridge, pinned namespaces, pod files and a live pause process', async () => {
    const { podSandboxId: id } = await cri.runtime.RunPodSandbox({ config: podConfig('web') });
    const status = await cri.runtime.PodSandboxStatus({ podSandboxId: id, verbose: true });
    assert.equal(status.status!.state, 'SANDBOX_READY');
    assert.match(status.status!.network!.ip, /^10\.215\.0\.\d+$/);
    assert.equal(status.status!.metadata!.name, 'web');
    assert.equal(status.status!.labels.app, 'web');
    const info = JSON.parse(status.info.info!) as { pinnedNamespaces: { net: string; ipc: string; uts: string }; pause: { pid: number }; files: { resolvConf: string; hosts: string; hostname: string } };
    for (const kind of ['net', 'ipc', 'uts'] as const) {
      const pinnedIno = fs.statSync(info.pinnedNamespaces[kind]).ino;
      const pauseNs = fs.readlinkSync(`/proc/${info.pause.pid}/ns/${kind}`);
      assert.equal(pauseNs, `${kind}:[${pinnedIno}]`, `pause is in the pinned ${kind} namespace`);
      assert.notEqual(pauseNs, fs.readlinkSync(`/proc/self/ns/${kind}`), `pod ${kind} is not the host's`);
    }
    assert.match(inNetns(info.pinnedNamespaces.net, ['ip', '-o', 'link', 'show', 'lo']), /UP|LOOPBACK,UP/);
    assert.match(inNetns(info.pinnedNamespaces.net, ['ip', '-o', '-4', 'addr', 'show', 'eth0']), new RegExp(status.status!.network!.ip.replace(/\./g, '\\.')));
    assert.equal(inNetns(info.pinnedNamespaces.net, ['ip', 'route', 'show', 'default']).trim(), '', 'no route out of the test network');
    assert.equal(fs.readFileSync(info.files.resolvConf, 'utf8'), 'search critest.svc.cluster.local\nnameserver 10.96.0.10\noptions ndots:5\n');
    assert.equal(fs.readFileSync(info.files.hostname, 'utf8'), 'web\n');
    assert.match(fs.readFileSync(info.files.hosts, 'utf8'), new RegExp(`^${status.status!.network!.ip.replace(/\./g, '\\.')}\\tweb$`, 'm'));
    assert.equal(fs.readFileSync(`/proc/${info.pause.pid}/root/etc/hostname`, 'utf8').length >= 0, true);
    const listed = await cri.runtime.ListPodSandbox({ filter: { labelSelector: { app: 'web' } } });
    assert.deepEqual(listed.items.map((p) => p.id), [id]);
    assert.deepEqual((await cri.runtime.ListPodSandbox({ filter: { id: id.slice(0, 8) } })).items.map((p) => p.id), [id]);
    assert.deepEqual((await cri.runtime.ListPodSandbox({ filter: { state: { state: 'SANDBOX_NOTREADY' } } })).items, []);
  });

  it('two pods reach each other over the bridge', async () => {
    const a = await cri.runtime.RunPodSandbox({ config: podConfig('ping-a') });
    const b = await cri.runtime.RunPodSandbox({ config: podConfig('ping-b') });
    const infoA = JSON.parse((await cri.runtime.PodSandboxStatus({ podSandboxId: a.podSandboxId, verbose: true })).info.info!) as { pinnedNamespaces: { net: string } };
    const ipB = (await cri.runtime.PodSandboxStatus({ podSandboxId: b.podSandboxId })).status!.network!.ip;
    assert.match(inNetns(infoA.pinnedNamespaces.net, ['busybox', 'ping', '-c', '1', '-W', '2', ipB]), /1 (packets )?received/);
  });

  it('stop releases the network and the pause process, idempotently; remove leaves nothing', async () => {
    const { podSandboxId: id } = await cri.runtime.RunPodSandbox({ config: podConfig('gone') });
    const status = await cri.runtime.PodSandboxStatus({ podSandboxId: id, verbose: true });
    const ip = status.status!.network!.ip;
    const info = JSON.parse(status.info.info!) as { pause: { pid: number }; runDir: string; pinnedNamespaces: Record<string, string> };
    assert.ok(fs.existsSync(path.join(net.ipamDir, net.bridge, ip)), 'IP allocated');
    await cri.runtime.StopPodSandbox({ podSandboxId: id });
    await cri.runtime.StopPodSandbox({ podSandboxId: id });
    const stopped = await cri.runtime.PodSandboxStatus({ podSandboxId: id });
    assert.equal(stopped.status!.state, 'SANDBOX_NOTREADY');
    assert.equal(stopped.status!.network!.ip, '');
    assert.equal(isProcessAlive(info.pause.pid), false, 'pause gone');
    assert.ok(!fs.existsSync(path.join(net.ipamDir, net.bridge, ip)), 'IP released');

    await cri.runtime.RemovePodSandbox({ podSandboxId: id });
    await cri.runtime.RemovePodSandbox({ podSandboxId: id });
    await cri.runtime.StopPodSandbox({ podSandboxId: id });
    assert.deepEqual(mountsContaining(id), [], 'no mount left');
    for (const p of Object.values(info.pinnedNamespaces)) assert.ok(!fs.existsSync(p), `${p} removed`);
    assert.ok(!fs.existsSync(info.runDir));
    await assert.rejects(cri.runtime.PodSandboxStatus({ podSandboxId: id }), (err) => grpcError(err).code === grpc.status.NOT_FOUND);
  });

  it('remove of a ready pod stops it first', async () => {
    const { podSandboxId: id } = await cri.runtime.RunPodSandbox({ config: podConfig('direct-remove') });
    const info = JSON.parse((await cri.runtime.PodSandboxStatus({ podSandboxId: id, verbose: true })).info.info!) as { pause: { pid: number } };
    await cri.runtime.RemovePodSandbox({ podSandboxId: id });
    assert.equal(isProcessAlive(info.pause.pid), false);
    assert.deepEqual(mountsContaining(id), []);
  });

  it('a host-network pod skips CNI and shares the host network', async () => {
    const { podSandboxId: id } = await cri.runtime.RunPodSandbox({ config: podConfig('hostnet', { linux: { cgroupParent: '/cradle-test-pods', securityContext: { namespaceOptions: { network: 'NODE' } } } }) });
    const status = await cri.runtime.PodSandboxStatus({ podSandboxId: id, verbose: true });
    const info = JSON.parse(status.info.info!) as { pause: { pid: number }; pinnedNamespaces: Record<string, string> };
    assert.equal(fs.readlinkSync(`/proc/${info.pause.pid}/ns/net`), fs.readlinkSync('/proc/self/ns/net'));
    assert.equal(info.pinnedNamespaces.net, undefined);
    await cri.runtime.RemovePodSandbox({ podSandboxId: id });
  });

  it('the kubelet\'s retry gets the same sandbox; a different request for the name is ALREADY_EXISTS', async () => {
    const config = podConfig('retry');
    const [first, second] = await Promise.all([cri.runtime.RunPodSandbox({ config }), cri.runtime.RunPodSandbox({ config })]);
    assert.equal(first.podSandboxId, second.podSandboxId);
    await assert.rejects(cri.runtime.RunPodSandbox({ config: { ...config, labels: { changed: 'yes' } } }), (err) => {
      assert.equal(grpcError(err).code, grpc.status.ALREADY_EXISTS);
      assert.match(grpcError(err).details, new RegExp(first.podSandboxId));
      return true;
    });
    assert.equal((await cri.runtime.ListPodSandbox({ filter: { labelSelector: { app: 'retry' } } })).items.length, 1);
  });

  it('bad input is INVALID_ARGUMENT naming the field, and creates nothing', async () => {
    const before = (await cri.runtime.ListPodSandbox({})).items.length;
    const podDirs = (): string[] => (fs.existsSync(dirs.layout.podRunDirs) ? fs.readdirSync(dirs.layout.podRunDirs).sort() : []);
    const dirsBefore = podDirs();
    const cases: [PodSandboxConfig, RegExp, string?][] = [
      [{ ...podConfig('x'), metadata: { namespace: 'ns', uid: 'u' } }, /config\.metadata\.name is required/],
      [{ ...podConfig('x'), metadata: { name: 'x', uid: 'u' } }, /config\.metadata\.namespace is required/],
      [podConfig('sysctl', { linux: { sysctls: { 'net.ipv4.ip_forward': '1' }, securityContext: { namespaceOptions: { network: 'NODE' } } } }), /net\.ipv4\.ip_forward/],
      [podConfig('ports', { portMappings: [{ protocol: 'TCP', containerPort: 70000, hostPort: 8080 }] }), /containerPort/],
      [podConfig('dns', { dnsConfig: { servers: ['not an ip'] } }), /config\.dnsConfig\.servers/],
      // A pod group without a pod user (containerd refuses it; critest's container case, at pod level).
      [podConfig('rungroup', { linux: { cgroupParent: '/cradle-test-pods', securityContext: { runAsGroup: { value: '1002' } } } }), /^config\.linux\.securityContext\.runAsGroup: set without runAsUser/],
      // hostUsers: false with maps giving the pod the host's root (user-namespaces.test.ts has the rest).
      [podConfig('userns', { linux: { securityContext: { namespaceOptions: { usernsOptions: { mode: 'POD', uids: [{ hostId: 0, containerId: 0, length: 65536 }], gids: [{ hostId: 100000, containerId: 0, length: 65536 }] } } } } }), /usernsOptions\.uids\[0\]\.hostId: maps the host's root uid 0/],
      [podConfig('handler'), /unknown runtime handler "kata"/, 'kata'],
    ];
    for (const [config, pattern, handler] of cases) {
      await assert.rejects(cri.runtime.RunPodSandbox({ config, runtimeHandler: handler ?? '' }), (err) => {
        assert.equal(grpcError(err).code, grpc.status.INVALID_ARGUMENT, grpcError(err).details);
        assert.match(grpcError(err).details, pattern);
        return true;
      });
    }
    assert.equal((await cri.runtime.ListPodSandbox({})).items.length, before);
    assert.deepEqual(podDirs(), dirsBefore, 'no pod run directory was made');
    await assert.rejects(cri.runtime.RunPodSandbox({}), (err) => grpcError(err).code === grpc.status.INVALID_ARGUMENT);
    await assert.rejects(cri.runtime.PodSandboxStatus({ podSandboxId: 'does-not-exist' }), (err) => grpcError(err).code === grpc.status.NOT_FOUND);
  });

  it('a restarted cradled recovers running pods as ready', async () => {
    const { podSandboxId: id } = await cri.runtime.RunPodSandbox({ config: podConfig('survivor') });
    const info = JSON.parse((await cri.runtime.PodSandboxStatus({ podSandboxId: id, verbose: true })).info.info!) as { pause: { pid: number } };
    await daemon.stop({ keepDirs: true });
    assert.ok(isProcessAlive(info.pause.pid), 'pause survives cradled');
    daemon = await startCradled({ args: ['--image-pause-image', `${registry.host}/test/pause:3.10`] }, dirs);
    cri = daemon.client();
    const status = await cri.runtime.PodSandboxStatus({ podSandboxId: id });
    assert.equal(status.status!.state, 'SANDBOX_READY');
    assert.match(status.status!.network!.ip, /^10\.215\.0\./);
  });
});
