// Fault-injection hooks for cradle's own tests, read from $CRADLE_TEST_HOOKS (JSON).
// Never set in production; when unset, no hook runs and nothing is slower.
//   {"delayMs": {"Version": 1500}}   hold every Version call for 1.5 s before handling it
//   {"crashAt": ["RPC:step"]}         SIGKILL cradled at a crash point (src/common/crash-points.ts)
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '../common/logger';

export interface TestHooks {
  delayMs?: Record<string, number>;
  crashAt?: string[];
}

export function readTestHooks(env: NodeJS.ProcessEnv = process.env): TestHooks | undefined {
  const raw = env.CRADLE_TEST_HOOKS;
  if (!raw) return undefined;
  return JSON.parse(raw) as TestHooks;
}

/**
 * A CriServer beforeCall hook, or undefined when no hooks are configured. A held
 * call is logged, so a test acts once the call is in flight, not after a guess.
 */
export function beforeCallHook(hooks: TestHooks | undefined, log: Logger): ((rpc: string, signal: AbortSignal) => Promise<void>) | undefined {
  const delays = hooks?.delayMs;
  if (!delays) return undefined;
  return async (rpc, signal) => {
    const ms = delays[rpc];
    if (!ms) return;
    log.info({ rpc, ms }, 'test hook: holding the call');
    await sleep(ms, undefined, { signal }).catch(() => undefined);
  };
}
