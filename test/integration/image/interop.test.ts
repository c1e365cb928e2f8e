// Images made by other tools (umoci builds, skopeo pushes) pull and unpack the
// same way: Go's tar and gzip output, whiteouts written by umoci.
import { before, after, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { startFixtureRegistry, type FixtureRegistry } from '../../helpers/registry';
import { cleanChildEnv } from '../../../src/common/child-env';
import { newService, registriesConf, sweepStale, tempDir } from './setup';

let registry: FixtureRegistry;

before(async () => {
  sweepStale();
  registry = await startFixtureRegistry();
});
after(async () => {
  await registry?.stop();
});

function run(cmd: string, args: string[], cwd: string): void {
  execFileSync(cmd, args, { cwd, env: cleanChildEnv(), stdio: 'pipe' });
}

test('an umoci-built image pushed by skopeo pulls with its files, modes and whiteouts', async (t) => {
  const dir = tempDir(t);
  run('umoci', ['init', '--layout', 'img'], dir);
  run('umoci', ['new', '--image', 'img:t'], dir);
  run('umoci', ['unpack', '--image', 'img:t', 'bundle'], dir);
  const rootfs = path.join(dir, 'bundle', 'rootfs');
  fs.mkdirSync(path.join(rootfs, 'etc'));
  fs.writeFileSync(path.join(rootfs, 'etc', 'kept'), 'kept\n');
  fs.writeFileSync(path.join(rootfs, 'etc', 'deleted'), 'deleted\n');
  fs.writeFileSync(path.join(rootfs, 'suid'), 'x', { mode: 0o4755 });
  fs.chmodSync(path.join(rootfs, 'suid'), 0o4755);
  fs.symlinkSync('etc/kept', path.join(rootfs, 'link'));
  run('umoci', ['repack', '--refresh-bundle', '--image', 'img:t', 'bundle'], dir);
  fs.rmSync(path.join(rootfs, 'etc', 'deleted'));
  run('umoci', ['repack', '--refresh-bundle', '--image', 'img:t', 'bundle'], dir);
  run('umoci', ['config', '--image', 'img:t', '--config.user', 'nobody', '--config.cmd', '/bin/true'], dir);
  run('skopeo', ['copy', '--dest-tls-verify=false', 'oci:img:t', `docker://${registry.host}/interop/umoci:t`], dir);

  const { service } = newService(t, registriesConf([registry.host]));
  const image = await service.pull(`${registry.host}/interop/umoci:t`);
  assert.equal(image.username, 'nobody');
  assert.deepEqual(image.config.config?.Cmd, ['/bin/true']);
  const hold = service.hold(image.id);
  t.after(() => hold.release());
  const mnt = path.join(dir, 'mnt');
  fs.mkdirSync(mnt);
  execFileSync('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${hold.lowerDirs.join(':')}`, mnt]);
  try {
    assert.deepEqual(fs.readdirSync(path.join(mnt, 'etc')), ['kept']);
    assert.equal(fs.readFileSync(path.join(mnt, 'link'), 'utf8'), 'kept\n');
    assert.equal(fs.statSync(path.join(mnt, 'suid')).mode & 0o7777, 0o4755);
  } finally {
    execFileSync('umount', [mnt]);
  }
});
