// Node's on-disk compile cache (V8 code cache of every module loaded), for the
// daemon and the runtime program. Only in a root-owned directory nobody else can
// write: a poisoned cache would be code execution as root.
import * as fs from 'node:fs';

export function enableCompileCache(dir: string): void {
  const mod = require('node:module') as { enableCompileCache?: (dir: string) => unknown };
  if (!mod.enableCompileCache || process.getuid?.() !== 0) return;
  try {
    fs.mkdirSync(dir, { mode: 0o700 });
  } catch {
    // exists
  }
  try {
    const st = fs.lstatSync(dir);
    if (!st.isDirectory() || st.uid !== 0 || (st.mode & 0o077) !== 0) return;
  } catch {
    return;
  }
  mod.enableCompileCache(dir);
}
