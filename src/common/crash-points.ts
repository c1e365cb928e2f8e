// Crash injection for cradle's recovery tests: named points between the steps of
// the RPCs that create and remove things. A test arms points through
// $CRADLE_TEST_HOOKS ({"crashAt": ["RunPodSandbox:network-added"]}); reaching an
// armed point kills cradled with SIGKILL, leaving exactly what a crash there
// leaves. Unarmed (always, outside tests) a point is one Set lookup.

let armed: ReadonlySet<string> | undefined;

export function armCrashPoints(points: readonly string[] | undefined): void {
  armed = points && points.length > 0 ? new Set(points) : undefined;
}

export function crashPoint(rpc: string, step: string): void {
  if (armed?.has(`${rpc}:${step}`)) process.kill(process.pid, 'SIGKILL');
}
