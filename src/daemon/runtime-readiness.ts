// RuntimeReady: cradle can start containers when conmon and the default runtime
// handler's binary are present and executable.
import * as fs from 'node:fs';
import type { CradleConfig } from '../config/schema';
import type { Readiness, ReadinessSource } from '../cri-server/services';
import { shippedBinary } from '../common/package-info';

export function runtimeBinaryPath(config: CradleConfig, handler: string): string | undefined {
  const h = config.runtime.runtimes[handler];
  if (!h) return undefined;
  return h.runtime_path || shippedBinary('cradle-runtime');
}

/** A regular file this process may execute. */
export function executable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

export class RuntimeReadiness implements ReadinessSource {
  constructor(private readonly config: () => CradleConfig) {}

  status(): Readiness {
    const config = this.config();
    const handler = config.runtime.default_runtime;
    const monitor = config.runtime.runtimes[handler]?.monitor_path || config.runtime.conmon;
    if (!executable(monitor)) {
      return { ready: false, reason: 'ConmonNotFound', message: `container monitor ${monitor} is missing or not executable (install the conmon package)` };
    }
    const binary = runtimeBinaryPath(config, handler);
    if (!binary || !executable(binary)) {
      return { ready: false, reason: 'RuntimeBinaryNotFound', message: `runtime handler ${JSON.stringify(handler)}: binary ${binary ?? '(none)'} is missing or not executable` };
    }
    return { ready: true, reason: '', message: '' };
  }
}
