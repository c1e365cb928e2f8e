import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseReference, qualify, formatReference, isShortName } from '../../../src/image/reference';
import { errors } from '../../../src/common/errors';

const D = `sha256:${'a'.repeat(64)}`;

test('references parse into domain, path, tag and digest', () => {
  assert.deepEqual(parseReference('busybox'), { path: 'busybox' });
  assert.deepEqual(parseReference('busybox:1.36'), { path: 'busybox', tag: '1.36' });
  assert.deepEqual(parseReference('library/busybox'), { path: 'library/busybox' });
  assert.deepEqual(parseReference('quay.io/a/b/c:v1'), { domain: 'quay.io', path: 'a/b/c', tag: 'v1' });
  assert.deepEqual(parseReference('localhost/x'), { domain: 'localhost', path: 'x' });
  assert.deepEqual(parseReference('127.0.0.1:5000/x:y'), { domain: '127.0.0.1:5000', path: 'x', tag: 'y' });
  assert.deepEqual(parseReference(`r.io/x@${D}`), { domain: 'r.io', path: 'x', digest: D });
  assert.deepEqual(parseReference(`r.io:443/x:t@${D}`), { domain: 'r.io:443', path: 'x', tag: 't', digest: D });
  assert.deepEqual(parseReference('[::1]:5000/x'), { domain: '[::1]:5000', path: 'x' });
  assert.ok(isShortName(parseReference('a/b')));
  assert.ok(!isShortName(parseReference('a.b/c')));
});

test('invalid references are rejected naming the problem', () => {
  const bad: [string, RegExp][] = [
    ['', /empty/],
    ['Busybox', /lowercase/],
    ['r.io/UPPER', /lowercase/],
    ['busybox:', /bad tag/],
    ['busybox:-x', /bad tag/],
    [`busybox@sha256:${'a'.repeat(10)}`, /bad digest/],
    [`busybox@md5:${'a'.repeat(32)}`, /bad digest/],
    ['a//b', /path component/],
    ['a/b_', /path component/],
    ['r.io/', /empty repository/],
    [`x/${'a'.repeat(300)}`, /255/],
  ];
  for (const [input, message] of bad) {
    assert.throws(() => parseReference(input), (err: unknown) => errors.invalidArgument.is(err) && message.test(err.message) && err.message.includes(JSON.stringify(input)), input);
  }
});

test('qualifying: docker.io gets library/ and latest; other registries keep the path', () => {
  assert.equal(formatReference(qualify(parseReference('busybox'))), 'docker.io/library/busybox:latest');
  assert.equal(formatReference(qualify(parseReference('me/app:v1'))), 'docker.io/me/app:v1');
  assert.equal(formatReference(qualify(parseReference('index.docker.io/busybox'))), 'docker.io/library/busybox:latest');
  assert.equal(formatReference(qualify(parseReference(`busybox@${D}`))), `docker.io/library/busybox@${D}`);
  assert.equal(formatReference(qualify(parseReference('app'), 'quay.io')), 'quay.io/app:latest');
  assert.equal(formatReference(qualify(parseReference(`r.io/x:t@${D}`))), `r.io/x:t@${D}`);
});
