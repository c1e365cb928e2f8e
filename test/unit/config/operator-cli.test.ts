// The operator's command line: version --json, completions, the commented config
// rendering and TOML syntax errors with their position.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { parse as parseToml } from 'smol-toml';
import { versionInfo, formatVersion } from '../../../src/common/build-info';
import { bashCompletion, zshCompletion } from '../../../src/cmd/completion';
import { SUBCOMMANDS, configFlags, helpText, parseArgs, usageLine } from '../../../src/cmd/args';
import { renderConfigToml, renderDefaultConfigFile } from '../../../src/config/render';
import { defaultConfig } from '../../../src/config/schema';
import { applyFlag, loadConfig } from '../../../src/config/load';
import { cradledMan, configMan, roff } from '../../../src/cmd/man';

function tempDir(t: { after: (fn: () => void) => void }): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cradle-cli-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('version --json: crio\'s field names, nodeVersion for goVersion, recorded build info', (t) => {
  const file = path.join(tempDir(t), 'build-info.json');
  fs.writeFileSync(file, JSON.stringify({ gitCommit: 'a'.repeat(40), gitCommitDate: '2026-12-05T10:00:00Z', gitTreeState: 'clean', buildDate: '2026-12-05T11:00:00Z', compiler: 'tsc 5.9.3' }));
  const info = versionInfo(file);
  assert.deepEqual(Object.keys(info), ['version', 'gitCommit', 'gitCommitDate', 'gitTreeState', 'buildDate', 'nodeVersion', 'compiler', 'platform', 'criVersion']);
  assert.match(info.version, /^\d+\.\d+\.\d+/);
  assert.equal(info.gitCommit, 'a'.repeat(40));
  assert.equal(info.gitTreeState, 'clean');
  assert.equal(info.nodeVersion, process.version);
  assert.equal(info.platform, process.arch === 'x64' ? 'linux/amd64' : `linux/${process.arch}`);
  assert.match(formatVersion(info), /^GitCommit: +a{40}$/m);
  // No recorded file (a build without the step): every recorded field is "unknown", nothing throws.
  const none = versionInfo(path.join(path.dirname(file), 'absent.json'));
  assert.equal(none.gitCommit, 'unknown');
  assert.equal(none.buildDate, 'unknown');
});

test('the build recorded dist/build-info.json (npm run build)', () => {
  const info = versionInfo();
  assert.match(info.gitCommit, /^([0-9a-f]{40}|unknown)$/);
  assert.match(info.buildDate, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  assert.match(info.gitTreeState, /^(clean|dirty|unknown)$/);
});

test('usage line and completions list every subcommand; completion takes a shell', () => {
  for (const name of Object.keys(SUBCOMMANDS)) {
    assert.ok(usageLine().includes(name), `${name} in the usage line`);
    assert.ok(bashCompletion().includes(name), `${name} in bash completion`);
    assert.ok(zshCompletion().includes(`'${name}:`), `${name} in zsh completion`);
  }
  assert.ok(helpText().startsWith(usageLine()));
  assert.equal(parseArgs(['completion', 'zsh']).shell, 'zsh');
  assert.throws(() => parseArgs(['completion']), /needs a shell/);
  assert.throws(() => parseArgs(['completion', 'fish']), /unknown shell/);
  assert.ok(parseArgs(['version', '--json']).json);
});

test('completions offer every config flag and enum values', () => {
  const bash = bashCompletion();
  const zsh = zshCompletion();
  for (const { flag } of configFlags()) {
    assert.ok(bash.includes(` ${flag} `) || bash.includes(` ${flag}"`) || bash.includes(`${flag}|`) || bash.includes(`${flag})`), `${flag} in bash`);
    assert.ok(zsh.includes(`'${flag}[`), `${flag} in zsh`);
  }
  assert.match(bash, /compgen -W "trace debug info warn error fatal"/);
  assert.match(zsh, /--log-format\[.*\]:value:\(json text\)/);
  assert.match(bash, /^complete -F _cradled cradled$/m);
  assert.match(zsh, /^#compdef cradled$/m);
  // The bash script is valid bash and completes a subcommand.
  const out = execFileSync('bash', ['-c', `${bash}\nCOMP_WORDS=(cradled ver); COMP_CWORD=1; _cradled; echo "\${COMPREPLY[*]}"`], { encoding: 'utf8' });
  assert.equal(out.trim(), 'version');
});

test('completions offer the runtime handler flags: the default handler\'s, and any name\'s once typed, with their values', () => {
  const complete = (...words: string[]): string[] => execFileSync('bash', ['-c',
    `${bashCompletion()}\nCOMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; _cradled; printf '%s\\n' "\${COMPREPLY[@]}"`],
  { encoding: 'utf8' }).split('\n').filter(Boolean).sort();
  assert.deepEqual(complete('cradled', '--runtime-runtimes-'), [
    '--runtime-runtimes-cradle-monitor-path', '--runtime-runtimes-cradle-runtime-path',
    '--runtime-runtimes-cradle-runtime-root', '--runtime-runtimes-cradle-runtime-type']);
  assert.deepEqual(complete('cradled', '--runtime-runtimes-kata-runtime-ro'), ['--runtime-runtimes-kata-runtime-root']);
  // A name holding "-" works too.
  assert.deepEqual(complete('cradled', '--runtime-runtimes-my-kata-m'), ['--runtime-runtimes-my-kata-monitor-path']);
  assert.deepEqual(complete('cradled', '--runtime-runtimes-kata-runtime-type', ''), ['oci']);
  assert.ok(complete('cradled', '--runtime-runtimes-kata-runtime-path', '/usr/bin/en').includes('/usr/bin/env'));
  // Every completed handler flag is one the parser accepts.
  for (const flag of complete('cradled', '--runtime-runtimes-')) assert.ok(parseArgs([flag, '/x']).settings.size === 1, flag);
  const zsh = zshCompletion();
  for (const key of ['runtime-path', 'runtime-root', 'runtime-type', 'monitor-path']) assert.ok(zsh.includes(`'--runtime-runtimes-cradle-${key}[`), key);
});

test('config rendering: defaults commented out, changed keys active, the output loads back to the same config', (t) => {
  const config = defaultConfig();
  applyFlag(config, 'log.level', 'debug');
  applyFlag(config, 'image.pinned_images', 'a,b');
  config.runtime.runtimes['runc'] = { runtime_path: '/usr/sbin/runc', runtime_root: '', runtime_type: 'oci', monitor_path: '' };
  const text = renderConfigToml(config, ['x.toml']);
  assert.match(text, /^level = "debug"$/m);
  assert.match(text, /^pinned_images = \["a", "b"\]$/m);
  assert.match(text, /^# format = "json"$/m);
  assert.match(text, /^\[runtime\.runtimes\.runc\]$/m);
  assert.match(text, /^runtime_path = "\/usr\/sbin\/runc"$/m);
  assert.match(text, /^# runtime_root = ""$/m);
  const dir = tempDir(t);
  fs.writeFileSync(path.join(dir, 'c.toml'), text);
  const loaded = loadConfig({ configFile: path.join(dir, 'c.toml'), configFileExplicit: true, configDir: path.join(dir, 'none') });
  assert.deepEqual(loaded.config, config);
});

test('the shipped cradle.toml has no active key: it parses to empty tables and loads to the defaults', (t) => {
  const text = renderDefaultConfigFile();
  for (const line of text.split('\n')) {
    assert.ok(line === '' || line.startsWith('#') || /^\[[a-z.]+\]$/.test(line), `only comments and table headers: ${line}`);
  }
  const parsed = parseToml(text) as Record<string, unknown>;
  const empty = (v: unknown): boolean => typeof v === 'object' && v !== null && Object.values(v).every(empty);
  assert.ok(empty(parsed), JSON.stringify(parsed));
  const dir = tempDir(t);
  fs.writeFileSync(path.join(dir, 'cradle.toml'), text);
  assert.deepEqual(loadConfig({ configFile: path.join(dir, 'cradle.toml'), configDir: path.join(dir, 'none') }).config, defaultConfig());
});

test('a TOML syntax error names file, line and column', (t) => {
  const file = path.join(tempDir(t), 'bad.toml');
  fs.writeFileSync(file, '[log]\nlevel = "debug"\nformat = \n');
  assert.throws(() => loadConfig({ configFile: file, configFileExplicit: true, configDir: '/nonexistent' }),
    (err: Error) => err.message.startsWith(`${file}:3:10: (syntax): `) && !err.message.includes('\n'));
  fs.writeFileSync(file, '[log\n');
  assert.throws(() => loadConfig({ configFile: file, configFileExplicit: true, configDir: '/nonexistent' }),
    (err: Error) => new RegExp(`^${file}:1:\\d+: \\(syntax\\): `).test(err.message));
});

test('man pages: groff escapes, every subcommand, flag and key documented', () => {
  assert.equal(roff('.start\n--flag a\\b'), '\\&.start\n\\-\\-flag a\\eb');
  const cradled = cradledMan('1.2.3', '2026-12-05');
  assert.match(cradled, /^\.TH CRADLED 8 "2026-12-05" "cradle 1\.2\.3"/m);
  for (const name of Object.keys(SUBCOMMANDS)) assert.match(cradled, new RegExp(`^\\.B ${name}$`, 'm'));
  for (const { flag } of configFlags()) assert.ok(cradled.includes(roff(flag)), flag);
  const toml = configMan('1.2.3', '2026-12-05');
  for (const { key } of configFlags()) assert.ok(toml.includes(`.BR ${roff(key)} `), key);
});
