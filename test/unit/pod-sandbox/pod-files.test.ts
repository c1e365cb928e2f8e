import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { hostsFile, resolvConf, validateDns, validateHostname } from '../../../src/pod-sandbox/pod-files';

test('resolv.conf from the pod DNS config, else the host\'s', () => {
  assert.equal(resolvConf({ servers: ['10.96.0.10'], searches: ['ns.svc.cluster.local', 'svc.cluster.local'], options: ['ndots:5'] }),
    'search ns.svc.cluster.local svc.cluster.local\nnameserver 10.96.0.10\noptions ndots:5\n');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cradle-unit-dns-'));
  try {
    fs.writeFileSync(path.join(dir, 'resolv.conf'), 'nameserver 192.0.2.1\n');
    assert.equal(resolvConf(undefined, path.join(dir, 'resolv.conf')), 'nameserver 192.0.2.1\n');
    assert.equal(resolvConf({ servers: [], searches: [], options: [] }, path.join(dir, 'resolv.conf')), 'nameserver 192.0.2.1\n');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('bad DNS options, servers and searches are INVALID_ARGUMENT naming the field', () => {
  assert.throws(() => validateDns({ servers: ['10.0.0.1; rm -rf /'], searches: [], options: [] }), /config\.dnsConfig\.servers/);
  assert.throws(() => validateDns({ servers: [], searches: ['bad domain'], options: [] }), /config\.dnsConfig\.searches/);
  assert.throws(() => validateDns({ servers: [], searches: [], options: ['ndots:5\nnameserver 1.2.3.4'] }), /config\.dnsConfig\.options/);
  validateDns({ servers: ['10.0.0.1', 'fd00::a'], searches: ['a.b'], options: ['ndots:2', 'edns0', 'single-request-reopen'] });
});

test('hosts file names the pod\'s IPs; hostnames are validated', () => {
  const hosts = hostsFile('web-0', ['10.85.0.5', 'fd00::5']);
  assert.match(hosts, /^127\.0\.0\.1\tlocalhost$/m);
  assert.match(hosts, /^10\.85\.0\.5\tweb-0$/m);
  assert.match(hosts, /^fd00::5\tweb-0$/m);
  validateHostname('web-0.example');
  assert.throws(() => validateHostname('-bad'), /config\.hostname/);
  assert.throws(() => validateHostname('a'.repeat(254)), /config\.hostname/);
});
