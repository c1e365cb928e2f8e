// A throw-away CA and a server certificate for 127.0.0.1, made with openssl, for
// tests of registry TLS (certs.d CAs, insecure registries).
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { cleanChildEnv } from '../../src/common/child-env';

export interface TestCertificates {
  caCert: string;
  serverKey: string;
  serverCert: string;
}

export function makeTestCertificates(dir: string): TestCertificates {
  const run = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe', env: cleanChildEnv() });
  run('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=cradle-test-ca');
  run('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=127.0.0.1');
  fs.writeFileSync(path.join(dir, 'ext.cnf'), 'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n');
  run('x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.crt', '-days', '2', '-extfile', 'ext.cnf');
  const read = (name: string) => fs.readFileSync(path.join(dir, name), 'utf8');
  return { caCert: read('ca.crt'), serverKey: read('server.key'), serverCert: read('server.crt') };
}
