// Which changed keys a SIGHUP applies and which wait for a restart.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defaultConfig, defaultHandler } from '../../../src/config/schema';
import { planReload } from '../../../src/config/reload';

test('reloadable keys and handler tables are taken; other changes keep their running value and are named', () => {
  const running = defaultConfig();
  const next = defaultConfig();
  next.log.level = 'debug';
  next.image.pinned_images = ['example.test/app:1'];
  next.streaming.idle_timeout = 60_000;
  next.state.root = '/elsewhere';
  next.runtime.runtimes.extra = defaultHandler();
  const plan = planReload(running, next);
  assert.deepEqual(plan.applied.sort(), ['image.pinned_images', 'log.level', 'runtime.runtimes']);
  assert.deepEqual(plan.needRestart.sort(), ['state.root', 'streaming.idle_timeout']);
  assert.equal(plan.config.log.level, 'debug');
  assert.deepEqual(plan.config.image.pinned_images, ['example.test/app:1']);
  assert.equal(plan.config.streaming.idle_timeout, running.streaming.idle_timeout);
  assert.equal(plan.config.state.root, running.state.root);
  assert.ok('extra' in plan.config.runtime.runtimes);
  assert.notEqual(plan.config, running, 'the running config is not modified');
  assert.equal(running.log.level, 'info');
});

test('an unchanged config applies nothing', () => {
  const plan = planReload(defaultConfig(), defaultConfig());
  assert.deepEqual([plan.applied, plan.needRestart], [[], []]);
});
