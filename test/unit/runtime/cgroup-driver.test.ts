// The cgroup driver cradle picks for runtime.cgroup_manager, "auto" above all.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { cgroupDriverFor } from '../../../src/runtime/cgroup-driver';

test('auto: systemd where systemd is PID 1 on cgroup v2, cgroupfs otherwise', () => {
  assert.equal(cgroupDriverFor('auto', { systemdBooted: true, unified: true }), 'systemd');
  assert.equal(cgroupDriverFor('auto', { systemdBooted: true, unified: false }), 'cgroupfs', 'systemd on cgroup v1: the systemd driver needs v2');
  assert.equal(cgroupDriverFor('auto', { systemdBooted: false, unified: true }), 'cgroupfs', 'no systemd to ask');
  assert.equal(cgroupDriverFor('auto', { systemdBooted: false, unified: false }), 'cgroupfs');
});

test('an explicit setting is kept whatever the host', () => {
  assert.equal(cgroupDriverFor('cgroupfs', { systemdBooted: true, unified: true }), 'cgroupfs');
  assert.equal(cgroupDriverFor('systemd', { systemdBooted: false, unified: false }), 'systemd');
});
