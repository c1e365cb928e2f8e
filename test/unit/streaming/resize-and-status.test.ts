import { test } from 'node:test';
import assert from 'node:assert/strict';
import { JsonObjectSplitter, TerminalSizeQueue, parseTerminalSize } from '../../../src/streaming/resize';
import { statusBytes, statusOf } from '../../../src/streaming/remotecommand/status';

test('resize objects are split from a byte stream however it is chunked', () => {
  const splitter = new JsonObjectSplitter();
  const wire = '{"Width":80,"Height":24}{"Width":100,\n"Height":40} {"width":1,"height":2}';
  const objects: string[] = [];
  for (const ch of wire) objects.push(...splitter.push(ch));
  assert.deepEqual(objects.map(parseTerminalSize), [{ width: 80, height: 24 }, { width: 100, height: 40 }, { width: 1, height: 2 }]);
  assert.throws(() => new JsonObjectSplitter().push('x{}'), /unexpected/);
});

test('bad sizes are not sizes', () => {
  for (const text of ['{}', '{"Width":-1,"Height":2}', '{"Width":"80","Height":24}', 'nope', '[1,2]']) {
    assert.equal(parseTerminalSize(text), undefined, text);
  }
});

test('the size queue yields pushed sizes and ends when closed', async () => {
  const q = new TerminalSizeQueue();
  q.push({ width: 1, height: 1 });
  setTimeout(() => { q.push({ width: 2, height: 2 }); q.close(); }, 10);
  const seen = [];
  for await (const s of q) seen.push(s);
  assert.deepEqual(seen, [{ width: 1, height: 1 }, { width: 2, height: 2 }]);
});

test('status: Success, NonZeroExitCode with the ExitCode cause, InternalError', () => {
  assert.deepEqual(statusOf({ type: 'success' }), { metadata: {}, status: 'Success' });
  const exit = statusOf({ type: 'exit', exitCode: 42, command: ['false'] });
  assert.equal(exit.status, 'Failure');
  assert.equal(exit.reason, 'NonZeroExitCode');
  assert.deepEqual(exit.details, { causes: [{ reason: 'ExitCode', message: '42' }] });
  const internal = statusOf({ type: 'error', message: 'no such container' });
  assert.equal(internal.reason, 'InternalError');
  assert.match(internal.message ?? '', /no such container/);
  // Old protocols: nothing on success, the message text on failure.
  assert.equal(statusBytes({ type: 'success' }, false), undefined);
  assert.match(statusBytes({ type: 'exit', exitCode: 1, command: ['x'] }, false)!.toString(), /non-zero exit code/);
  assert.equal(JSON.parse(statusBytes({ type: 'success' }, true)!.toString()).status, 'Success');
});
