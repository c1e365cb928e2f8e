// Shared setup for image integration tests: a fixture registry, a fresh store
// root per ImageService, and a registries.conf that marks the test registries
// insecure (they speak plain HTTP on 127.0.0.1).
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ImageService, type ImageServiceOptions } from '../../../src/image/image-service';
import { silentLogger } from '../../../src/common/logger';
import { before, after } from 'node:test';
import { startFixtureRegistry, type FixtureRegistry } from '../../helpers/registry';

export const TMP_PREFIX = 'cradle-test-image-';

/** Removes temp dirs of earlier killed runs (none of ours is older than an hour). */
export function sweepStale(): void {
  for (const name of fs.readdirSync(os.tmpdir())) {
    if (!name.startsWith(TMP_PREFIX)) continue;
    const full = path.join(os.tmpdir(), name);
    try {
      if (Date.now() - fs.statSync(full).mtimeMs > 3600_000) fs.rmSync(full, { recursive: true, force: true });
    } catch {
      // gone
    }
  }
}

export interface TestContextLike {
  after(fn: () => void | Promise<void>): void;
}

export function tempDir(t: TestContextLike): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), TMP_PREFIX));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** registries.conf text marking hosts insecure, plus any extra TOML. */
export function registriesConf(insecureHosts: string[], extra = ''): string {
  // Top-level keys must come before the first [[registry]] table.
  const [topLevel, tables] = splitTopLevel(extra);
  return topLevel + '\n' + insecureHosts.map((host) => `[[registry]]\nlocation = "${host}"\ninsecure = true\n`).join('\n') + '\n' + tables;
}

function splitTopLevel(toml: string): [string, string] {
  const index = toml.search(/^\s*\[/m);
  return index < 0 ? [toml, ''] : [toml.slice(0, index), toml.slice(index)];
}

export interface ServiceSetup {
  dir: string;
  root: string;
  confPath: string;
  options: ImageServiceOptions;
  service: ImageService;
}

/** An ImageService on a fresh root whose registries.conf has `conf`. */
export function newService(t: TestContextLike, conf: string, overrides: Partial<ImageServiceOptions> = {}): ServiceSetup {
  const dir = tempDir(t);
  const confPath = path.join(dir, 'registries.conf');
  fs.writeFileSync(confPath, conf);
  const root = path.join(dir, 'store');
  const options: ImageServiceOptions = {
    root,
    registries: { confPath, confDir: path.join(dir, 'registries.conf.d'), certsDir: path.join(dir, 'certs.d') },
    maxConcurrentDownloads: 3,
    pullProgressTimeoutSec: 30,
    log: silentLogger(),
    ...overrides,
  };
  const service = new ImageService(options);
  t.after(() => service.close());
  return { dir, root, confPath, options, service };
}

/** Committed layer dirs (not the links dir l/, not temp or trash dirs). */
export function layerDirs(root: string): string[] {
  return fs.readdirSync(path.join(root, 'layers')).filter((name) => !name.startsWith('.') && name !== 'l').sort();
}

export function blobs(root: string): string[] {
  const dir = path.join(root, 'blobs', 'sha256');
  return fs.existsSync(dir) ? fs.readdirSync(dir).map((hex) => `sha256:${hex}`).sort() : [];
}

/** One fixture registry for the test file (started before its tests, stopped after); call at top level. */
export function useFixtureRegistry(): () => FixtureRegistry {
  let registry: FixtureRegistry | undefined;
  before(async () => {
    sweepStale();
    registry = await startFixtureRegistry();
  });
  after(async () => {
    await registry?.stop();
  });
  return () => registry!;
}
