// A repo layout holding a copy of the native launcher (<dir>/<name>/dist/bin/cradle-runtime)
// and, where the launcher looks for Node, a shell script: tests see through it whether a
// command reached the Node CLI.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { REPO_ROOT } from './daemon';
import { pinnedNodePath } from '../../src/common/pinned-node';

/** Returns the launcher copy and the root of the layout; `node` is the script body after `#!/bin/sh`. */
export function launcherRepo(dir: string, name: string, node: string): { bin: string; root: string } {
  const root = path.join(dir, name);
  const bin = path.join(root, 'dist', 'bin', 'cradle-runtime');
  const nodePath = pinnedNodePath(root);
  fs.mkdirSync(path.dirname(bin), { recursive: true });
  fs.mkdirSync(path.dirname(nodePath), { recursive: true });
  fs.copyFileSync(path.join(REPO_ROOT, 'dist', 'bin', 'cradle-runtime'), bin);
  fs.chmodSync(bin, 0o755);
  fs.writeFileSync(nodePath, `#!/bin/sh\n${node}\n`, { mode: 0o755 });
  return { bin, root };
}
