// Checkpoint archives: the writable layer's diff, the archive round trip, and the
// hostile-input rules of reading one back (nothing written outside its target).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { applyRootfsDiff, extractCheckpointArchive, removeDeletedFiles, rootfsDiff, writeTar } from '../../../src/containers/checkpoint-archive';
import { restoredConfig, type CheckpointSource } from '../../../src/containers/checkpoint';
import type { OciSpec } from '../../../src/common/oci-spec';
import type { ContainerConfig__Output } from '../../../src/generated/runtime/v1/ContainerConfig';

function tmp(t: { after: (fn: () => void) => void }): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cradle-ckpt-unit-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

describe('checkpoint archives', () => {
  it('the rootfs diff lists the upper dir\'s files but not the mount points the runtime made', (t) => {
    const upper = tmp(t);
    fs.mkdirSync(path.join(upper, 'data/sub'), { recursive: true });
    fs.writeFileSync(path.join(upper, 'data/sub/file'), 'x');
    fs.symlinkSync('sub/file', path.join(upper, 'data/link'));
    fs.mkdirSync(path.join(upper, 'etc'));
    fs.writeFileSync(path.join(upper, 'etc/hosts'), '');
    fs.mkdirSync(path.join(upper, 'proc'));
    const diff = rootfsDiff(upper, ['/etc/hosts']);
    assert.deepEqual(diff.entries.sort(), ['data', 'data/link', 'data/sub', 'data/sub/file', 'etc'].sort());
    assert.deepEqual(diff.deleted, []);
  });

  it('a diff written as a tar applies to another root with contents, links and modes', async (t) => {
    const dir = tmp(t);
    const upper = path.join(dir, 'upper');
    fs.mkdirSync(path.join(upper, 'data'), { recursive: true });
    fs.writeFileSync(path.join(upper, 'data/file'), 'kept\n', { mode: 0o640 });
    fs.symlinkSync('file', path.join(upper, 'data/link'));
    const diff = rootfsDiff(upper, []);
    await writeTar(path.join(dir, 'diff.tar'), upper, diff.entries, false);
    const root = path.join(dir, 'root');
    fs.mkdirSync(path.join(root, 'data'), { recursive: true });
    fs.writeFileSync(path.join(root, 'data/file'), 'old');
    await applyRootfsDiff(path.join(dir, 'diff.tar'), root);
    assert.equal(fs.readFileSync(path.join(root, 'data/file'), 'utf8'), 'kept\n');
    assert.equal(fs.statSync(path.join(root, 'data/file')).mode & 0o777, 0o640);
    assert.equal(fs.readlinkSync(path.join(root, 'data/link')), 'file');
  });

  it('applying a diff follows the root\'s symlinks inside the root only', async (t) => {
    const dir = tmp(t);
    const root = path.join(dir, 'root');
    const outside = path.join(dir, 'outside');
    fs.mkdirSync(root);
    fs.mkdirSync(outside);
    // The image's /etc is a symlink to an absolute path: resolved in the root, never the host.
    fs.symlinkSync(outside, path.join(root, 'etc'));
    const src = path.join(dir, 'src');
    fs.mkdirSync(path.join(src, 'etc'), { recursive: true });
    fs.writeFileSync(path.join(src, 'etc/passwd'), 'root::0:0::/:/bin/sh\n');
    await writeTar(path.join(dir, 'diff.tar'), src, ['etc/passwd'], false);
    await applyRootfsDiff(path.join(dir, 'diff.tar'), root);
    assert.deepEqual(fs.readdirSync(outside), [], 'nothing written through the symlink to the host path');
    assert.equal(fs.readFileSync(path.join(root, outside, 'passwd'), 'utf8'), 'root::0:0::/:/bin/sh\n');
  });

  it('deleted files are removed inside the root only', (t) => {
    const dir = tmp(t);
    const root = path.join(dir, 'root');
    fs.mkdirSync(path.join(root, 'etc'), { recursive: true });
    fs.writeFileSync(path.join(root, 'etc/group'), '');
    fs.writeFileSync(path.join(dir, 'precious'), 'x');
    removeDeletedFiles(root, ['/etc/group', '../precious', '/']);
    assert.equal(fs.existsSync(path.join(root, 'etc/group')), false);
    assert.equal(fs.existsSync(path.join(dir, 'precious')), true);
    assert.equal(fs.existsSync(root), true);
  });

  it('an archive round-trips; a member leaving the target is refused', async (t) => {
    const dir = tmp(t);
    const work = path.join(dir, 'work');
    fs.mkdirSync(path.join(work, 'checkpoint'), { recursive: true });
    fs.writeFileSync(path.join(work, 'checkpoint/inventory.img'), 'inv');
    fs.writeFileSync(path.join(work, 'config.dump'), '{}');
    await writeTar(path.join(dir, 'a.tar'), work, ['checkpoint', 'config.dump', 'absent']);
    assert.equal(fs.statSync(path.join(dir, 'a.tar')).mode & 0o777, 0o600);
    const out = path.join(dir, 'out');
    fs.mkdirSync(out);
    await extractCheckpointArchive(path.join(dir, 'a.tar'), out);
    assert.equal(fs.readFileSync(path.join(out, 'checkpoint/inventory.img'), 'utf8'), 'inv');
    const only = path.join(dir, 'only');
    fs.mkdirSync(only);
    await extractCheckpointArchive(path.join(dir, 'a.tar'), only, ['config.dump']);
    assert.deepEqual(fs.readdirSync(only), ['config.dump']);

    const tar = await import('tar-stream');
    const pack = tar.pack();
    pack.entry({ name: '../escape', size: 1 }, 'x');
    pack.finalize();
    const chunks: Buffer[] = [];
    for await (const c of pack) chunks.push(c as Buffer);
    fs.writeFileSync(path.join(dir, 'bad.tar'), Buffer.concat(chunks));
    const target = path.join(dir, 'bad');
    fs.mkdirSync(target);
    await assert.rejects(extractCheckpointArchive(path.join(dir, 'bad.tar'), target), /member "\.\.\/escape" leaves the archive/);
    assert.equal(fs.existsSync(path.join(dir, 'escape')), false);
  });

  it('a restored container keeps the checkpoint\'s image and process, and needs its bind mounts given again', () => {
    const source: CheckpointSource = {
      archive: '/x.tar',
      config: { id: 'a', name: 'n', rootfsImageName: 'reg/busybox:1', createdTime: '', checkpointedTime: '', restoredTime: '', restored: false },
      spec: {
        ociVersion: '1.0.2', process: { args: ['sh', '-c', 'count'], cwd: '/work' }, root: { path: 'rootfs' },
        mounts: [{ destination: '/etc/hosts', type: 'bind', source: '/run/x/hosts' }, { destination: '/data', type: 'bind', source: '/srv' }],
      } as unknown as OciSpec,
    };
    const request = { metadata: { name: 'restored', attempt: 0 }, image: { image: '/x.tar' }, mounts: [], command: [], args: [], labels: { a: 'b' } } as unknown as ContainerConfig__Output;
    assert.throws(() => restoredConfig(source, request), /needs these bind mounts in config\.mounts: \/data/);
    const config = restoredConfig(source, { ...request, mounts: [{ containerPath: '/data/', hostPath: '/srv2' }] } as unknown as ContainerConfig__Output);
    assert.equal(config.image?.image, 'reg/busybox:1');
    assert.deepEqual(config.command, ['sh', '-c', 'count']);
    assert.equal(config.workingDir, '/work');
    assert.deepEqual(config.labels, { a: 'b' });
  });
});
