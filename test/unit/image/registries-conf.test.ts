import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadRegistriesConf, parseRegistriesConf, mergeRegistriesConfig, emptyRegistriesConfig, pullSources, resolveName, findRegistry, readHostCertificates } from '../../../src/image/registries-conf';
import { formatReference, parseReference, qualify } from '../../../src/image/reference';
import { errors } from '../../../src/common/errors';

const D = `sha256:${'b'.repeat(64)}`;

function conf(text: string) {
  const warnings: string[] = [];
  const config = mergeRegistriesConfig(emptyRegistriesConfig(), parseRegistriesConf(text, 'test.conf', warnings));
  return { config, warnings };
}

test('v2 [[registry]] tables, mirrors and top-level keys are read; unknown keys are reported', () => {
  const { config, warnings } = conf(`
unqualified-search-registries = ["quay.io", "docker.io"]
short-name-mode = "permissive"
credential-helpers = ["secretservice"]

[[registry]]
prefix = "docker.io/library"
location = "mirror.local/dockerhub"
insecure = true
colour = "blue"

[[registry.mirror]]
location = "m1.local"
pull-from-mirror = "digest-only"
[[registry.mirror]]
location = "m2.local/cache"
insecure = true

[[registry]]
location = "blocked.io"
blocked = true

[aliases]
"fed" = "registry.fedoraproject.org/fedora"
`);
  assert.deepEqual(config.unqualifiedSearchRegistries, ['quay.io', 'docker.io']);
  assert.equal(config.shortNameMode, 'permissive');
  assert.equal(config.registries.length, 2);
  assert.deepEqual(config.registries[0], {
    prefix: 'docker.io/library', location: 'mirror.local/dockerhub', insecure: true, blocked: false, mirrorByDigestOnly: false,
    mirrors: [{ location: 'm1.local', insecure: false, pullFromMirror: 'digest-only' }, { location: 'm2.local/cache', insecure: true, pullFromMirror: 'all' }],
  });
  assert.equal(config.registries[1]!.prefix, 'blocked.io');
  assert.equal(config.aliases.fed, 'registry.fedoraproject.org/fedora');
  assert.deepEqual(warnings, ['test.conf: credential-helpers: not supported by cradle, ignored', 'test.conf: registry[0].colour: not supported by cradle, ignored']);
});

test('bad values and the v1 format are configuration errors naming file and key', () => {
  const cases: [string, RegExp][] = [
    ['short-name-mode = "sometimes"', /short-name-mode/],
    ['[[registry]]\ninsecure = "yes"', /registry\[0\]\.insecure: must be true or false/],
    ['[[registry]]\ninsecure = true', /needs a prefix or a location/],
    ['[[registry]]\nlocation = "https://x.io"', /no scheme/],
    ['[registries.search]\nregistries = ["x"]', /version 1 format/],
    ['[aliases]\n"r.io/x" = "r.io/y"', /short name/],
    ['[aliases]\n"x" = "y"', /fully qualified/],
    ['this is = not toml =', /not valid TOML/],
  ];
  for (const [text, message] of cases) {
    assert.throws(() => conf(text), (err: unknown) => errors.config.is(err) && err.message.startsWith('test.conf') && message.test(err.message), text);
  }
});

test('pull sources: mirrors in order by policy, then the relocated origin; blocked refused', () => {
  const { config } = conf(`
[[registry]]
prefix = "docker.io/library"
location = "cache.local/hub"
mirror-by-digest-only = false
[[registry.mirror]]
location = "m1.local/lib"
[[registry.mirror]]
location = "m2.local/lib"
pull-from-mirror = "digest-only"
[[registry.mirror]]
location = "m3.local/lib"
pull-from-mirror = "tag-only"
[[registry]]
prefix = "*.corp.example"
insecure = true
[[registry]]
location = "evil.io"
blocked = true
`);
  const byTag = pullSources(config, qualify(parseReference('busybox:1')));
  assert.deepEqual(byTag.map((s) => `${s.registry}/${s.repository}`), ['m1.local/lib/busybox', 'm3.local/lib/busybox', 'cache.local/hub/busybox']);
  const byDigest = pullSources(config, qualify(parseReference(`busybox@${D}`)));
  assert.deepEqual(byDigest.map((s) => s.registry), ['m1.local', 'm2.local', 'cache.local']);
  assert.deepEqual(byDigest.map((s) => s.mirror), [true, true, false]);
  const wildcard = pullSources(config, qualify(parseReference('reg.corp.example/team/app:v1')));
  assert.deepEqual(wildcard, [{ registry: 'reg.corp.example', repository: 'team/app', insecure: true, mirror: false }]);
  assert.deepEqual(pullSources(config, qualify(parseReference('quay.io/x:y'))), [{ registry: 'quay.io', repository: 'x', insecure: false, mirror: false }]);
  assert.throws(() => pullSources(config, qualify(parseReference('evil.io/x'))), (err: unknown) => errors.registry.is(err) && /blocked/.test(err.message));
  // Prefix matches whole path components only.
  assert.equal(findRegistry(config, 'docker.io/libraryx/y'), undefined);
});

test('short names: aliases, search registries, enforcing mode, docker.io default', () => {
  const names = (text: string, input: string) => resolveName(conf(text).config, input).candidates.map(formatReference);
  assert.deepEqual(names('', 'busybox'), ['docker.io/library/busybox:latest']);
  assert.deepEqual(names('unqualified-search-registries = ["quay.io", "r.io"]', 'app:v1'), ['quay.io/app:v1', 'r.io/app:v1']);
  assert.deepEqual(names('[aliases]\n"fed" = "registry.fedoraproject.org/fedora"', 'fed:40'), ['registry.fedoraproject.org/fedora:40']);
  assert.deepEqual(names('short-name-mode = "enforcing"\nunqualified-search-registries = ["quay.io"]', 'app'), ['quay.io/app:latest']);
  assert.throws(() => names('short-name-mode = "enforcing"\nunqualified-search-registries = ["quay.io", "r.io"]', 'app'), /ambiguous/);
  assert.throws(() => names('short-name-mode = "enforcing"', 'app'), /fully qualified/);
  assert.deepEqual(names('short-name-mode = "enforcing"', 'quay.io/app'), ['quay.io/app:latest'], 'qualified names are never affected');
});

test('drop-ins are read in lexical order: later files override keys, registries by prefix, aliases by name', (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cradle-test-regconf-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  fs.writeFileSync(path.join(dir, 'main.conf'), 'unqualified-search-registries = ["a.io"]\n[[registry]]\nlocation = "x.io"\ninsecure = true\n[aliases]\n"one" = "a.io/one"\n');
  fs.mkdirSync(path.join(dir, 'd'));
  fs.writeFileSync(path.join(dir, 'd', '20-b.conf'), 'unqualified-search-registries = ["c.io"]\n');
  fs.writeFileSync(path.join(dir, 'd', '10-a.conf'), 'unqualified-search-registries = ["b.io"]\n[[registry]]\nlocation = "x.io"\nblocked = true\n[aliases]\n"two" = "a.io/two"\n');
  fs.writeFileSync(path.join(dir, 'd', 'ignored.txt'), 'garbage');
  const loaded = loadRegistriesConf({ confPath: path.join(dir, 'main.conf'), confDir: path.join(dir, 'd') });
  assert.deepEqual(loaded.files.map((f) => path.basename(f)), ['main.conf', '10-a.conf', '20-b.conf']);
  assert.deepEqual(loaded.config.unqualifiedSearchRegistries, ['c.io']);
  assert.equal(loaded.config.registries.length, 1);
  assert.equal(loaded.config.registries[0]!.blocked, true);
  assert.equal(loaded.config.registries[0]!.insecure, false);
  assert.deepEqual(Object.keys(loaded.config.aliases).sort(), ['one', 'two']);
  const none = loadRegistriesConf({ confPath: path.join(dir, 'missing.conf'), confDir: path.join(dir, 'nope') });
  assert.deepEqual(none.files, []);
});

test('certs.d: CA bundles and client certificate pairs per host', (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cradle-test-certs-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  fs.mkdirSync(path.join(dir, 'r.io:5000'));
  fs.writeFileSync(path.join(dir, 'r.io:5000', 'ca.crt'), 'CA');
  fs.writeFileSync(path.join(dir, 'r.io:5000', 'client.cert'), 'CERT');
  fs.writeFileSync(path.join(dir, 'r.io:5000', 'client.key'), 'KEY');
  const certs = readHostCertificates(dir, 'r.io:5000')!;
  assert.deepEqual(certs.ca.map(String), ['CA']);
  assert.equal(String(certs.cert), 'CERT');
  assert.equal(String(certs.key), 'KEY');
  assert.equal(readHostCertificates(dir, 'other.io'), undefined);
  fs.rmSync(path.join(dir, 'r.io:5000', 'client.key'));
  assert.throws(() => readHostCertificates(dir, 'r.io:5000'), /without its key/);
});
