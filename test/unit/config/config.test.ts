import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseDuration, formatDuration } from '../../../src/config/duration';
import { loadConfig } from '../../../src/config/load';
import { renderConfigReference, renderDefaultConfigFile } from '../../../src/config/render';
import { defaultNetworkConfig } from '../../../src/cni';
import { defaultConfig } from '../../../src/config/schema';
import { parseArgs } from '../../../src/cmd/args';
import { cleanChildEnv } from '../../../src/common/child-env';

test('durations parse and print in the config syntax', () => {
  assert.equal(parseDuration('0'), 0);
  assert.equal(parseDuration('90s'), 90_000);
  assert.equal(parseDuration('1h30m'), 5_400_000);
  assert.equal(parseDuration('250ms'), 250);
  for (const bad of ['', '5', '1x', 'm', '1h 30m', '-5s']) assert.equal(parseDuration(bad), undefined, bad);
  for (const ms of [0, 250, 90_000, 5_400_000, 4 * 3_600_000]) assert.equal(parseDuration(formatDuration(ms)), ms);
});

test('runtime handler tables merge over defaults and are validated', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cradle-unit-'));
  try {
    const file = path.join(dir, 'c.toml');
    fs.writeFileSync(file, '[runtime]\ndefault_runtime = "runc"\n[runtime.runtimes.runc]\nruntime_path = "/usr/bin/runc"\n');
    const { config } = loadConfig({ configFile: file, configDir: path.join(dir, 'none') });
    assert.equal(config.runtime.default_runtime, 'runc');
    assert.equal(config.runtime.runtimes.runc!.runtime_path, '/usr/bin/runc');
    assert.equal(config.runtime.runtimes.runc!.runtime_root, '', 'unset keys take handler defaults (empty: under the run root)');
    assert.ok(config.runtime.runtimes.cradle, 'the built-in handler stays');

    fs.writeFileSync(file, '[runtime.runtimes.Bad_Name]\nruntime_path = "/x"\n');
    assert.throws(() => loadConfig({ configFile: file, configDir: dir }), /runtime\.runtimes\.Bad_Name: a runtime handler name must be a DNS label/);
    fs.writeFileSync(file, '[runtime.runtimes.x]\nruntime_path = "relative/runc"\n');
    assert.throws(() => loadConfig({ configFile: file, configDir: dir }), /runtime\.runtimes\.x\.runtime_path: must be an absolute path or empty/);
    fs.writeFileSync(file, '[runtime]\nlog_size_max = 100\n');
    assert.throws(() => loadConfig({ configFile: file, configDir: dir }), /runtime\.log_size_max: must be -1 \(no limit\) or at least 8192/);
    fs.writeFileSync(file, '[runtime]\nlog_size_max = 1048576\n');
    assert.equal(loadConfig({ configFile: file, configDir: dir }).config.runtime.log_size_max, 1048576);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('[runtime] seccomp_use_default_when_empty: off by default, a boolean, also a flag', () => {
  assert.equal(defaultConfig().runtime.seccomp_use_default_when_empty, false, 'no profile means unconfined unless the node opts in');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cradle-unit-'));
  try {
    const file = path.join(dir, 'c.toml');
    fs.writeFileSync(file, '[runtime]\nseccomp_use_default_when_empty = true\n');
    assert.equal(loadConfig({ configFile: file, configDir: dir }).config.runtime.seccomp_use_default_when_empty, true);
    fs.writeFileSync(file, '[runtime]\nseccomp_use_default_when_empty = "yes"\n');
    assert.throws(() => loadConfig({ configFile: file, configDir: dir }), /runtime\.seccomp_use_default_when_empty: .*boolean/);
    const args = parseArgs(['--runtime-seccomp-use-default-when-empty']);
    assert.deepEqual([...args.settings], [['runtime.seccomp_use_default_when_empty', 'true']]);
    fs.rmSync(file);
    assert.equal(loadConfig({ configFile: file, configDir: dir, flags: args.settings }).config.runtime.seccomp_use_default_when_empty, true);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('flags: --key=value, --key value, bare booleans, lists', () => {
  const args = parseArgs(['config', '--log-level=debug', '--image-pinned-images', 'a,b', '--metrics-enable', '--state-root', '/x']);
  assert.equal(args.subcommand, 'config');
  assert.deepEqual([...args.settings], [['log.level', 'debug'], ['image.pinned_images', 'a,b'], ['metrics.enable', 'true'], ['state.root', '/x']]);
  assert.throws(() => parseArgs(['run', 'extra']), /unexpected argument "extra"/);
});

test('docs/config.md is generated from the schema and current', () => {
  const doc = fs.readFileSync(path.resolve(__dirname, '../../../../docs/config.md'), 'utf8');
  assert.equal(doc, renderConfigReference(), 'run `npm run build && npm run docs:config`');
  // and every default appears in it
  for (const [table, values] of Object.entries(defaultConfig())) {
    for (const key of Object.keys(values as object)) {
      if (key !== 'runtimes') assert.ok(doc.includes(`| \`${key}\` | \`--${table}-`), `${table}.${key} documented`);
    }
  }
});

test('children never inherit NODE_* variables', () => {
  const env = cleanChildEnv({ EXTRA: '1' }, { PATH: '/bin', NODE_EXTRA_CA_CERTS: '/x', NODE_OPTIONS: '--inspect', HOME: '/root' });
  assert.deepEqual(env, { PATH: '/bin', HOME: '/root', EXTRA: '1' });
  assert.ok(cleanChildEnv({}, {}).PATH, 'a PATH is always set');
});

test('deploy/cradle.toml and deploy/cni/10-cradle-default.conflist are the current defaults', () => {
  const root = path.resolve(__dirname, '../../../..');
  assert.equal(fs.readFileSync(path.join(root, 'deploy', 'cradle.toml'), 'utf8'), renderDefaultConfigFile(), 'run `npm run build && npm run docs:config`');
  assert.equal(fs.readFileSync(path.join(root, 'deploy', 'cni', '10-cradle-default.conflist'), 'utf8'), JSON.stringify(defaultNetworkConfig({}), null, 2) + '\n');
});
