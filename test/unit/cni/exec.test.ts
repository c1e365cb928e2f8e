import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseNetworkConfig } from '../../../src/cni/config';
import { CniPluginError, buildPluginConfig, execPlugin, filterCapabilities, formatCniArgs, pluginEnv, pluginFailure } from '../../../src/cni/exec';
import { errors } from '../../../src/common/errors';
import { readCalls, writeFakePlugins } from './fake-plugin';

const network = parseNetworkConfig('/d/n.conflist', JSON.stringify({
  cniVersion: '1.0.0', name: 'net1', plugins: [
    { type: 'bridge', capabilities: { ipRanges: true } },
    { type: 'portmap', capabilities: { portMappings: true }, runtimeConfig: { keep: 1 } },
    { type: 'tuning' },
  ],
}));
const caps = {
  portMappings: [{ hostPort: 8080, containerPort: 80, protocol: 'tcp' }],
  ipRanges: [[{ subnet: '10.9.0.0/24' }]],
  bandwidth: { ingressRate: 1000 },
  cgroupPath: '/kubepods/pod1',
};

test('runtimeConfig carries only the capabilities a plugin declares', () => {
  assert.deepEqual(filterCapabilities(network.plugins[0]!, caps), { ipRanges: [[{ subnet: '10.9.0.0/24' }]] });
  assert.deepEqual(filterCapabilities(network.plugins[1]!, caps), { portMappings: caps.portMappings });
  assert.deepEqual(filterCapabilities(network.plugins[2]!, caps), {});
});

test('plugin stdin gets the list name and version, prevResult and filtered runtimeConfig', () => {
  const prevResult = { cniVersion: '1.0.0', ips: [] };
  const stdin = buildPluginConfig(network, network.plugins[1]!, { prevResult, capabilityArgs: caps });
  assert.deepEqual(stdin, {
    type: 'portmap', capabilities: { portMappings: true }, name: 'net1', cniVersion: '1.0.0', prevResult,
    runtimeConfig: { keep: 1, portMappings: caps.portMappings },
  });
  const plain = buildPluginConfig(network, network.plugins[2]!, { capabilityArgs: caps });
  assert.equal('runtimeConfig' in plain, false);
  assert.equal('prevResult' in plain, false);
});

test('CNI_ARGS are joined with ";" and separators inside values are refused', () => {
  assert.equal(formatCniArgs([['IgnoreUnknown', '1'], ['K8S_POD_NAME', 'web-0']]), 'IgnoreUnknown=1;K8S_POD_NAME=web-0');
  assert.throws(() => formatCniArgs([['K8S_POD_NAME', 'a;b=c']]), /contains ';' or '='/);
});

test('a plugin error JSON becomes a catalogue error naming plugin, verb, network, code, msg and details', () => {
  const err = pluginFailure({ plugin: 'bridge', command: 'ADD', network: 'net1' }, 'exited with status 1',
    JSON.stringify({ cniVersion: '1.0.0', code: 7, msg: 'invalid bridge name', details: 'name too long' }), 'ignored');
  assert.ok(err instanceof CniPluginError);
  assert.ok(errors.cniPlugin.is(err));
  assert.equal(err.cniCode, 7);
  assert.equal(err.cniMsg, 'invalid bridge name');
  assert.equal(err.cniDetails, 'name too long');
  assert.equal(err.plugin, 'bridge');
  assert.equal(err.message, 'CNI plugin bridge failed ADD on network "net1": invalid bridge name: name too long (CNI error code 7: invalid network config)');
  const text = pluginFailure({ plugin: 'x', command: 'DEL', network: 'n' }, 'exited with status 2', 'not json', 'panic: boom\n');
  assert.equal(text.cniCode, 0);
  assert.equal(text.message, 'CNI plugin x failed DEL on network "n": exited with status 2: panic: boom');
});

test('execPlugin passes the CNI environment and stdin, and never NODE_* variables', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cradle-test-cni-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  writeFakePlugins(dir, ['fake']);
  const log = path.join(dir, 'log');
  process.env.NODE_CRADLE_TEST_LEAK = '1';
  t.after(() => { delete process.env.NODE_CRADLE_TEST_LEAK; });
  const out = await execPlugin({
    pluginPath: path.join(dir, 'fake'), plugin: 'fake', network: 'n', command: 'ADD', timeoutMs: 10_000,
    env: pluginEnv('ADD', ['/a', '/b'], { containerId: 'c1', netns: '/run/netns/x', ifName: 'eth0', args: [['K', 'V']], capabilityArgs: {} }),
    stdin: { cniVersion: '1.0.0', name: 'n', type: 'fake', fakeLog: log },
  }) as { ips: Array<{ address: string }> };
  assert.equal(out.ips[0]!.address, '10.1.2.3/24');
  const [call] = readCalls(log);
  assert.deepEqual(call!.env, { CNI_COMMAND: 'ADD', CNI_CONTAINERID: 'c1', CNI_NETNS: '/run/netns/x', CNI_IFNAME: 'eth0', CNI_ARGS: 'K=V', CNI_PATH: '/a:/b' });
  assert.deepEqual(call!.nodeEnv, []);
});

test('execPlugin kills a plugin past its timeout, and rejects garbage output', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cradle-test-cni-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  writeFakePlugins(dir, ['fake']);
  const base = { pluginPath: path.join(dir, 'fake'), plugin: 'fake', network: 'n', env: pluginEnv('ADD', [dir]) };
  await assert.rejects(execPlugin({ ...base, command: 'ADD', timeoutMs: 300, stdin: { cniVersion: '1.0.0', fake: { ADD: { sleepMs: 20_000 } } } }),
    (err: unknown) => errors.cniTimeout.is(err) && /did not finish within 300 ms and was killed/.test((err as Error).message));
  await assert.rejects(execPlugin({ ...base, command: 'ADD', timeoutMs: 10_000, stdin: { cniVersion: '1.0.0', fake: { ADD: { raw: '<html>' } } } }),
    (err: unknown) => errors.cniPlugin.is(err) && /invalid JSON output: <html>/.test((err as Error).message));
  await assert.rejects(execPlugin({ ...base, pluginPath: path.join(dir, 'missing'), command: 'ADD', timeoutMs: 1000, stdin: {} }),
    (err: unknown) => errors.cniPluginNotFound.is(err));
  const ac = new AbortController();
  const running = execPlugin({ ...base, command: 'ADD', timeoutMs: 10_000, signal: ac.signal, stdin: { cniVersion: '1.0.0', fake: { ADD: { sleepMs: 20_000 } } } });
  setTimeout(() => ac.abort(), 100);
  await assert.rejects(running, (err: unknown) => errors.cancelled.is(err));
});
