// The Node.js cradle runs on: the npm package node-linux-<arch> (x64 or arm64), both
// pinned to one version in package.json's optionalDependencies. The packages declare
// their cpu, so `npm ci` installs only the one for the machine it runs on.
import * as path from 'node:path';

export function pinnedNodePackage(arch: string = process.arch): string {
  return `node-linux-${arch}`;
}

/** The pinned node binary below an installation root (the directory holding node_modules). */
export function pinnedNodePath(root: string, arch: string = process.arch): string {
  return path.join(root, 'node_modules', pinnedNodePackage(arch), 'bin', 'node');
}
