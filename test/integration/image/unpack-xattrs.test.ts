// Binary xattr values written by GNU tar (security.capability, raw user.* bytes)
// survive unpacking byte for byte.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { unpackLayerFile } from '../../../src/image/unpack';
import { lgetxattr, lsetxattr } from '../../../src/sys/xattr';
import { cleanChildEnv } from '../../../src/common/child-env';
import { tempDir } from './setup';

test('binary xattrs from GNU tar layers are restored exactly', (t) => {
  const dir = tempDir(t);
  const src = path.join(dir, 'src');
  fs.mkdirSync(path.join(src, 'bin'), { recursive: true });
  fs.writeFileSync(path.join(src, 'bin/ping'), 'binary');
  // VFS_CAP_REVISION_2 with the effective bit, permitted = CAP_NET_RAW (bit 13).
  const capability = Buffer.from([0x01, 0x00, 0x00, 0x02, 0x00, 0x20, 0x00, 0x00, ...new Array<number>(12).fill(0)]);
  const binary = Buffer.from([0x00, 0xff, 0xfe, 0x80, 0x41, 0x0a, 0xc3]);
  lsetxattr(path.join(src, 'bin/ping'), 'security.capability', capability);
  lsetxattr(path.join(src, 'bin/ping'), 'user.binary', binary);
  lsetxattr(path.join(src, 'bin/ping'), 'user.text', 'héllo');
  const blob = path.join(dir, 'layer.tar');
  execFileSync('tar', ['--xattrs', '--xattrs-include=*', '--format=posix', '-C', src, '-cf', blob, 'bin'], { env: cleanChildEnv() });
  const layer = path.join(dir, 'layer');
  fs.mkdirSync(layer);
  return unpackLayerFile(blob, layer, { layer: 'gnu-tar' }).then(() => {
    const ping = path.join(layer, 'bin/ping');
    assert.deepEqual(lgetxattr(ping, 'security.capability'), capability);
    assert.deepEqual(lgetxattr(ping, 'user.binary'), binary);
    assert.equal(lgetxattr(ping, 'user.text')?.toString(), 'héllo');
  });
});
