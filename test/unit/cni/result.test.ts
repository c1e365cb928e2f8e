import { test } from 'node:test';
import assert from 'node:assert/strict';
import { convertResult, parseResult, podIps } from '../../../src/cni/result';

const result031 = {
  cniVersion: '0.3.1',
  interfaces: [{ name: 'cni0', mac: 'aa:bb:cc:dd:ee:ff' }, { name: 'eth0', mac: '11:22:33:44:55:66', sandbox: '/run/netns/x' }],
  ips: [
    { version: '4', address: '10.22.0.5/16', gateway: '10.22.0.1', interface: 1 },
    { version: '6', address: 'fd00::5/64', interface: 1 },
    { version: '4', address: '10.22.0.1/16', interface: 0 },
  ],
  routes: [{ dst: '0.0.0.0/0', gw: '10.22.0.1' }],
  dns: { nameservers: ['10.96.0.10'], search: ['svc.cluster.local'] },
};

test('0.3.1 result converts to 1.0.0 without per-IP versions', () => {
  const out = convertResult(parseResult(result031), '1.0.0');
  assert.equal(out.cniVersion, '1.0.0');
  assert.deepEqual(out.ips, [
    { address: '10.22.0.5/16', gateway: '10.22.0.1', interface: 1 },
    { address: 'fd00::5/64', interface: 1 },
    { address: '10.22.0.1/16', interface: 0 },
  ]);
  assert.deepEqual(out.routes, [{ dst: '0.0.0.0/0', gw: '10.22.0.1' }]);
  assert.deepEqual(out.dns, { nameservers: ['10.96.0.10'], search: ['svc.cluster.local'] });
});

test('1.0.0 result converts to 0.4.0 with per-IP versions derived from the address', () => {
  const one = convertResult(parseResult(result031), '1.0.0');
  const back = convertResult(parseResult(one), '0.4.0');
  assert.equal(back.cniVersion, '0.4.0');
  assert.deepEqual((back.ips as Array<{ version: string }>).map((ip) => ip.version), ['4', '6', '4']);
});

test('pod IPs skip host-side interfaces and carry family, gateway and interface', () => {
  assert.deepEqual(podIps(parseResult(result031)), [
    { ip: '10.22.0.5', cidr: '10.22.0.5/16', family: 'ipv4', gateway: '10.22.0.1', interface: 'eth0' },
    { ip: 'fd00::5', cidr: 'fd00::5/64', family: 'ipv6', interface: 'eth0' },
  ]);
});

test('legacy 0.2.0 results are readable', () => {
  const parsed = parseResult({ cniVersion: '0.2.0', ip4: { ip: '10.0.0.9/24', gateway: '10.0.0.1', routes: [{ dst: '0.0.0.0/0' }] } });
  assert.deepEqual(podIps(parsed), [{ ip: '10.0.0.9', cidr: '10.0.0.9/24', family: 'ipv4', gateway: '10.0.0.1' }]);
  assert.equal((convertResult(parsed, '0.3.1').ips as unknown[]).length, 1);
});

test('malformed results are rejected with what is wrong', () => {
  assert.throws(() => parseResult('x'), /not a JSON object/);
  assert.throws(() => parseResult({ cniVersion: '1.0.0', ips: [{ address: '10.0.0.1' }] }), /ips\[0\]\.address must be an address in CIDR form/);
  assert.throws(() => parseResult({ cniVersion: '1.0.0', interfaces: [{}] }), /interfaces\[0\]\.name missing/);
});
