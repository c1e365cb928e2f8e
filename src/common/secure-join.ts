// Resolves a path inside a root as if the root were "/" (securejoin semantics):
// symlinks are followed but absolute targets and ".." are clamped to the root, so
// the result never names anything outside it. Mount code then re-checks the
// opened directory through /proc/self/fd (a rename race could still move it).
import * as fs from 'node:fs';
import * as path from 'node:path';

const MAX_SYMLINKS = 255;

export function secureJoin(root: string, unsafePath: string): string {
  const parts = unsafePath.split('/').filter((p) => p !== '' && p !== '.');
  const resolved: string[] = [];
  let links = 0;
  while (parts.length > 0) {
    const part = parts.shift()!;
    if (part === '..') {
      resolved.pop();
      continue;
    }
    const candidate = path.join(root, ...resolved, part);
    let st: fs.Stats | undefined;
    try {
      st = fs.lstatSync(candidate);
    } catch {
      st = undefined;
    }
    if (st?.isSymbolicLink()) {
      if (++links > MAX_SYMLINKS) throw new Error(`${unsafePath}: too many levels of symbolic links`);
      const target = fs.readlinkSync(candidate);
      if (target.startsWith('/')) resolved.length = 0;
      parts.unshift(...target.split('/').filter((p) => p !== '' && p !== '.'));
      continue;
    }
    resolved.push(part);
  }
  return path.join(root, ...resolved);
}

/** True when `p` is `root` or below it (plain string check on resolved paths). */
export function isWithin(root: string, p: string): boolean {
  const rel = path.relative(root, p);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}
