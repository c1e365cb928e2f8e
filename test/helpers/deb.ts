// Builds the Debian package from this build's dist/ with scripts/package.js, for the
// package tests (and a newer version of it, for upgrades).
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { cleanChildEnv } from '../../src/common/child-env';

export const REPO_ROOT = path.resolve(__dirname, '../../..');

export function packageVersion(): string {
  return (JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
}

/** Builds cradle_<version>_amd64.deb into dir and returns its path. */
export function buildDeb(dir: string, version = packageVersion()): string {
  // gzip: the tests check contents, not xz's ratio, and gzip is several times faster.
  const built = spawnSync(process.execPath, [path.join(REPO_ROOT, 'scripts/package.js'), '--out', dir, '--compression', 'gzip', '--version', version],
    { cwd: REPO_ROOT, encoding: 'utf8', env: cleanChildEnv() });
  assert.equal(built.status, 0, built.stderr);
  const deb = path.join(dir, `cradle_${version}_amd64.deb`);
  assert.ok(fs.existsSync(deb), built.stdout);
  return deb;
}

/** The package carries no tests, benchmarks, dev dependencies, TypeScript sources or maps. */
export function assertProductionFilesOnly(files: string[]): void {
  for (const f of files) {
    assert.ok(!/\/dist\/(test|bench)\//.test(f), `no tests or benchmarks: ${f}`);
    assert.ok(!/\/node_modules\/(typescript|@types|@kubernetes)\//.test(f), `no dev dependencies: ${f}`);
    assert.ok(!/\.(ts|map)$/.test(f), `no TypeScript sources or maps: ${f}`);
  }
}
