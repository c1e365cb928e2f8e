// create/start/state/kill/delete through the CLI, and the error cases a user hits.
import { test, before } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { TestContainer, CGROUP_V2_ONLY, isRoot, leftoverCgroups, sweepStale } from './harness';
import { eventually } from '../../helpers/eventually';

const skip = !isRoot() && 'needs root';
before(() => { if (isRoot()) sweepStale(); });

test('lifecycle: created -> running -> kill -> stopped -> delete leaves nothing', { skip }, async (t) => {
  const ctr = new TestContainer('cradle', 'life', ['sh', '-c', 'trap "echo got-term; exit 7" TERM; echo started; while true; do sleep 0.05; done']);
  t.after(() => ctr.cleanup());
  ctr.writeSpec();
  const created = ctr.create();
  assert.equal(created.status, 0, created.stderr);
  assert.equal(fs.readFileSync(ctr.outFile, 'utf8'), '', 'trap 10: create writes nothing to the container\'s stdout');
  const st1 = ctr.state()!;
  assert.equal(st1.status, 'created');
  assert.equal(fs.readFileSync(path.join(ctr.dir, 'pid'), 'utf8'), String(st1.pid));
  const joined = CGROUP_V2_ONLY ? `0::${ctr.cgroupsPath}\n` : `memory:${ctr.cgroupsPath}\n`;
  assert.equal(fs.readFileSync(`/proc/${st1.pid}/cgroup`, 'utf8').includes(joined), true, 'init joined its cgroup at create');

  assert.equal(ctr.cli(['start', ctr.id]).status, 0);
  assert.equal(ctr.state()!.status, 'running');
  const again = ctr.cli(['start', ctr.id]);
  assert.equal(again.status, 1);
  assert.match(again.stderr, /running/);

  const del = ctr.cli(['delete', ctr.id]);
  assert.equal(del.status, 1, 'delete of a running container without --force fails');
  assert.match(del.stderr, /not stopped: running/);
  assert.equal(ctr.state()!.status, 'running');

  // Wait until the trap is installed (the first output line) before signalling.
  await eventually(() => fs.readFileSync(ctr.outFile, 'utf8').includes('started'), 'the trap to be installed');
  assert.equal(ctr.cli(['kill', ctr.id, 'TERM']).status, 0);
  await ctr.waitStopped();
  assert.match(fs.readFileSync(ctr.outFile, 'utf8'), /got-term/);
  assert.equal(ctr.state()!.pid, 0);

  const killStopped = ctr.cli(['kill', ctr.id, 'KILL']);
  assert.equal(killStopped.status, 1, 'kill of a stopped container fails');
  assert.match(killStopped.stderr, /not running/);

  assert.equal(ctr.cli(['delete', ctr.id]).status, 0);
  const gone = ctr.cli(['state', ctr.id]);
  assert.equal(gone.status, 1);
  assert.match(gone.stderr, /does not exist/);
  assert.deepEqual(leftoverCgroups(ctr.cgroupsPath), []);
  assert.equal(fs.existsSync(path.join(ctr.root, ctr.id)), false);
});

test('delete --force kills a running container; delete of a created one kills its init', { skip }, async (t) => {
  const a = new TestContainer('cradle', 'force', ['sleep', '1000']);
  const b = new TestContainer('cradle', 'created', ['sleep', '1000']);
  t.after(() => { a.cleanup(); b.cleanup(); });
  a.writeSpec();
  b.writeSpec();
  assert.equal(a.create().status, 0);
  assert.equal(a.cli(['start', a.id]).status, 0);
  const pid = a.state()!.pid;
  assert.equal(a.cli(['delete', '--force', a.id]).status, 0);
  assert.equal(fs.existsSync(`/proc/${pid}/cgroup`) && !fs.readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z'), false, 'process killed');
  assert.deepEqual(leftoverCgroups(a.cgroupsPath), []);

  assert.equal(b.create().status, 0);
  const bpid = b.state()!.pid;
  assert.equal(b.cli(['delete', b.id]).status, 0);
  assert.equal(b.state(), undefined);
  assert.equal(fs.existsSync(`/proc/${bpid}`) && !fs.readFileSync(`/proc/${bpid}/stat`, 'utf8').includes(') Z'), false);
});

test('exit status and kill --all; ps lists the container processes', { skip }, async (t) => {
  const ctr = new TestContainer('cradle', 'ps', ['sh', '-c', 'sleep 1000 & sleep 1000 & wait']);
  t.after(() => ctr.cleanup());
  ctr.writeSpec();
  assert.equal(ctr.create().status, 0);
  assert.equal(ctr.cli(['start', ctr.id]).status, 0);
  let pids: number[] = [];
  await eventually(() => {
    pids = JSON.parse(ctr.cli(['ps', '--format', 'json', ctr.id]).stdout) as number[];
    return pids.length >= 3;
  }, 'sh and two sleeps').catch(() => { /* asserted below, with the pids seen */ });
  assert.equal(pids.length, 3, `sh and two sleeps: ${JSON.stringify(pids)}`);
  const table = ctr.cli(['ps', ctr.id]);
  assert.equal(table.status, 0);
  assert.match(table.stdout, /PID/);
  assert.match(table.stdout, /sleep 1000/);
  assert.equal(ctr.cli(['kill', '--all', ctr.id, 'KILL']).status, 0);
  await ctr.waitStopped();
});

test('pause and resume freeze the container', { skip }, async (t) => {
  const ctr = new TestContainer('cradle', 'pause', ['sh', '-c', 'while true; do echo tick >> /tmp/ticks; sleep 0.02; done']);
  t.after(() => ctr.cleanup());
  ctr.writeSpec();
  assert.equal(ctr.create().status, 0);
  assert.equal(ctr.cli(['start', ctr.id]).status, 0);
  assert.equal(ctr.cli(['pause', ctr.id]).status, 0);
  assert.equal(ctr.state()!.status, 'paused');
  if (CGROUP_V2_ONLY) assert.equal(fs.readFileSync(path.join(ctr.cgroupDir('freezer'), 'cgroup.freeze'), 'utf8').trim(), '1');
  else assert.equal(fs.readFileSync(path.join(ctr.cgroupDir('freezer'), 'freezer.state'), 'utf8').trim(), 'FROZEN');
  assert.equal(ctr.cli(['resume', ctr.id]).status, 0);
  assert.equal(ctr.state()!.status, 'running');
  const again = ctr.cli(['resume', ctr.id]);
  assert.equal(again.status, 1);
});

test('update changes limits of a running container', { skip }, async (t) => {
  const ctr = new TestContainer('cradle', 'update', ['sleep', '1000']);
  t.after(() => ctr.cleanup());
  ctr.writeSpec();
  assert.equal(ctr.create().status, 0);
  assert.equal(ctr.cli(['start', ctr.id]).status, 0);
  const r = ctr.cli(['update', '--resources', '-', ctr.id], { stdio: ['pipe', 'pipe', 'pipe'], input: JSON.stringify({ memory: { limit: 100 * 1024 * 1024 }, pids: { limit: 50 } }) });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(fs.readFileSync(path.join(ctr.cgroupDir('memory'), CGROUP_V2_ONLY ? 'memory.max' : 'memory.limit_in_bytes'), 'utf8').trim(), String(100 * 1024 * 1024));
  assert.equal(fs.readFileSync(path.join(ctr.cgroupDir('pids'), 'pids.max'), 'utf8').trim(), '50');
  const flags = ctr.cli(['update', '--pids-limit', '40', ctr.id]);
  assert.equal(flags.status, 0, flags.stderr);
  assert.equal(fs.readFileSync(path.join(ctr.cgroupDir('pids'), 'pids.max'), 'utf8').trim(), '40');
});
