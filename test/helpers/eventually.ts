// Waiting for something a test caused, with a deadline wide enough for a loaded
// machine: a deadline is a bound on a hang, never a measurement.

/** Resolves once check() holds; throws naming `what` after timeoutMs. */
export async function eventually(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
