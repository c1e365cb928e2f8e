// kubectl 1.20 from Debian's kubernetes-client package: a real SPDY client
// (newer kubectl moved to WebSocket). The machine's own /usr/bin/kubectl is a
// different package and stays untouched: the .deb is unpacked into a cache dir.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import path from 'node:path';

export const KUBECTL_CACHE = '/var/cache/cradle-test/kubernetes-client';
const BINARY = path.join(KUBECTL_CACHE, 'root/usr/bin/kubectl');

/** Path of kubectl 1.20, fetching and unpacking the package if needed; undefined when unavailable. */
export function kubectl120(): string | undefined {
  if (existsSync(BINARY)) return BINARY;
  try {
    mkdirSync(KUBECTL_CACHE, { recursive: true });
    let deb = readdirSync(KUBECTL_CACHE).find((f) => f.startsWith('kubernetes-client_') && f.endsWith('.deb'));
    if (!deb) {
      execFileSync('apt-get', ['download', 'kubernetes-client'], { cwd: KUBECTL_CACHE, stdio: 'ignore' });
      deb = readdirSync(KUBECTL_CACHE).find((f) => f.startsWith('kubernetes-client_') && f.endsWith('.deb'));
    }
    if (!deb) return undefined;
    execFileSync('dpkg', ['-x', path.join(KUBECTL_CACHE, deb), path.join(KUBECTL_CACHE, 'root')], { stdio: 'ignore' });
    return existsSync(BINARY) ? BINARY : undefined;
  } catch {
    return undefined;
  }
}
