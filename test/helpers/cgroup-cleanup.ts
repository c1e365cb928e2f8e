// Removes a cgroup parent that tests' pods used, in every hierarchy (the one
// hierarchy of cgroup v2, one per controller on v1), once nothing runs in it:
// absent or still busy ones are left alone.
import * as fs from 'node:fs';
import * as path from 'node:path';

const ROOT = '/sys/fs/cgroup';

/** `parent` relative to each hierarchy's root ("cradle-test-pods"); `children` removes its (empty) child cgroups first. */
export function removeCgroupParent(parent: string, options: { children?: boolean } = {}): void {
  const hierarchies = fs.existsSync(path.join(ROOT, 'cgroup.controllers'))
    ? [ROOT]
    : fs.readdirSync(ROOT, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => path.join(ROOT, e.name));
  for (const hierarchy of hierarchies) {
    const dir = path.join(hierarchy, parent);
    try {
      if (options.children) {
        for (const child of fs.readdirSync(dir, { withFileTypes: true })) if (child.isDirectory()) fs.rmdirSync(path.join(dir, child.name));
      }
      fs.rmdirSync(dir);
    } catch {
      // absent, or still holding processes
    }
  }
}
