// Killing an exec's process group: everything in the group goes, and the wait ends
// once all of it is reaped; pids that are not a group an exec leads are ignored.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { killProcessGroup, waitProcessGroupGone } from '../../../src/runtime/process-group';

test('killProcessGroup ends the leader and what it started in its group', async () => {
  // The shell leads its own group (detached: setsid) and forks two sleeps into it.
  const leader = spawn('/bin/sh', ['-c', 'sleep 100 & sleep 101; echo not reached'], { detached: true, stdio: 'ignore' });
  const exited = new Promise<NodeJS.Signals | null>((resolve) => leader.once('exit', (_code, signal) => resolve(signal)));
  const pgid = leader.pid!;
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(await waitProcessGroupGone(pgid, 50), false, 'the group is there before the kill');
  killProcessGroup(pgid);
  assert.equal(await exited, 'SIGKILL');
  // The sleeps were orphaned to this host's init, which may reap them only every few seconds.
  assert.equal(await waitProcessGroupGone(pgid, 10_000), true, 'every member gone and reaped');
});

test('pids that cannot be an exec\'s group are left alone', async () => {
  // kill(-0) would reach this test's own group, kill(-1) every process.
  for (const pid of [0, 1, -5, Number.NaN]) {
    killProcessGroup(pid);
    assert.equal(await waitProcessGroupGone(pid, 0), true);
  }
});
