// Traps 1-4 in-process: spawning into new namespaces from Node's main thread and
// switching back leaves this process fully working (async fs on the threadpool,
// Workers, later spawns on the host) and the host untouched.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { Worker } from 'node:worker_threads';
import { spawnInNamespaces } from '../../../src/oci-runtime/namespaces';
import { isRoot } from './harness';

const NS = ['mnt', 'uts', 'ipc', 'net', 'pid', 'pid_for_children', 'cgroup'];
const nsLinks = (): string[] => NS.map((n) => fs.readlinkSync(`/proc/self/ns/${n}`));

test('traps 1-4: spawn in new namespaces, then this process is back on the host and still works', { skip: !isRoot() && 'needs root' }, async () => {
  const before = nsLinks();
  const cwd = process.cwd();
  await fs.promises.stat('/'); // trap 2: the threadpool must exist before the pid ns switch
  const child = spawnInNamespaces({ linux: { namespaces: [{ type: 'pid' }, { type: 'mount' }, { type: 'uts' }, { type: 'ipc' }, { type: 'network' }] } }, {
    command: '/bin/busybox', args: ['sh', '-c', 'echo "pid=$$"; hostname newname-in-ns; hostname'],
    options: { stdio: ['ignore', 'pipe', 'pipe'] },
    sealPaths: [fs.realpathSync(process.execPath)],
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  await new Promise((r) => setImmediate(r));
  assert.equal(code, 0);
  assert.equal(out, 'pid=1\nnewname-in-ns\n', 'the child is PID 1 of a new pid ns with its own uts ns');
  assert.deepEqual(nsLinks(), before, 'trap 4: every namespace restored on the main thread');
  assert.equal(process.cwd(), cwd, 'cwd restored after setns(mnt)');
  // trap 1/2: the threadpool and new threads still work.
  assert.ok((await fs.promises.readdir('/proc/self/ns')).includes('mnt'));
  const worker = new Worker('require("node:worker_threads").parentPort.postMessage(42)', { eval: true });
  assert.equal(await new Promise((resolve) => worker.once('message', resolve)), 42);
  await worker.terminate();
  // The read-only seal of the node binary stayed in the child's mount namespace.
  const nodeBin = fs.realpathSync(process.execPath);
  assert.equal(fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').some((l) => l.split(' ')[4] === nodeBin), false);
  assert.notEqual(fs.readFileSync('/proc/sys/kernel/hostname', 'utf8').trim(), 'newname-in-ns');
});
