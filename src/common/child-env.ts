// The environment cradle gives every process it spawns (conmon, runtimes, CNI
// plugins, helpers). NODE_* variables are dropped: NODE_EXTRA_CA_CERTS alone costs
// ~30 ms per Node start, and debugging flags must never leak into containers' helpers.
export function cleanChildEnv(extra: Record<string, string> = {}, base: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(base)) {
    if (value === undefined) continue;
    if (key.startsWith('NODE_') || key === 'UV_THREADPOOL_SIZE') continue;
    env[key] = value;
  }
  if (!env.PATH) env.PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
  return Object.assign(env, extra);
}
