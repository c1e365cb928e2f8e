// OOM kills under the systemd driver when systemd removed the container's scope
// (and its memory.events) first: told by the pod slice's hierarchical counters, on a
// fake v2 tree. The real race is the VM lane's (test/vm/smoke.test.ts, hog container).
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { OomLedger, oomKillsIn } from '../../../src/runtime/oom-ledger';

function events(dir: string, oomKills: number): void {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'memory.events'), `low 0\nhigh 0\nmax 12\noom ${oomKills}\noom_kill ${oomKills}\noom_group_kill 0\n`);
}

test('a scope systemd removed: the slice\'s unexplained kills go to the next exit by SIGKILL, once', (t) => {
  const pod = fs.mkdtempSync(path.join(os.tmpdir(), 'cradle-unit-oom-'));
  t.after(() => fs.rmSync(pod, { recursive: true, force: true }));
  const scope = (id: string) => path.join(pod, `cradle-${id}.scope`);
  const ledger = new OomLedger();
  events(pod, 0);
  events(scope('pause'), 0);
  assert.equal(oomKillsIn(scope('gone')), undefined);

  // The scope is still there: its own count answers.
  events(scope('a'), 1);
  events(pod, 1);
  assert.equal(ledger.killedAtExit('p', scope('a'), true), true);
  // ...and when systemd removes it later, its kill is not given again (a stop by SIGKILL).
  fs.rmSync(scope('a'), { recursive: true });
  assert.equal(ledger.killedAtExit('p', scope('b'), true), false);

  // Killed, and the scope removed before the exit is recorded: the slice tells.
  events(pod, 2);
  assert.equal(ledger.killedAtExit('p', scope('c'), false), false, 'an exit not by SIGKILL takes no one else\'s kill');
  assert.equal(ledger.killedAtExit('p', scope('d'), true), true);
  assert.equal(ledger.killedAtExit('p', scope('e'), true), false, 'given once');

  // Kills in a live sibling's scope are that sibling's.
  events(scope('f'), 1);
  events(pod, 3);
  assert.equal(ledger.killedAtExit('p', scope('g'), true), false);

  ledger.forget('p');
  assert.equal(ledger.killedAtExit('p', scope('h'), true), true, 'a forgotten pod starts over');
});
