import { test } from 'node:test';
import assert from 'node:assert/strict';
import { toCriSandboxStatus } from '../../../src/cri-server/rpc/sandbox-convert';
import type { SandboxRecord } from '../../../src/pod-sandbox/sandbox';

const record = (extra: Partial<SandboxRecord>): SandboxRecord => ({
  id: 'p', reservedName: 'n', fingerprint: 'f', state: 'SANDBOX_READY', createdAt: '1', runtimeHandler: '',
  config: { metadata: { name: 'n', namespace: 'ns', uid: 'u', attempt: 0 }, labels: {}, annotations: {} } as unknown as SandboxRecord['config'],
  runDir: '/r', hostNetwork: false, hostIpc: false, pidMode: 'POD', pinned: {}, hostname: 'n',
  files: { resolvConf: '', hosts: '', hostname: '', shm: '' }, ips: [], pause: undefined, pauseChainIds: [], pauseImageRef: '', networkUp: false,
  ...extra,
});

test('PodSandboxStatus reports the user namespace the pod runs in', () => {
  const maps = [{ containerId: 0, hostId: 65536, length: 65536 }];
  const own = toCriSandboxStatus(record({ userns: { uids: maps, gids: maps } })).linux!.namespaces!.options!.usernsOptions;
  assert.deepEqual(own, { mode: 'POD', uids: maps, gids: maps });
  assert.deepEqual(toCriSandboxStatus(record({})).linux!.namespaces!.options!.usernsOptions, { mode: 'NODE', uids: [], gids: [] });
});
