// Where cradle is installed: the package root holds package.json, bin/ and proto/.
import * as fs from 'node:fs';
import * as path from 'node:path';

let root: string | undefined;

export function packageRoot(): string {
  if (root) return root;
  let dir = __dirname;
  for (;;) {
    const candidate = path.join(dir, 'package.json');
    if (fs.existsSync(candidate)) {
      const pkg = JSON.parse(fs.readFileSync(candidate, 'utf8')) as { name?: string };
      if (pkg.name === 'cradle') return (root = dir);
    }
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`cradle's package.json not found above ${__dirname}`);
    dir = parent;
  }
}

export function cradleVersion(): string {
  const pkg = JSON.parse(fs.readFileSync(path.join(packageRoot(), 'package.json'), 'utf8')) as { version: string };
  return pkg.version;
}

/** A program cradle ships in bin/ (e.g. "cradle-runtime"). */
export function shippedBinary(name: string): string {
  return path.join(packageRoot(), 'bin', name);
}
