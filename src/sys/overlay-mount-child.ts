// Child of mountOverlayFs's fallback: started with the layer root as its working
// directory, it mounts an overlay whose lowerdir= paths are relative to it (the
// kernel resolves them against the caller's cwd). Reads {target, options} as JSON
// on stdin; a failure is one line on stderr and exit status 1.
import * as fs from 'node:fs';
import { mount } from './libc';

try {
  const { target, options } = JSON.parse(fs.readFileSync(0, 'utf8')) as { target: string; options: string };
  mount('overlay', target, 'overlay', 0, options);
} catch (err) {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
}
