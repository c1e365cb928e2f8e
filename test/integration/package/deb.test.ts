// The Debian package: scripts/package.js builds it from this build's dist/ into a
// temp dir; its file list, conffile and size are checked, then it is unpacked
// (dpkg -x, no install) and its commands run from there.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execFileSync, spawnSync } from 'node:child_process';
import { parse as parseToml } from 'smol-toml';
import { cleanChildEnv } from '../../../src/common/child-env';
import { pinnedNodePackage } from '../../../src/common/pinned-node';
import { REPO_ROOT as root, assertProductionFilesOnly, buildDeb, packageVersion } from '../../helpers/deb';

test('npm run package builds a .deb with production files only, which runs from its unpacked tree', { timeout: 600_000 }, (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cradle-deb-test-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const version = packageVersion();
  const deb = buildDeb(dir, version);

  const files = execFileSync('dpkg-deb', ['-c', deb], { encoding: 'utf8', maxBuffer: 64 << 20 })
    .split('\n').filter(Boolean).map((l) => l.split(/\s+/)[5]!.replace(/^\./, ''));
  const has = (f: string) => assert.ok(files.includes(f), `${f} in the package`);
  for (const f of [
    '/usr/bin/cradled', '/usr/bin/cradle-runtime', '/usr/lib/cradle/bin/cradled', '/usr/lib/cradle/bin/cradle-runtime',
    '/usr/lib/cradle/dist/src/cmd/cradled.js', '/usr/lib/cradle/dist/src/oci-runtime/main.js', '/usr/lib/cradle/dist/build-info.json',
    '/usr/lib/cradle/proto/cri/api.proto', `/usr/lib/cradle/node_modules/${pinnedNodePackage()}/bin/node`,
    '/lib/systemd/system/cradle.service', '/etc/cradle/cradle.toml', '/etc/cni/net.d/11-cradle-bridge.conflist',
    '/usr/share/bash-completion/completions/cradled', '/usr/share/zsh/vendor-completions/_cradled',
    '/usr/share/man/man8/cradled.8.gz', '/usr/share/man/man8/cradle-runtime.8.gz', '/usr/share/man/man5/cradle.toml.5.gz',
  ]) has(f);
  if (fs.existsSync(path.join(root, 'dist/bin'))) has('/usr/lib/cradle/dist/bin/');
  assertProductionFilesOnly(files);

  const info = execFileSync('dpkg-deb', ['-f', deb, 'Installed-Size', 'Depends', 'Recommends'], { encoding: 'utf8' });
  const installedKiB = Number(/Installed-Size: (\d+)/.exec(info)?.[1]);
  assert.ok(installedKiB > 0 && installedKiB < 150 * 1024, `installed size ${installedKiB} KiB under 150 MiB`);
  for (const dep of ['conmon', 'containernetworking-plugins', 'iptables', 'libseccomp2']) assert.match(info, new RegExp(`Depends: .*\\b${dep}\\b`));
  assert.match(info, /Recommends: runc/);
  const control = path.join(dir, 'control');
  execFileSync('dpkg-deb', ['-e', deb, control]);
  assert.deepEqual(fs.readFileSync(path.join(control, 'conffiles'), 'utf8').trim().split('\n').sort(),
    ['/etc/cni/net.d/11-cradle-bridge.conflist', '/etc/cradle/cradle.toml']);
  for (const s of ['postinst', 'prerm', 'postrm']) execFileSync('sh', ['-n', path.join(control, s)]);
  assert.match(fs.readFileSync(path.join(control, 'postrm'), 'utf8'), /purge[\s\S]*rm -rf \/var\/lib\/cradle \/run\/cradle/);

  const tree = path.join(dir, 'root');
  execFileSync('dpkg-deb', ['-x', deb, tree]);
  // The conffile sets nothing: only comments and table headers, parsing to empty tables.
  const toml = fs.readFileSync(path.join(tree, 'etc/cradle/cradle.toml'), 'utf8');
  for (const line of toml.split('\n')) assert.ok(line === '' || line.startsWith('#') || /^\[[a-z.]+\]$/.test(line), line);
  const empty = (v: unknown): boolean => typeof v === 'object' && v !== null && Object.values(v).every(empty);
  assert.ok(empty(parseToml(toml)));
  const unit = fs.readFileSync(path.join(tree, 'lib/systemd/system/cradle.service'), 'utf8');
  assert.match(unit, /^ExecStart=\/usr\/bin\/cradled$/m);
  assert.ok(!/\/opt\/|\/usr\/local\//.test(unit), 'no prefix but the package\'s own');

  // Run from the unpacked tree: the /usr/bin links resolve to its own Node and code.
  const run = (args: string[]) => {
    const r = spawnSync(path.join(tree, 'usr/bin/cradled'), args, { encoding: 'utf8', env: cleanChildEnv(), cwd: dir });
    assert.equal(r.status, 0, `cradled ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  assert.match(run(['--help']), /^Usage: cradled \[/);
  const v = JSON.parse(run(['version', '--json'])) as Record<string, string>;
  assert.equal(v['version'], version);
  assert.match(v['gitCommit']!, /^([0-9a-f]{40}|unknown)$/);
  assert.match(v['nodeVersion']!, /^v24\./);
  assert.match(run(['config', '--config', path.join(tree, 'etc/cradle/cradle.toml'), '--config-dir', path.join(dir, 'none')]), /^\[runtime\.runtimes\.cradle\]$/m);
  assert.equal(run(['completion', 'bash']), fs.readFileSync(path.join(tree, 'usr/share/bash-completion/completions/cradled'), 'utf8'));
  const rt = spawnSync(path.join(tree, 'usr/bin/cradle-runtime'), ['--version'], { encoding: 'utf8', env: cleanChildEnv() });
  assert.equal(rt.status, 0, rt.stderr);
  // Every production dependency loads from the pruned node_modules.
  const lib = path.join(tree, 'usr/lib/cradle');
  const deps = Object.keys((JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { dependencies: Record<string, string> }).dependencies);
  const load = spawnSync(path.join(lib, 'node_modules', pinnedNodePackage(), 'bin/node'),
    ['-e', `for (const d of ${JSON.stringify(deps)}) require(d); require('./dist/src/cri-server/proto');`], { cwd: lib, encoding: 'utf8', env: cleanChildEnv() });
  assert.equal(load.status, 0, load.stderr);
});
