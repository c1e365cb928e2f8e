import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventBus } from '../../src/common/event-bus';

test('subscribers get events in order from subscription on; slow ones drop past the limit', async () => {
  let dropped = 0;
  const bus = new EventBus<number>(3, () => { dropped++; });
  bus.publish(0); // before anyone listens: nobody gets it
  const controller = new AbortController();
  const sub = bus.subscribe(controller.signal);
  for (let i = 1; i <= 5; i++) bus.publish(i);
  assert.equal(dropped, 2);
  const got: number[] = [];
  const reader = (async () => { for await (const e of sub) got.push(e); })();
  await new Promise((r) => setTimeout(r, 10));
  bus.publish(6);
  await new Promise((r) => setTimeout(r, 10));
  controller.abort();
  await reader;
  assert.deepEqual(got, [1, 2, 3, 6]);
  assert.equal(bus.subscriberCount, 0, 'closed subscribers are removed');
});
