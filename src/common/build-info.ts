// What `cradled version` reports. The git commit and dates are recorded into
// dist/build-info.json at build and package time (scripts/gen-build-info.js): an
// installed package has no .git.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { cradleVersion, packageRoot } from './package-info';

/** Field names follow `crio version --json`; goVersion becomes nodeVersion. */
export interface VersionInfo {
  version: string;
  gitCommit: string;
  gitCommitDate: string;
  gitTreeState: string;
  buildDate: string;
  nodeVersion: string;
  compiler: string;
  platform: string;
  criVersion: string;
}

const GOARCH: Record<string, string> = { x64: 'amd64', arm64: 'arm64', ia32: '386', arm: 'arm' };

export function versionInfo(buildInfoFile = path.join(packageRoot(), 'dist', 'build-info.json')): VersionInfo {
  let recorded: Partial<Record<keyof VersionInfo, unknown>> = {};
  try {
    recorded = JSON.parse(fs.readFileSync(buildInfoFile, 'utf8')) as typeof recorded;
  } catch { /* built without the recording step: report unknown */ }
  const text = (v: unknown): string => (typeof v === 'string' && v !== '' ? v : 'unknown');
  return {
    version: cradleVersion(),
    gitCommit: text(recorded.gitCommit),
    gitCommitDate: text(recorded.gitCommitDate),
    gitTreeState: text(recorded.gitTreeState),
    buildDate: text(recorded.buildDate),
    nodeVersion: process.version,
    compiler: text(recorded.compiler),
    platform: `${process.platform}/${GOARCH[process.arch] ?? process.arch}`,
    criVersion: 'v1',
  };
}

/** The human form, aligned like `crio version`. */
export function formatVersion(info: VersionInfo): string {
  const label = (key: string) => key.charAt(0).toUpperCase() + key.slice(1);
  const width = Math.max(...Object.keys(info).map((k) => k.length)) + 2;
  return Object.entries(info).map(([k, v]) => `${(label(k) + ':').padEnd(width)}${v}`).join('\n') + '\n';
}
