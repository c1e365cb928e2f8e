// Where the criu binary is, apart from the checkpoint code (which loads the archive
// writer): `cradled check` asks at the daemon's start.
import * as fs from 'node:fs';
import * as path from 'node:path';

/** The criu binary the runtime will run ($CRADLE_CRIU, else criu on PATH), or undefined when there is none. */
export function findCriu(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const explicit = env.CRADLE_CRIU;
  const candidates = explicit ? [explicit] : (env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin').split(':').filter(Boolean).map((dir) => path.join(dir, 'criu'));
  for (const candidate of candidates) {
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}
