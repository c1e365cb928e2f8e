// The epoll loop attach sessions wait on: any number of SEQPACKET sockets waited
// for hold one thread in all, and none once nobody waits; each packet arrives
// whole, end of file and forgetting end a wait.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { FdPoller } from '../../../src/sys/fd-poller';
import { receiveNow } from '../../../src/sys/unix-socket';
import { koffi, loadLibc } from '../../../src/sys/libc-handle';

const AF_UNIX = 1;
const SOCK_SEQPACKET = 5;
const SOCK_CLOEXEC = 0o2000000;

function seqpacketPair(): [number, number] {
  const socketpair = loadLibc().func('int socketpair(int, int, int, _Out_ int *)');
  const fds = [0, 0];
  if ((socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) as number) < 0) throw new Error(`socketpair: errno ${koffi().errno()}`);
  return [fds[0]!, fds[1]!];
}

async function until(what: string, check: () => boolean): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

test('twenty sockets waited for hold one thread; each wakes with its own packet, whole', async (t) => {
  const poller = new FdPoller();
  const pairs = Array.from({ length: 20 }, () => seqpacketPair());
  t.after(() => {
    for (const [a, b] of pairs) {
      poller.forget(a);
      fs.closeSync(a);
      fs.closeSync(b);
    }
  });
  const buffer = Buffer.alloc(64);
  for (const [a] of pairs) assert.equal(receiveNow(a, buffer), undefined, 'nothing to read yet, and the read did not wait');
  const woken: number[] = [];
  const waits = pairs.map(([a], i) => poller.readable(a).then(() => woken.push(i)));
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.equal(woken.length, 0);
  assert.equal(poller.threads, 1, 'one blocked epoll_wait for all twenty');

  fs.writeSync(pairs[7]![1], Buffer.from('\x02seven'));
  await until('the seventh wakes', () => woken.length === 1);
  assert.deepEqual(woken, [7]);
  assert.equal(receiveNow(pairs[7]![0], buffer), 6);
  assert.equal(buffer.subarray(0, 6).toString(), '\x02seven');

  for (const [i, [, b]] of pairs.entries()) if (i !== 7) fs.writeSync(b, Buffer.from(`\x03packet ${i}`));
  await Promise.all(waits);
  for (const [i, [a]] of pairs.entries()) {
    if (i === 7) continue;
    const n = receiveNow(a, buffer)!;
    assert.equal(buffer.subarray(0, n).toString(), `\x03packet ${i}`);
  }
  await until('the loop stops once nobody waits', () => poller.threads === 0);
});

test('end of file wakes a wait and reads as 0; forgetting a socket ends its wait and frees the thread', async (t) => {
  const poller = new FdPoller();
  const [a, b] = seqpacketPair();
  const [c, d] = seqpacketPair();
  t.after(() => {
    for (const fd of [a, c, d]) fs.closeSync(fd);
  });
  const ended = poller.readable(a);
  fs.closeSync(b);
  await ended;
  assert.equal(receiveNow(a, Buffer.alloc(8)), 0);
  poller.forget(a);

  const waiting = poller.readable(c);
  await until('the loop waits', () => poller.threads === 1);
  poller.forget(c);
  await waiting;
  await until('the blocked epoll_wait returned', () => poller.threads === 0);
  await assert.rejects(Promise.all([poller.readable(d), poller.readable(d)]), /already has a reader waiting/);
  poller.forget(d);
});
